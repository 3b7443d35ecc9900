//! One HTTP request in, one response out: the body is read (at most 64 KiB, else 413), then the
//! request goes to the agent console's files (`GET /console…`), to the control API
//! (`/__sim/…`) or to the model, whose answer is either a complete response or an SSE stream
//! (`text/event-stream`, unbuffered).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use switchboard_core::model::enhanced::{self, EnhancedRequest, Method, Reply};

use crate::console;

use super::control_http;
use super::sse::{self, SseBody};
use super::state::Shared;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// A complete body or an event stream.
pub(crate) type Body = Either<Full<Bytes>, SseBody>;

/// Answers one request.
pub(crate) async fn serve(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err((status, message)) => return json_error(status, message),
    };
    let path = parts.uri.path();
    if parts.method == http::Method::GET
        && let Some(page) = console::asset(path, console::ENHANCED_CHAT)
    {
        return page.map(Either::Left);
    }
    if path == "/__sim" || path.starts_with("/__sim/") {
        return control_http::serve(&shared, &parts.method, path, &body);
    }
    let request = match to_model(&parts.method, &parts.uri, &parts.headers, &body) {
        Ok(request) => request,
        Err((status, message)) => return json_error(status, message),
    };
    match shared.mutate(|state, now| state.server.handle(&request, now)) {
        Reply::Respond(response) => from_model(&response),
        Reply::Stream(open) => stream(sse::open(shared, open)),
    }
}

/// The model's request: method, path, decoded query, headers, UTF-8 body.
fn to_model(
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<EnhancedRequest, Refusal> {
    let query = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = if body.is_empty() {
        None
    } else {
        let text = std::str::from_utf8(body).map_err(|_| (400, "Request body is not UTF-8"))?;
        Some(text.to_owned())
    };
    Ok(EnhancedRequest {
        method: Method::parse(method.as_str()),
        path: uri.path().to_owned(),
        query,
        headers,
        body,
    })
}

/// A request refused before the model sees it: `(status, message)`.
type Refusal = (u16, &'static str);

async fn read_body(mut body: Incoming) -> Result<Bytes, Refusal> {
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err((400, "Unreadable request body"));
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if kept.len() + data.len() > MAX_BODY {
            return Err((413, "Payload Too Large"));
        }
        kept.extend_from_slice(&data);
    }
    Ok(kept.freeze())
}

fn from_model(response: &enhanced::Response) -> Response<Body> {
    let mut out = Response::new(Either::Left(Full::new(Bytes::from(response.body.clone()))));
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.headers_mut().insert(name, value);
        }
    }
    out
}

fn stream(body: SseBody) -> Response<Body> {
    let mut out = Response::new(Either::Right(body));
    let headers = out.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out
}

/// A JSON response.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    from_model(&enhanced::Response::json(status, value))
}

fn json_error(status: u16, message: &str) -> Response<Body> {
    from_model(&enhanced::Response::error(status, message))
}
