//! The listener: one tokio task per connection (HTTP/1.1, keep-alive), a routing ticker that
//! runs the model's timed work when it falls due, and a graceful shutdown that ends every
//! stream and waits for the connections to finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::agent::EnhancedAgent;
use super::config::EnhancedSimConfig;
use super::http;
use super::state::Shared;

/// A running Enhanced Chat simulator. Dropping it aborts its tasks;
/// [`EnhancedChatSim::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct EnhancedChatSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Option<(JoinHandle<()>, JoinHandle<()>)>,
}

impl EnhancedChatSim {
    /// Binds `config.bind` and starts serving.
    pub async fn start(config: EnhancedSimConfig) -> std::io::Result<EnhancedChatSim> {
        let listener = crate::listen::bind(config.bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        let ticker = tokio::spawn(tick(shared.clone()));
        Ok(EnhancedChatSim {
            addr,
            shared,
            tasks: Some((accept, ticker)),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the SCRT URL a client puts before `/iamessage/api/v2/…` and
    /// `/eventrouter/v1/sse`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The agent's (and the operator's) side of the simulator.
    pub fn agent(&self) -> EnhancedAgent {
        EnhancedAgent {
            shared: self.shared.clone(),
        }
    }

    /// Stops accepting, ends every stream, lets in-flight requests finish; returns when all
    /// tasks are done.
    pub async fn shutdown(mut self) {
        self.shared.stopping.send_replace(true);
        if let Some((accept, ticker)) = self.tasks.take() {
            let _ = accept.await;
            let _ = ticker.await;
        }
    }
}

impl Drop for EnhancedChatSim {
    fn drop(&mut self) {
        if let Some((accept, ticker)) = self.tasks.take() {
            self.shared.stopping.send_replace(true);
            accept.abort();
            ticker.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, shared.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            () = shared.stopped() => break,
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let signals = shared.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(http::serve(shared, request).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = signals.stopped() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Runs the model's timed work (routing after its delay) when it falls due. It re-reads the
/// deadline after every change, since a request or a clock skip can move it.
async fn tick(shared: Arc<Shared>) {
    let mut changes = shared.changes.subscribe();
    loop {
        let deadline = shared.read(|state| state.server.next_deadline());
        let now = shared.clock.now();
        if deadline.is_some_and(|due| due <= now) {
            shared.mutate(|state, now| state.server.advance(now));
            continue;
        }
        let wait = deadline.map_or(Duration::from_secs(3600), |due| due.saturating_since(now));
        tokio::select! {
            _ = changes.changed() => {}
            () = tokio::time::sleep(wait) => {}
            () = shared.stopped() => break,
        }
    }
}
