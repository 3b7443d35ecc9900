//! The HTTP client for the Live Agent visitor API: one pooled hyper client for every session
//! ([`crate::desk_http`]), HTTPS for real orgs and plain HTTP for the simulator. It performs a
//! [`LiveAgentRequest`] and reports the status and body, or a [`TransportFailure`].

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use switchboard_core::liveagent::LiveAgentRequest;
use switchboard_core::session::TransportFailure;
use thiserror::Error;

use crate::desk_http::{self, DeskHttp};

/// Largest response body accepted (Messages batches are a few KiB).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The configured endpoint is unusable.
#[derive(Debug, Clone, Error)]
pub enum EndpointError {
    /// Not `http://host[:port]` or `https://host[:port]`.
    #[error("Live Agent endpoint {0:?} must look like https://host or http://host:port")]
    Malformed(String),
}

/// Where the visitor API lives: scheme and authority, e.g. `https://d.la1-c2-frf.salesforceliveagent.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
}

impl Endpoint {
    /// Parses `https://host` (a trailing `/chat/rest/` as copied from Setup is accepted).
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let trimmed = url.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/chat/rest").unwrap_or(trimmed);
        let authority = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .ok_or_else(|| EndpointError::Malformed(url.to_owned()))?;
        if authority.is_empty() || authority.contains('/') || authority.contains(' ') {
            return Err(EndpointError::Malformed(url.to_owned()));
        }
        Ok(Endpoint {
            base: trimmed.to_owned(),
        })
    }

    /// `scheme://authority`.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// A pooled client shared by every session driver.
#[derive(Debug, Clone)]
pub struct LiveAgentClient {
    endpoint: Endpoint,
    http: DeskHttp,
}

impl LiveAgentClient {
    /// A client for `endpoint` ([`crate::desk_http::client`]).
    pub fn new(endpoint: Endpoint) -> LiveAgentClient {
        LiveAgentClient {
            endpoint,
            http: desk_http::client(),
        }
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Performs one request within `timeout`.
    pub async fn perform(
        &self,
        request: &LiveAgentRequest,
        timeout: Duration,
    ) -> Result<(u16, String), TransportFailure> {
        match tokio::time::timeout(timeout, self.send(request)).await {
            Ok(result) => result,
            Err(_) => Err(TransportFailure::TimedOut),
        }
    }

    async fn send(&self, request: &LiveAgentRequest) -> Result<(u16, String), TransportFailure> {
        let uri = format!("{}{}", self.endpoint.base, request.path_and_query());
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(uri)
            .header(http::header::ACCEPT, "application/json; charset=utf-8");
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = match &request.body {
            Some(json) => {
                builder = builder.header(
                    http::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                );
                Full::new(Bytes::from(json.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        let http_request = builder.body(body).map_err(|_| TransportFailure::Connect)?;
        let response = self.http.request(http_request).await.map_err(|e| {
            if e.is_connect() {
                TransportFailure::Connect
            } else {
                TransportFailure::Reset
            }
        })?;
        let status = response.status().as_u16();
        let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|_| TransportFailure::Reset)?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_chat_api_endpoint_as_copied_from_setup() {
        let e = Endpoint::parse("https://d.la1-c2-frf.salesforceliveagent.com/chat/rest/").unwrap();
        assert_eq!(e.base(), "https://d.la1-c2-frf.salesforceliveagent.com");
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:8080").unwrap().base(),
            "http://127.0.0.1:8080"
        );
        assert!(Endpoint::parse("d.la1.salesforceliveagent.com").is_err());
        assert!(Endpoint::parse("https://host/other/path").is_err());
    }
}
