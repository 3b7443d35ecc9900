//! The listener: one tokio task per connection (HTTP/1.1, keep-alive), a sweeper that expires
//! sessions nobody polls, and a graceful shutdown that answers held polls and waits for every
//! connection to finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use switchboard_core::model::server::ReferenceServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::config::SimConfig;
use super::control::AgentControl;
use super::http;
use super::state::Shared;

/// A running Live Agent simulator. Dropping it aborts its tasks; [`LiveAgentSim::shutdown`]
/// stops it gracefully.
#[derive(Debug)]
pub struct LiveAgentSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Option<(JoinHandle<()>, JoinHandle<()>)>,
}

impl LiveAgentSim {
    /// Binds `config.bind` and starts serving.
    pub async fn start(config: SimConfig) -> std::io::Result<LiveAgentSim> {
        let listener = crate::listen::bind(config.bind)?;
        let addr = listener.local_addr()?;
        let server = ReferenceServer::new(config.knobs, config.seed);
        let shared = Arc::new(Shared::new(server, config.hold));
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        let sweeper = tokio::spawn(sweep(shared.clone(), config.expiry_sweep));
        Ok(LiveAgentSim {
            addr,
            shared,
            tasks: Some((accept, sweeper)),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the host a client puts before `/chat/rest/…`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The agent's side of the simulator.
    pub fn control(&self) -> AgentControl {
        AgentControl {
            shared: self.shared.clone(),
        }
    }

    /// Stops accepting, answers held polls (204), lets in-flight requests finish and closes
    /// every connection; returns when all tasks are done.
    pub async fn shutdown(mut self) {
        self.shared.stopping.send_replace(true);
        if let Some((accept, sweeper)) = self.tasks.take() {
            let _ = accept.await;
            let _ = sweeper.await;
        }
    }
}

impl Drop for LiveAgentSim {
    fn drop(&mut self) {
        if let Some((accept, sweeper)) = self.tasks.take() {
            self.shared.stopping.send_replace(true);
            accept.abort();
            sweeper.abort();
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
                // Out of file descriptors or a connection reset before accept: wait a little
                // rather than spin.
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

async fn sweep(shared: Arc<Shared>, every: Duration) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let any = shared.read(|state| state.server.sessions().next().is_some());
                if any {
                    shared.mutate(|state, now| state.server.expire_idle(now));
                }
            }
            () = shared.stopped() => break,
        }
    }
}
