//! A fault-injecting HTTP/1.1 proxy between the gateway and one simulator.
//!
//! The gateway is configured with the proxy's address instead of the simulator's. Every request
//! is read whole, shown to the test's *request rule*, forwarded (or not), and the simulator's
//! answer is shown to the *answer rule* before it is passed on (or not). A rule answers with a
//! [`Fault`]:
//!
//! | fault | at the request | at the answer |
//! |---|---|---|
//! | `Pass` | forward it | pass it on |
//! | `Delay(d)` | wait `d`, then forward | wait `d`, then pass it on |
//! | `Reset` | close the connection with a TCP RST; the simulator never sees the request | the simulator acted, its answer is dropped and the connection reset |
//! | `BlackHole` | never forward, never answer | the simulator acted, the answer never comes |
//! | `Garble` | never forward; answer `200` with a body that does not decode | the simulator acted; its body is replaced by one that does not decode, its status kept |
//!
//! A black hole keeps the connection open until the client gives up on it. With
//! [`FaultProxy::set_half_open`] the proxy also parks every new TCP connection: accepted by the
//! kernel, never read, never answered — a server that is up as far as `connect` can tell and
//! does nothing. Closing the connections the proxy holds (`SO_LINGER` 0) sends a RST, which is
//! what a client sees when a middlebox or a restarted server forgets a connection.
//!
//! Rules run on the proxy's task before anything is forwarded, so a rule may also act on the
//! simulator (inject a failover the instant a POST passes, for example).

#![allow(dead_code)] // each test uses its own part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What happens to one request, or to its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: forward the request, pass the answer on.
    Pass,
    /// Wait this long first.
    Delay(Duration),
    /// Reset the client's connection instead.
    Reset,
    /// Never go on: the client waits until it gives up.
    BlackHole,
    /// Answer with [`GARBLED`] for a body: a server that answers but says nothing readable.
    Garble,
}

/// The body a [`Fault::Garble`] answers with: JSON cut short.
pub const GARBLED: &[u8] = b"{\"messages\": [{\"type\": \"ChatMessage\", \"mess";

/// Where a fault was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the simulator saw the request.
    Request,
    /// After the simulator answered.
    Answer,
}

/// A request as the proxy read it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path and query, e.g. `/chat/rest/System/Messages?ack=3`.
    pub path: String,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Seen {
    /// The last path segment without the query: `Messages`, `ChatMessage`, `send`, …
    pub fn resource(&self) -> &str {
        let path = self.path.split('?').next().unwrap_or_default();
        path.rsplit('/').next().unwrap_or_default()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The simulator's answer as the proxy read it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One fault the proxy applied (a `Pass` is not recorded), or a client that went away while
/// the proxy still held its request.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Where.
    pub phase: Phase,
    /// The resource (see [`Seen::resource`]).
    pub resource: String,
    /// What; `None` when the client gave up on a request the proxy was holding.
    pub fault: Option<Fault>,
}

type RequestRule = Arc<dyn Fn(&Seen) -> Fault + Send + Sync>;
type AnswerRule = Arc<dyn Fn(&Seen, &Answer) -> Fault + Send + Sync>;

struct Inner {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    on_request: Mutex<Option<RequestRule>>,
    on_answer: Mutex<Option<AnswerRule>>,
    half_open: Mutex<bool>,
    parked: Mutex<Vec<TcpStream>>,
    log: Mutex<Vec<Applied>>,
    /// `(resource, status)` of every answer the simulator gave, passed on or not.
    answers: Mutex<Vec<(String, u16)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running proxy; dropping it closes every connection it holds.
pub struct FaultProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.inner.upstream)
            .finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 and a free port in front of `upstream` (`http://HOST:PORT`),
    /// passing everything until told otherwise.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            on_request: Mutex::new(None),
            on_answer: Mutex::new(None),
            half_open: Mutex::new(false),
            parked: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            answers: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept(listener, inner.clone()));
        FaultProxy { addr, inner, task }
    }

    /// `http://127.0.0.1:PORT`, to give the gateway instead of the simulator's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Decides the fate of every request from now on (replacing the previous rule).
    pub fn on_request(&self, rule: impl Fn(&Seen) -> Fault + Send + Sync + 'static) {
        *lock(&self.inner.on_request) = Some(Arc::new(rule));
    }

    /// Decides the fate of every answer from now on (replacing the previous rule).
    pub fn on_answer(&self, rule: impl Fn(&Seen, &Answer) -> Fault + Send + Sync + 'static) {
        *lock(&self.inner.on_answer) = Some(Arc::new(rule));
    }

    /// Passes everything again (rules removed, half-open mode off, parked connections reset).
    pub fn heal(&self) {
        *lock(&self.inner.on_request) = None;
        *lock(&self.inner.on_answer) = None;
        self.set_half_open(false);
    }

    /// Half-open on: new connections are parked unread, and every request on a connection
    /// already open is black-holed. Off: parked connections are reset and dropped.
    pub fn set_half_open(&self, on: bool) {
        *lock(&self.inner.half_open) = on;
        if !on {
            lock(&self.inner.parked).clear();
        }
    }

    /// TCP connections parked so far and still held.
    pub fn parked(&self) -> usize {
        lock(&self.inner.parked).len()
    }

    /// Every fault applied so far, in order.
    pub fn applied(&self) -> Vec<Applied> {
        lock(&self.inner.log).clone()
    }

    /// How many times `fault` was applied at `phase` to `resource`.
    pub fn count(&self, phase: Phase, resource: &str, fault: Fault) -> usize {
        self.applied()
            .iter()
            .filter(|a| a.phase == phase && a.resource == resource && a.fault == Some(fault))
            .count()
    }

    /// How many answers to `resource` the simulator gave with `status` (whatever became of
    /// them): the proxy as a wire tap, e.g. for the 503 a held poll gets when its session fails
    /// over, which the simulator's own record shows as held.
    pub fn answered(&self, resource: &str, status: u16) -> usize {
        lock(&self.inner.answers)
            .iter()
            .filter(|(r, s)| r == resource && *s == status)
            .count()
    }

    /// How many requests for `resource` the client gave up on while the proxy held them.
    pub fn abandoned(&self, resource: &str) -> usize {
        self.applied()
            .iter()
            .filter(|a| a.resource == resource && a.fault.is_none())
            .count()
    }
}

async fn accept(listener: TcpListener, inner: Arc<Inner>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Every close by the proxy is a RST, never a FIN.
        let _ = stream.set_zero_linger();
        let _ = stream.set_nodelay(true);
        if *lock(&inner.half_open) {
            lock(&inner.parked).push(stream);
            continue;
        }
        let inner = inner.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| serve(inner.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Why the proxy closes a connection instead of answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

/// Records a client that went away while its request was held.
struct Held {
    inner: Arc<Inner>,
    phase: Phase,
    resource: String,
    done: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.inner.log).push(Applied {
                phase: self.phase,
                resource: std::mem::take(&mut self.resource),
                fault: None,
            });
        }
    }
}

impl Inner {
    fn record(&self, phase: Phase, seen: &Seen, fault: Fault) {
        if fault != Fault::Pass {
            lock(&self.log).push(Applied {
                phase,
                resource: seen.resource().to_owned(),
                fault: Some(fault),
            });
        }
    }

    async fn apply(
        self: &Arc<Self>,
        phase: Phase,
        seen: &Seen,
        fault: Fault,
    ) -> Result<(), Dropped> {
        self.record(phase, seen, fault);
        let mut held = Held {
            inner: self.clone(),
            phase,
            resource: seen.resource().to_owned(),
            done: false,
        };
        let result = match fault {
            Fault::Pass | Fault::Garble => Ok(()),
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Fault::Reset => Err(Dropped),
            Fault::BlackHole => std::future::pending().await,
        };
        held.done = true;
        result
    }
}

async fn serve(
    inner: Arc<Inner>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let seen = Seen {
        method: parts.method.clone(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned()),
        headers: parts.headers.clone(),
        body,
    };
    let request_fault = if *lock(&inner.half_open) {
        Fault::BlackHole
    } else {
        let rule = lock(&inner.on_request).clone();
        rule.map_or(Fault::Pass, |rule| rule(&seen))
    };
    inner.apply(Phase::Request, &seen, request_fault).await?;
    if request_fault == Fault::Garble {
        return Response::builder()
            .status(200)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(GARBLED)))
            .map_err(|_| Dropped);
    }

    let mut forward = Request::builder()
        .method(seen.method.clone())
        .uri(format!("{}{}", inner.upstream, seen.path));
    for (name, value) in &seen.headers {
        let hop = [
            http::header::HOST,
            http::header::CONNECTION,
            http::header::CONTENT_LENGTH,
            http::header::TRANSFER_ENCODING,
        ];
        if !hop.contains(name) {
            forward = forward.header(name, value);
        }
    }
    let forward = forward
        .body(Full::new(seen.body.clone()))
        .map_err(|_| Dropped)?;
    // Held until the simulator answers: a client that gives up meanwhile is recorded.
    let mut held = Held {
        inner: inner.clone(),
        phase: Phase::Answer,
        resource: seen.resource().to_owned(),
        done: false,
    };
    let response = inner.client.request(forward).await.map_err(|_| Dropped)?;
    let (rparts, rbody) = response.into_parts();
    let rbody = rbody.collect().await.map_err(|_| Dropped)?.to_bytes();
    held.done = true;
    let answer = Answer {
        status: rparts.status.as_u16(),
        body: rbody,
    };
    lock(&inner.answers).push((seen.resource().to_owned(), answer.status));
    let answer_fault = if *lock(&inner.half_open) {
        Fault::BlackHole
    } else {
        let rule = lock(&inner.on_answer).clone();
        rule.map_or(Fault::Pass, |rule| rule(&seen, &answer))
    };
    inner.apply(Phase::Answer, &seen, answer_fault).await?;

    let mut response = Response::builder().status(rparts.status);
    for (name, value) in &rparts.headers {
        let hop = [
            http::header::CONNECTION,
            http::header::CONTENT_LENGTH,
            http::header::TRANSFER_ENCODING,
        ];
        if !hop.contains(name) {
            response = response.header(name, value);
        }
    }
    let body = match answer_fault {
        Fault::Garble => Bytes::from_static(GARBLED),
        _ => answer.body,
    };
    response.body(Full::new(body)).map_err(|_| Dropped)
}

/// Counts matching requests and answers `fault` for the first `n`, `Pass` after: a helper for
/// "the next n of these" rules.
#[derive(Debug)]
pub struct FirstN {
    left: Mutex<usize>,
}

impl FirstN {
    /// `n` left.
    pub fn new(n: usize) -> FirstN {
        FirstN {
            left: Mutex::new(n),
        }
    }

    /// True (and one fewer left) while any are left.
    pub fn take(&self) -> bool {
        let mut left = lock(&self.left);
        if *left > 0 {
            *left -= 1;
            true
        } else {
            false
        }
    }

    /// How many are left.
    pub fn left(&self) -> usize {
        *lock(&self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(url: &str) -> Result<(u16, String), String> {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let response = client
            .request(
                Request::get(url)
                    .body(Full::new(Bytes::new()))
                    .map_err(|e| e.to_string())?,
            )
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// An upstream that counts requests and answers `n` (the count so far).
    async fn upstream() -> (String, Arc<Mutex<usize>>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(0usize));
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_req: Request<Incoming>| {
                        let counter = counter.clone();
                        async move {
                            let n = {
                                let mut hits = lock(&counter);
                                *hits += 1;
                                *hits
                            };
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                                n.to_string(),
                            ))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (format!("http://{addr}"), hits)
    }

    #[tokio::test]
    async fn the_proxy_passes_resets_and_black_holes_as_its_rules_say() {
        let (url, hits) = upstream().await;
        let proxy = FaultProxy::start(&url).await;
        let base = proxy.url();
        assert_eq!(get(&format!("{base}/a")).await, Ok((200, "1".into())));

        // Reset before forwarding: the upstream never sees it.
        let once = Arc::new(FirstN::new(1));
        let rule = once.clone();
        proxy.on_request(move |_| {
            if rule.take() {
                Fault::Reset
            } else {
                Fault::Pass
            }
        });
        assert!(get(&format!("{base}/b")).await.is_err());
        assert_eq!(*lock(&hits), 1);

        // Reset after the upstream answered: it acted, the client got nothing.
        proxy.on_answer(|seen, _| {
            if seen.resource() == "c" {
                Fault::Reset
            } else {
                Fault::Pass
            }
        });
        assert!(get(&format!("{base}/c")).await.is_err());
        assert_eq!(*lock(&hits), 2);
        assert_eq!(proxy.count(Phase::Answer, "c", Fault::Reset), 1);

        // A black hole: no answer until the client gives up; then it is recorded as abandoned.
        proxy.on_request(|seen| {
            if seen.resource() == "d" {
                Fault::BlackHole
            } else {
                Fault::Pass
            }
        });
        let waited =
            tokio::time::timeout(Duration::from_millis(300), get(&format!("{base}/d"))).await;
        assert!(waited.is_err(), "a black hole never answers");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while proxy.abandoned("d") == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the give-up is seen"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Half-open: the TCP connection is accepted and nothing more happens.
        proxy.heal();
        proxy.set_half_open(true);
        let waited =
            tokio::time::timeout(Duration::from_millis(300), get(&format!("{base}/e"))).await;
        assert!(waited.is_err(), "a parked connection never answers");
        assert_eq!(proxy.parked(), 1);
        proxy.set_half_open(false);
        assert_eq!(get(&format!("{base}/f")).await, Ok((200, "3".into())));
    }
}
