//! How each transport failure is classified, against real servers on
//! 127.0.0.1 whose misbehaviour is written by hand (no mock of the HTTP
//! client): what was sent decides between "nothing sent, retry" (transient),
//! "fix the configuration" (config) and "the receiver may have it" (outcome
//! unknown). Every error is checked for the endpoint's secrets.
#![cfg(feature = "webhook")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::webhook::WebhookChannel;
use tidings::channel::{Channel, ChannelError, Delivery, Receipt};
use tidings::journal::Failure;
use tidings::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The endpoint's path and query: secrets, as in real webhook URLs.
const SECRET_PATH: &str = "/hooks/T0KEN-s3cr3t?key=QK3Y-s3cr3t";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";
/// The channel's timeout: short, the tests do real I/O on loopback.
const TIMEOUT: Duration = Duration::from_millis(300);

/// Asserts that nothing of the endpoint's secrets shows in the error.
fn assert_no_secret(err: &ChannelError) {
    for shown in [err.to_string(), format!("{err:?}")] {
        for secret in ["T0KEN", "s3cr3t", "QK3Y", "MfKQ9r8"] {
            assert!(!shown.contains(secret), "{secret} shows in {shown}");
        }
    }
}

fn channel(url: &str) -> WebhookChannel {
    WebhookChannel::builder()
        .endpoint("bridge", url, SECRET)
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap()
}

fn http_url(addr: SocketAddr) -> String {
    format!("http://{addr}{SECRET_PATH}")
}

fn https_url(addr: SocketAddr) -> String {
    format!("https://{addr}{SECRET_PATH}")
}

/// A delivery to the endpoint "bridge" whose text is `text`.
fn delivery_with(text: String) -> Delivery {
    let (inc, update) = incident();
    let msg = tidings::render::Templates::new()
        .render(&inc, &update, &Audience::Customers, Detail::Public)
        .unwrap();
    Delivery::new(
        "hooks",
        Arc::new(inc),
        Arc::new(update),
        Audience::Customers,
        Detail::Public,
        target("bridge"),
        Arc::new(msg),
        text,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

fn delivery() -> Delivery {
    delivery_with(format!("text {PERMALINK}"))
}

/// Sends one delivery to `url` through the webhook channel.
async fn send(url: &str) -> Result<Receipt, ChannelError> {
    channel(url).send(&delivery()).await
}

/// Sends one delivery to `url`; it must fail, without showing a secret.
async fn send_err(url: &str) -> ChannelError {
    let err = send(url).await.unwrap_err();
    assert_no_secret(&err);
    err
}

fn assert_transient(err: &ChannelError) {
    assert!(matches!(err, ChannelError::Transient { .. }), "{err:?}");
    assert!(err.is_retryable() && !err.is_outcome_unknown(), "{err:?}");
}

fn assert_connection_lost(err: &ChannelError) {
    assert!(
        matches!(err, ChannelError::ConnectionLost { .. }),
        "{err:?}"
    );
    assert!(err.is_outcome_unknown(), "{err:?}");
}

fn assert_config(err: &ChannelError) {
    assert!(matches!(err, ChannelError::Config { .. }), "{err:?}");
    assert!(!err.is_retryable() && !err.is_outcome_unknown(), "{err:?}");
}

/// A server on 127.0.0.1 that runs `behaviour` on every connection it
/// accepts, until dropped.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start<F, Fut>(behaviour: F) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), behaviour)
    }

    fn on<F, Fut>(listener: TcpListener, behaviour: F) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                // A failure of the hand-written behaviour only ends its connection.
                tokio::spawn(behaviour(stream));
            }
        });
        Server {
            addr,
            accepted,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Reads a request's head (through the blank line); returns it and the body
/// bytes read with it.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), body));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// Reads a whole request: head and body.
async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<(String, Vec<u8>)> {
    let (head, mut body) = read_head(stream).await?;
    let len = content_length(&head);
    let mut chunk = [0u8; 16 * 1024];
    while body.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

/// Closes the connection with a reset (RST), not a FIN: linger zero.
fn reset(stream: TcpStream) -> io::Result<()> {
    stream.set_zero_linger()?;
    drop(stream);
    Ok(())
}

/// Writes `bytes` one at a time, `every` apart, for at most `for_at_most`.
async fn drip(
    stream: &mut (impl AsyncWrite + Unpin),
    bytes: &[u8],
    every: Duration,
    for_at_most: Duration,
) -> io::Result<()> {
    let until = Instant::now() + for_at_most;
    for byte in bytes {
        if Instant::now() >= until {
            break;
        }
        stream.write_all(std::slice::from_ref(byte)).await?;
        stream.flush().await?;
        tokio::time::sleep(every).await;
    }
    Ok(())
}

// ---- Connecting: nothing was sent. ----

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = send_err(&http_url(addr)).await;
    assert_transient(&err);
    assert!(err.to_string().contains("connection failed"), "{err}");
}

#[tokio::test]
async fn a_reset_during_the_tls_handshake_is_transient() {
    // The server resets at once: the TLS handshake, part of connecting, fails
    // on the reset, before any byte of the request could be written.
    let server = Server::start(|stream| async move { reset(stream) }).await;
    let err = send_err(&https_url(server.addr)).await;
    assert_transient(&err);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_connect_that_times_out_is_transient() {
    // A listener whose accept queue is full: Linux drops further SYNs, so
    // connecting hangs until the connect timeout (half the channel's timeout).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..4 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            _ => break,
        }
    }
    let err = send_err(&http_url(addr)).await;
    assert_transient(&err);
    // The connect timeout fired, not the request's: nothing was sent.
    assert!(err.to_string().contains("connecting timed out"), "{err}");
    drop(listener);
}

// ---- Connected: the request (or part of it) may have arrived. ----

#[tokio::test]
async fn a_reset_before_reading_anything_is_outcome_unknown() {
    // The request's bytes reach the server's socket; the server resets
    // without reading them. From the client, this cannot be told from a
    // server that read the request and then failed.
    let server = Server::start(|stream| async move {
        let mut first = [0u8; 1];
        stream.peek(&mut first).await?;
        reset(stream)
    })
    .await;
    let err = send_err(&http_url(server.addr)).await;
    assert_connection_lost(&err);
}

#[tokio::test]
async fn a_reset_as_soon_as_accepted_is_transient_only_if_nothing_was_written() {
    // The server resets as soon as it accepts: a race with the client's
    // write. Transient only where hyper says it never started writing the
    // request; otherwise, the bytes may be in the server's socket: outcome
    // unknown (also when hyper cannot tell, on the safe side).
    let server = Server::start(|stream| async move { reset(stream) }).await;
    for _ in 0..10 {
        let err = send_err(&http_url(server.addr)).await;
        match &err {
            ChannelError::Transient { reason, .. } => {
                assert!(reason.contains("before the request was sent"), "{err}");
                assert_transient(&err);
            }
            _ => assert_connection_lost(&err),
        }
    }
}

#[tokio::test]
async fn a_reset_after_reading_the_request_is_outcome_unknown() {
    let server = Server::start(|mut stream| async move {
        read_request(&mut stream).await?;
        reset(stream)
    })
    .await;
    let err = send_err(&http_url(server.addr)).await;
    assert_connection_lost(&err);
}

#[tokio::test]
async fn a_reset_mid_body_is_outcome_unknown() {
    // A body far larger than the sockets' buffers: the client is still
    // writing it when the server, having read the head and a few bytes of
    // the body, resets.
    let got = Arc::new(AtomicUsize::new(0));
    let seen = got.clone();
    let server = Server::start(move |mut stream| {
        let seen = seen.clone();
        async move {
            let (head, body) = read_head(&mut stream).await?;
            let mut more = [0u8; 64];
            let n = stream.read(&mut more).await?;
            seen.store(body.len() + n, Ordering::SeqCst);
            assert!(content_length(&head) > 16 * 1024 * 1024);
            reset(stream)
        }
    })
    .await;
    let text = format!("{} {PERMALINK}", "x".repeat(32 * 1024 * 1024));
    let err = channel(&http_url(server.addr))
        .send(&delivery_with(text))
        .await
        .unwrap_err();
    assert_no_secret(&err);
    assert_connection_lost(&err);
    assert!(
        got.load(Ordering::SeqCst) > 0,
        "the server read part of the body"
    );
}

#[tokio::test]
async fn a_close_before_the_answer_is_outcome_unknown() {
    // The server reads the request and closes (FIN) without answering.
    let server = Server::start(|mut stream| async move {
        read_request(&mut stream).await?;
        stream.shutdown().await
    })
    .await;
    let err = send_err(&http_url(server.addr)).await;
    assert_connection_lost(&err);
}

#[tokio::test]
async fn no_answer_is_a_timeout() {
    let server = Server::start(|mut stream| async move {
        read_request(&mut stream).await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    })
    .await;
    let started = Instant::now();
    let err = send_err(&http_url(server.addr)).await;
    assert_eq!(err, ChannelError::Timeout { after: TIMEOUT });
    assert!(err.is_outcome_unknown());
    // Bounded by the timeout, not by the server (which answers after 5 s).
    let took = started.elapsed();
    assert!(took >= TIMEOUT && took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test]
async fn an_answer_dripped_past_the_timeout_is_a_timeout() {
    // The status line, then the headers a byte every 100 ms: the answer is
    // not known when the timeout fires.
    let server = Server::start(|mut stream| async move {
        read_request(&mut stream).await?;
        stream.write_all(b"HTTP/1.1 200 OK\r\n").await?;
        let headers = format!("x-drip: {}\r\ncontent-length: 0\r\n\r\n", "a".repeat(40));
        drip(
            &mut stream,
            headers.as_bytes(),
            Duration::from_millis(100),
            Duration::from_secs(3),
        )
        .await
    })
    .await;
    let err = send_err(&http_url(server.addr)).await;
    assert_eq!(err, ChannelError::Timeout { after: TIMEOUT });
    assert!(err.is_outcome_unknown());
}

#[tokio::test]
async fn a_2xx_whose_body_drips_is_sent_without_waiting_for_the_body() {
    // The status line says the receiver took the message; the webhook never
    // reads the body, so a body dripped past the timeout changes nothing.
    let server = Server::start(|mut stream| async move {
        read_request(&mut stream).await?;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n")
            .await?;
        drip(
            &mut stream,
            &[b'a'; 40],
            Duration::from_millis(100),
            Duration::from_secs(3),
        )
        .await
    })
    .await;
    let started = Instant::now();
    let receipt = send(&http_url(server.addr)).await.unwrap();
    assert_eq!(receipt.status, Some(200));
    // Returned on the status line, long before the body's 3 s drip ends.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

// ---- Answers. ----

/// A server that reads each request and answers with `head` (status line
/// and headers, without the blank line) and an empty body.
async fn answering(head: &'static str) -> Server {
    Server::start(move |mut stream| async move {
        read_request(&mut stream).await?;
        let answer = format!("{head}\r\ncontent-length: 0\r\n\r\n");
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await
}

#[tokio::test]
async fn answers_map_to_what_to_do_next() {
    let server = answering("HTTP/1.1 503 Service Unavailable").await;
    let err = send_err(&http_url(server.addr)).await;
    assert_transient(&err);
    assert_eq!(err.status(), Some(503));

    let server = answering("HTTP/1.1 429 Too Many Requests\r\nretry-after: 7").await;
    let err = send_err(&http_url(server.addr)).await;
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );

    let server = answering("HTTP/1.1 404 Not Found").await;
    let err = send_err(&http_url(server.addr)).await;
    assert!(
        matches!(
            err,
            ChannelError::Rejected {
                status: Some(404),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

// ---- Configuration: fix it, do not retry. ----

/// A TLS server for 127.0.0.1 with a self-signed certificate made now;
/// returns it and the certificate (DER).
async fn tls_server() -> (Server, Vec<u8>) {
    use tokio_rustls::rustls;
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_der = key.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der.clone()], key_der)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let server = Server::start(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let mut tls = acceptor.accept(stream).await?;
            read_request(&mut tls).await?;
            tls.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await?;
            tls.shutdown().await
        }
    })
    .await;
    (server, cert_der.to_vec())
}

#[tokio::test]
async fn a_certificate_that_is_not_trusted_is_config_and_not_retried() {
    let (server, cert) = tls_server().await;
    let url = https_url(server.addr);

    // The server works for a client that trusts its certificate: what fails
    // below is the trust, nothing else.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert.clone()))
        .unwrap();
    #[cfg(feature = "tls-aws-lc")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "tls-aws-lc"))]
    let provider = rustls::crypto::ring::default_provider();
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let trusting = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let trusted = WebhookChannel::builder()
        .endpoint("bridge", &url, SECRET)
        .http(HttpOptions::new().client(trusting))
        .build()
        .unwrap();
    assert_eq!(trusted.send(&delivery()).await.unwrap().status, Some(204));
    assert_eq!(server.accepted(), 1);

    let d = Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("hooks", Arc::new(channel(&url)))
        .audience(
            AudiencePolicy::new(Audience::Customers).route(Route::new("hooks", [target("bridge")])),
        )
        .retry(
            RetryPolicy::default()
                .max_attempts(5)
                .backoff(Duration::from_millis(10), Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let (delivery, failure) = report.failures().next().expect("a failure");
    assert_eq!(delivery.attempts, 1, "{report:?}");
    let Failure::Channel(err) = failure else {
        panic!("{failure:?}")
    };
    assert_config(err);
    assert_no_secret(err);
    assert!(err.to_string().contains("TLS"), "{err}");
    assert_eq!(server.accepted(), 2, "one handshake, not retried");
}

#[tokio::test]
async fn a_host_name_that_does_not_resolve_is_config() {
    let err = send_err(&format!("https://nowhere.invalid{SECRET_PATH}")).await;
    assert_config(&err);
    assert!(err.to_string().contains("does not resolve"), "{err}");
}
