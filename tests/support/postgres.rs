//! A fresh database per test on the PostgreSQL that `./scripts/test` starts
//! (named by `TIDINGS_TEST_POSTGRES`).

use tokio_postgres::NoTls;

/// The admin URL of the test server.
pub fn server() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES").expect(
        "TIDINGS_TEST_POSTGRES is not set: run ./scripts/test, which starts PostgreSQL on 127.0.0.1",
    )
}

/// Creates an empty database of its own and returns its URL.
pub async fn fresh_database() -> String {
    let admin = server();
    let (client, connection) = tokio_postgres::connect(&admin, NoTls)
        .await
        .expect("connect to the test PostgreSQL");
    tokio::spawn(connection);
    let name = format!("tidings_{:016x}", fastrand::u64(..));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}
