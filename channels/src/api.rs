//! The HTTP client the adapters share, for a platform's API (`api.weixin.qq.com`,
//! `api.telegram.org`) or a simulator: hyper 1 with the legacy pooled
//! client, rustls for HTTPS, plain HTTP allowed for loopback simulators. Every call has a
//! timeout and a response-size cap; WeChat's JSON `errcode` is read by the callers.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Transport-level failures (the API's own `errcode`s are not errors here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The request could not be built (bad base URL or path).
    #[error("bad request URL: {0}")]
    BadUrl(String),
    /// Connection or protocol failure.
    #[error("transport failure: {0}")]
    Transport(String),
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The answer is larger than allowed.
    #[error("response body exceeds {0} bytes")]
    TooLarge(usize),
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// Status code (WeChat answers 200 even for API errors).
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl ApiResponse {
    /// The `Content-Type` header, lowercased, or empty.
    pub fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    }
}

/// A small HTTP client bound to one API base URL.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_response: usize,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ApiClient {
    /// A client for `base` (e.g. `https://api.weixin.qq.com` or `http://127.0.0.1:PORT`).
    pub fn new(base: &str, timeout: Duration, max_response: usize) -> Result<Self, ApiError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| ApiError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            max_response,
        })
    }

    /// Builds `base + path + ?query` with the query values percent-encoded.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{}", self.base, path);
        if !query.is_empty() {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish();
            url.push('?');
            url.push_str(&encoded);
        }
        url
    }

    /// Performs one request to an absolute URL.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<ApiResponse, ApiError> {
        let mut builder = Request::builder().method(method).uri(url);
        if let Some(ct) = content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| ApiError::BadUrl(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| ApiError::Transport(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, self.max_response)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ApiError::TooLarge(self.max_response)
                    } else {
                        ApiError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(ApiResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ApiError::Timeout(self.timeout))?
    }
}
