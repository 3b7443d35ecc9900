//! One HTTP request in, one response out: the body is read (at most 64 KiB, else 413), then the
//! request goes to the agent console's files (`GET /console…`), to the control API
//! (`/__sim/…`), to the model (`/chat/rest/…`, held when the model says so), or gets a 404.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::console;

use super::control_http;
use super::hold;
use super::parse::{Rejected, to_model};
use super::state::{Answer, Shared};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// An oversized body is still read (and dropped) up to this size, so that the client reads its
/// 413 on a clean connection rather than a reset.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Response bodies are always complete.
pub(crate) type Body = Full<Bytes>;

/// Answers one request.
pub(crate) async fn serve(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return text(413, "Payload Too Large");
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let path = parts.uri.path();
    if parts.method == http::Method::GET
        && let Some(page) = console::asset(path, console::LIVE_AGENT)
    {
        return page;
    }
    if path == "/__sim" || path.starts_with("/__sim/") {
        return control_http::serve(&shared, &parts.method, path, &body);
    }
    let request = match to_model(&parts.method, &parts.uri, &parts.headers, &body) {
        Ok(request) => request,
        Err(Rejected { status, text: t }) => return text(status, t),
    };
    match shared.handle(&request) {
        Answer::Now { status, body } => respond(status, body),
        Answer::Hold(ticket) => {
            let (status, body) = hold::wait(shared, ticket).await;
            respond(status, body)
        }
    }
}

/// The whole body, or the response to give instead (413 when over [`MAX_BODY`], 400 when the
/// body cannot be read).
async fn read_body(mut body: Incoming) -> Result<Bytes, Response<Body>> {
    let mut kept = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(text(400, "Bad Request: unreadable body"));
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= MAX_BODY {
            kept.extend_from_slice(&data);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(text(413, "Payload Too Large"));
    }
    Ok(kept.freeze())
}

/// A response with the model's body: JSON when it looks like JSON, plain text otherwise.
pub(crate) fn respond(status: u16, body: String) -> Response<Body> {
    let content_type = if body.is_empty() {
        None
    } else if body.starts_with('{') || body.starts_with('[') {
        Some("application/json")
    } else {
        Some("text/plain; charset=utf-8")
    };
    build(status, content_type, Bytes::from(body))
}

/// A plain-text response.
pub(crate) fn text(status: u16, body: &str) -> Response<Body> {
    respond(status, body.to_owned())
}

/// A JSON response.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    build(
        status,
        Some("application/json"),
        Bytes::from(value.to_string()),
    )
}

fn build(status: u16, content_type: Option<&'static str>, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(ct) = content_type {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    response
}
