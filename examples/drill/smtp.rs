//! A minimal SMTP server on 127.0.0.1 for the drill: accepts every message
//! and keeps it. (The test suite uses a full server, aiosmtpd.)

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Messages received, raw.
pub(crate) type Inbox = Arc<Mutex<Vec<String>>>;

/// Starts the server on an ephemeral port; returns the port and the inbox.
pub(crate) async fn spawn() -> std::io::Result<(u16, Inbox)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let inbox: Inbox = Arc::default();
    let shared = inbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let inbox = shared.clone();
            tokio::spawn(async move {
                let _ = session(stream, inbox).await;
            });
        }
    });
    Ok((port, inbox))
}

async fn session(stream: tokio::net::TcpStream, inbox: Inbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 drill.localhost ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-drill.localhost\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    message.push_str(l.strip_prefix('.').unwrap_or(&l));
                    message.push('\n');
                }
                inbox
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(message);
                b"250 OK: queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
