//! The HTTP side of Enhanced Chat: one pooled hyper client (HTTPS with rustls for real orgs,
//! plain HTTP for the simulator) performing the machine's REST requests, and one task per
//! event stream that reads `text/event-stream` frames through the core's
//! [`SseParser`] and reports each event as an
//! [`Input`]. No protocol decision is made here.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use switchboard_core::enhanced::chat::{Input, RequestId};
use switchboard_core::enhanced::sse::SseParser;
use switchboard_core::enhanced::wire::{Deployment, EnhancedRequest, Method, SSE_PATH};
use thiserror::Error;
use tokio::sync::mpsc;

use crate::desk_http::{self, DeskHttp};
use crate::identity::IdentitySigner;

/// Largest REST answer accepted (an entries page is a few tens of KiB).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Longest event-stream line (and event) accepted.
const MAX_EVENT: usize = 1024 * 1024;

/// The configured SCRT URL is unusable.
#[derive(Debug, Clone, Error)]
#[error(
    "Enhanced Chat URL {0:?} must look like https://{{MyDomain}}.my.salesforce-scrt.com or http://host:port"
)]
pub struct ScrtUrlError(String);

/// The deployment's SCRT URL: scheme and authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrtUrl {
    base: String,
}

impl ScrtUrl {
    /// Parses `https://host` (a trailing `/` is accepted).
    pub fn parse(url: &str) -> Result<ScrtUrl, ScrtUrlError> {
        let trimmed = url.trim().trim_end_matches('/');
        let authority = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .ok_or_else(|| ScrtUrlError(url.to_owned()))?;
        if authority.is_empty() || authority.contains('/') || authority.contains(' ') {
            return Err(ScrtUrlError(url.to_owned()));
        }
        Ok(ScrtUrl {
            base: trimmed.to_owned(),
        })
    }

    /// `scheme://authority`.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// A pooled client shared by every Enhanced Chat driver.
#[derive(Debug, Clone)]
pub struct EnhancedClient {
    url: ScrtUrl,
    deployment: Deployment,
    identity: Option<Arc<IdentitySigner>>,
    http: DeskHttp,
}

impl EnhancedClient {
    /// A client for the deployment at `url`; `identity` signs verified users' identity tokens.
    pub fn new(
        url: ScrtUrl,
        deployment: Deployment,
        identity: Option<Arc<IdentitySigner>>,
    ) -> EnhancedClient {
        EnhancedClient {
            url,
            deployment,
            identity,
            http: desk_http::client(),
        }
    }

    /// The SCRT URL requests go to.
    pub fn url(&self) -> &ScrtUrl {
        &self.url
    }

    /// Performs one REST request within `timeout`: `Response` with its status and body, or
    /// `Failed` when no answer came (or a verified user's identity token could not be signed).
    pub async fn perform(
        &self,
        id: RequestId,
        request: &EnhancedRequest,
        bearer: Option<&str>,
        timeout: Duration,
    ) -> Input {
        let identity = match (request, &self.identity) {
            (EnhancedRequest::VerifiedToken { subject }, Some(signer)) => {
                match signer.sign(subject, crate::clock::unix_secs()) {
                    Ok(token) => Some(token),
                    Err(e) => {
                        tracing::error!(error = %e, "identity token not signed");
                        return Input::Failed { id };
                    }
                }
            }
            _ => None,
        };
        match tokio::time::timeout(timeout, self.send(request, bearer, identity.as_deref())).await {
            Ok(Some((status, body))) => Input::Response { id, status, body },
            Ok(None) | Err(_) => Input::Failed { id },
        }
    }

    async fn send(
        &self,
        request: &EnhancedRequest,
        bearer: Option<&str>,
        identity: Option<&str>,
    ) -> Option<(u16, String)> {
        let method = match request.method() {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Delete => http::Method::DELETE,
        };
        let uri = format!(
            "{}{}",
            self.url.base,
            request.path_and_query(&self.deployment)
        );
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::ACCEPT, "application/json");
        if let Some(bearer) = bearer {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {bearer}"));
        }
        let body = match request.body(&self.deployment, identity) {
            Some(json) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self.http.request(builder.body(body).ok()?).await.ok()?;
        let status = response.status().as_u16();
        let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .ok()?
            .to_bytes();
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Runs one event-stream connection until it ends, reporting `StreamOpened`, each event,
    /// and `StreamClosed` to `inputs`. Abort the task to close it.
    pub async fn stream(
        &self,
        id: RequestId,
        bearer: String,
        last_event_id: String,
        inputs: mpsc::UnboundedSender<Box<Input>>,
    ) {
        let closed = |status| Input::StreamClosed { id, status };
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(format!("{}{SSE_PATH}", self.url.base))
            .header(http::header::ACCEPT, "text/event-stream")
            .header(http::header::CACHE_CONTROL, "no-cache")
            .header(http::header::AUTHORIZATION, format!("Bearer {bearer}"))
            .header("X-Org-Id", self.deployment.org_id_15())
            .header("Last-Event-Id", last_event_id.as_str())
            .body(Full::new(Bytes::new()));
        let Ok(request) = request else {
            let _ = inputs.send(Box::new(closed(None)));
            return;
        };
        let response = match self.http.request(request).await {
            Ok(response) => response,
            Err(_) => {
                let _ = inputs.send(Box::new(closed(None)));
                return;
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            let _ = inputs.send(Box::new(closed(Some(status))));
            return;
        }
        if inputs.send(Box::new(Input::StreamOpened { id })).is_err() {
            return;
        }
        let mut parser = SseParser::resuming(MAX_EVENT, Some(last_event_id));
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            let Some(data) = frame.data_ref() else {
                continue;
            };
            let Ok(events) = parser.feed(data) else { break };
            for event in events {
                if inputs
                    .send(Box::new(Input::StreamEvent { id, event }))
                    .is_err()
                {
                    return;
                }
            }
        }
        let _ = inputs.send(Box::new(closed(None)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrt_url_is_a_scheme_and_host() {
        let url = ScrtUrl::parse("https://acme.my.salesforce-scrt.com/").unwrap();
        assert_eq!(url.base(), "https://acme.my.salesforce-scrt.com");
        assert!(ScrtUrl::parse("acme.my.salesforce-scrt.com").is_err());
        assert!(ScrtUrl::parse("https://acme.my.salesforce-scrt.com/iamessage").is_err());
    }
}
