//! A small hyper HTTP/1.1 server: accept loop, one task per connection, body size cap, the
//! [`ListenerLimits`] (timeouts and a bound on connections), and a graceful stop that waits for
//! the connections it opened.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tracing::debug;

use super::limits::{ConnectionCounters, Expired, ListenerLimits};
use super::watchdog::{Activity, Watched};

/// Largest request body read (webhooks are a few KiB; WeChat caps pushes far below this).
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// A request with its body read.
#[derive(Debug)]
pub struct Request {
    /// Method, URI, headers.
    pub parts: http::request::Parts,
    /// The body.
    pub body: Bytes,
}

/// Builds a plain response.
pub fn respond(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(body.into()));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// Serves `handler` on `listener` within `limits` until `stop` turns true; then lets open
/// connections finish the request they are on (up to 5 s) and closes them, so nothing keeps
/// running after.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: ListenerLimits,
    counters: Arc<ConnectionCounters>,
    handler: H,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, typically: wait for some to be closed rather than
                    // spin on an accept that keeps failing.
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = stop.changed() => break,
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            // Full: closed at once, so the file goes back before anyone can hold it.
            counters.refused();
            drop(stream);
            continue;
        };
        let open = counters.opened();
        let (handler, counters, stop) = (handler.clone(), counters.clone(), stop.clone());
        connections.spawn(async move {
            let _open = open;
            connection(stream, peer, limits, counters.clone(), handler, stop).await;
            drop(place);
        });
    }
    let drained = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

async fn connection<H, F>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    limits: ListenerLimits,
    counters: Arc<ConnectionCounters>,
    handler: Arc<H>,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    let activity = Activity::new();
    let service = {
        let (activity, counters) = (activity.clone(), counters.clone());
        service_fn(move |request: http::Request<Incoming>| {
            let (handler, activity, counters) =
                (handler.clone(), activity.clone(), counters.clone());
            activity.serving();
            async move {
                let (parts, body) = request.into_parts();
                let body = Limited::new(body, MAX_REQUEST_BODY).collect();
                let response = match tokio::time::timeout(limits.body_timeout, body).await {
                    Ok(Ok(collected)) => {
                        handler(Request {
                            parts,
                            body: collected.to_bytes(),
                        })
                        .await
                    }
                    Ok(Err(_)) => {
                        respond(413, "text/plain; charset=utf-8", "request body too large")
                    }
                    Err(_) => {
                        counters.expired(Expired::Body);
                        let mut response =
                            respond(408, "text/plain; charset=utf-8", "request body too slow\n");
                        response.headers_mut().insert(
                            http::header::CONNECTION,
                            http::HeaderValue::from_static("close"),
                        );
                        response
                    }
                };
                activity.answered();
                Ok::<_, Infallible>(response)
            }
        })
    };
    let io = TokioIo::new(Watched::new(stream, activity.clone()));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    let result = loop {
        let deadline = activity.deadline(&limits);
        let expiry = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => break result,
            () = activity.changed() => {}
            () = expiry => {
                // Unless the phase moved on meanwhile, the client is too slow: the connection
                // is dropped, which closes it.
                let now = tokio::time::Instant::now();
                if let Some((at, which)) = activity.deadline(&limits)
                    && at <= now
                {
                    counters.expired(which);
                    debug!(%peer, ?which, "connection closed: client too slow");
                    return;
                }
            }
            _ = stop.changed() => {
                // Finish the request in progress, then close.
                conn.as_mut().graceful_shutdown();
                break conn.await;
            }
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const LIMITS: ListenerLimits = ListenerLimits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(500),
        max_connections: 4,
    };

    async fn server() -> (SocketAddr, Arc<ConnectionCounters>, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(ConnectionCounters::default());
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve(
            listener,
            LIMITS,
            counters.clone(),
            |_request| async { respond(200, "text/plain", "success") },
            stopped,
        ));
        (addr, counters, stop)
    }

    /// Everything the server writes until it closes the connection, and when it closed.
    async fn read_to_close(stream: &mut tokio::net::TcpStream) -> (String, Duration) {
        let started = tokio::time::Instant::now();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
        (
            String::from_utf8_lossy(&out).into_owned(),
            started.elapsed(),
        )
    }

    #[tokio::test]
    async fn a_body_that_stops_short_is_answered_408_after_the_body_timeout() {
        let (addr, counters, _stop) = server().await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .unwrap();
        let (answer, took) = read_to_close(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            took >= LIMITS.body_timeout && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(counters.expired_total(Expired::Body), 1);
    }

    #[tokio::test]
    async fn a_kept_alive_connection_is_closed_after_the_idle_timeout() {
        let (addr, counters, _stop) = server().await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (answer, took) = read_to_close(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // Idle after the answer: the idle timeout applies, not the shorter header timeout.
        assert!(
            took >= LIMITS.idle_timeout && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(counters.expired_total(Expired::Idle), 1);
        assert_eq!(counters.expired_total(Expired::Header), 0);
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
        let (addr, counters, _stop) = server().await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (answer, took) = read_to_close(&mut stream).await;
        assert_eq!(answer, "");
        assert!(
            took >= LIMITS.header_timeout && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(counters.expired_total(Expired::Header), 1);
        assert_eq!(counters.open(), 0);
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_are_closed_at_once() {
        let (addr, counters, _stop) = server().await;
        let mut held = Vec::new();
        for _ in 0..LIMITS.max_connections {
            held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (answer, took) = read_to_close(&mut extra).await;
        assert_eq!(answer, "");
        assert!(took < LIMITS.header_timeout, "{took:?}");
        assert_eq!(counters.refused_total(), 1);
        assert_eq!(counters.open(), LIMITS.max_connections as u64);
    }
}
