//! A minimal webhook receiver on 127.0.0.1: verifies Standard Webhooks
//! signatures (when given a secret) and counts what it received. Shared by the
//! drill example and the dispatch benchmark.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tidings::channel::webhook::{WebhookSecret, verify_headers};
use tokio::net::TcpListener;

/// What the receiver saw.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Requests received.
    pub(crate) received: AtomicU64,
    /// Requests whose signature verified.
    pub(crate) verified: AtomicU64,
    /// Requests refused (bad signature).
    pub(crate) refused: AtomicU64,
    /// Requests answered 429 on purpose.
    pub(crate) throttled: AtomicU64,
}

impl Stats {
    /// A counter's value.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Starts the receiver on an ephemeral loopback port. With `secret`, every
/// request's signature is verified first (401 if it fails); with
/// `throttle_first`, the very first request is then answered
/// `429 Retry-After: 1`.
pub(crate) async fn spawn(
    secret: Option<WebhookSecret>,
    throttle_first: bool,
) -> std::io::Result<(SocketAddr, Arc<Stats>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats::default());
    let shared = (Arc::new(secret), stats.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (secret, stats) = shared.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let (secret, stats) = (secret.clone(), stats.clone());
                async move { Ok::<_, Infallible>(handle(req, &secret, &stats, throttle_first).await) }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, stats))
}

async fn handle(
    req: Request<Incoming>,
    secret: &Option<WebhookSecret>,
    stats: &Stats,
    throttle_first: bool,
) -> Response<Empty<Bytes>> {
    let n = stats.received.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return status(StatusCode::BAD_REQUEST);
    };
    if let Some(secret) = secret {
        if verify_headers(secret, &parts.headers, &body).is_err() {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            return status(StatusCode::UNAUTHORIZED);
        }
        stats.verified.fetch_add(1, Ordering::Relaxed);
    }
    if throttle_first && n == 0 {
        stats.throttled.fetch_add(1, Ordering::Relaxed);
        let mut response = status(StatusCode::TOO_MANY_REQUESTS);
        response
            .headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        return response;
    }
    status(StatusCode::NO_CONTENT)
}

fn status(code: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    response
}
