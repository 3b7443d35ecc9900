//! The HTTP client under both agent-desk clients: hyper's pooled HTTP/1.1 client, HTTPS
//! (rustls, webpki roots) for real orgs and plain HTTP for the simulators. Per connection it
//! reads [`READ_BUFFER`] bytes at a time, since every chat keeps one connection waiting.
//!
//! Every chat holds one connection open for its long poll or event stream, so the pool has no
//! cap on connections in use; what it caps is connections kept *idle*. A burst (thousands of
//! chats requesting at once, each then settling into one poll) leaves behind as many idle
//! connections as its peak, and each is an open file for a minute: at 19,000 chats under a
//! 20,000-file limit those left the process without descriptors (the benchmark could no longer
//! open `/proc/self/status`). Beyond [`MAX_IDLE`] a finished connection is closed instead.
//!
//! Closing is not free either: each close leaves the local port in `TIME_WAIT` for a minute,
//! and one desk host offers a client about 28,000 ports (Linux's default range), so a burst
//! that closes thousands of connections makes new connects fail for a while; the sessions
//! retry with their backoff. (Holding the burst's short requests to 256 at a time was tried
//! and made a 19,000-chat set-up far slower: 13,327 polling after 600 s instead of all in 62 s;
//! a cap of 64 idle instead of 1,024 held all 19,000 too, with as many retries.)
//!
//! Connections are [`DeskStream`]s, whose TLS state is boxed (see [`stream`]).

mod stream;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
pub use stream::{DeskConnector, DeskStream};

/// Idle connections kept for reuse, per desk host.
pub const MAX_IDLE: usize = 1024;

/// Bytes read from a desk connection at a time. Hyper's adaptive default starts at 8 KiB and
/// every held long poll keeps its buffer; desk answers are a few KiB, read in pieces if longer.
pub const READ_BUFFER: usize = 2048;

/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A desk client's HTTP client.
pub type DeskHttp = Client<DeskConnector, Full<Bytes>>;

/// A new pooled client (connect timeout 10 s, `TCP_NODELAY`).
pub fn client() -> DeskHttp {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_max_idle_per_host(MAX_IDLE)
        .http1_read_buf_exact_size(READ_BUFFER)
        .build(DeskConnector(connector))
}
