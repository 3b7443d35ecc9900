//! Loopback HTTP plumbing shared by the simulators: a hyper 1 server bound to 127.0.0.1:0 whose
//! accept loop stops when its handle is dropped, and a plain-HTTP client.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

/// Largest request body the simulators read.
pub const MAX_REQUEST: usize = 16 * 1024 * 1024;

/// A request as the simulators see it: fully read.
#[derive(Debug)]
pub struct SimRequest {
    /// Method, URI and headers.
    pub parts: http::request::Parts,
    /// Body bytes.
    pub body: Bytes,
}

/// A running loopback server; stops accepting when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds 127.0.0.1 on a free port and serves `handler` on every connection.
    pub async fn start<H, F>(handler: H) -> std::io::Result<Self>
    where
        H: Fn(SimRequest) -> F + Send + Sync + 'static,
        F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let listener = crate::listen::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let handler = handler.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let response = match Limited::new(body, MAX_REQUEST).collect().await {
                                Ok(b) => {
                                    handler(SimRequest {
                                        parts,
                                        body: b.to_bytes(),
                                    })
                                    .await
                                }
                                Err(_) => Response::builder()
                                    .status(413)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap_or_default(),
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A failed client request.
#[derive(Debug, thiserror::Error)]
#[error("HTTP request failed: {0}")]
pub struct ClientError(pub String);

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Body.
    pub body: Bytes,
}

/// Sends one plain-HTTP request and reads the whole answer.
pub async fn send(
    method: http::Method,
    url: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Answer, ClientError> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut builder = Request::builder().method(method).uri(url);
    if let Some(ct) = content_type {
        builder = builder.header(http::header::CONTENT_TYPE, ct);
    }
    let request = builder
        .body(Full::new(body))
        .map_err(|e| ClientError(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| ClientError(e.to_string()))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| ClientError(e.to_string()))?
        .to_bytes();
    Ok(Answer {
        status,
        content_type,
        body,
    })
}
