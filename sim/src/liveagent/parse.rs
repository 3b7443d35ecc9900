//! Turning an HTTP request back into the model's [`LiveAgentRequest`]: method, resource (with
//! the key suffix of `DELETE System/SessionId/{key}`), percent-decoded query, headers, body.
//! Only transport-level problems are answered here; every protocol rule is the model's.

use http::{HeaderMap, Method as HttpMethod, Uri};
use switchboard_core::liveagent::request::{BASE_PATH, percent_decode};
use switchboard_core::liveagent::{LiveAgentRequest, Method, Resource};

/// A request the model never sees: `(status, text)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    pub(crate) status: u16,
    pub(crate) text: &'static str,
}

const SESSION_ID_PATH: &str = "System/SessionId";

/// Parses a request under `/chat/rest/`.
pub(crate) fn to_model(
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<LiveAgentRequest, Rejected> {
    let not_found = Rejected {
        status: 404,
        text: "Not Found",
    };
    let relative = uri
        .path()
        .strip_prefix(BASE_PATH)
        .ok_or(not_found.clone())?;
    let resource = Resource::from_path(relative).ok_or(not_found)?;
    let method = match *method {
        HttpMethod::GET => Method::Get,
        HttpMethod::POST => Method::Post,
        HttpMethod::DELETE => Method::Delete,
        _ => {
            return Err(Rejected {
                status: 405,
                text: "Method not allowed",
            });
        }
    };
    let path_suffix = match resource {
        Resource::SessionId => relative
            .trim_end_matches('/')
            .strip_prefix(SESSION_ID_PATH)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(percent_decode),
        _ => None,
    };
    let query = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
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
        let text = std::str::from_utf8(body).map_err(|_| Rejected {
            status: 400,
            text: "Bad Request: body is not UTF-8",
        })?;
        Some(text.to_owned())
    };
    Ok(LiveAgentRequest {
        method,
        resource,
        path_suffix,
        query,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: HttpMethod, uri: &str, body: &[u8]) -> Result<LiveAgentRequest, Rejected> {
        let uri: Uri = uri.parse().expect("test URIs are valid");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-liveagent-api-version",
            http::HeaderValue::from_static("52"),
        );
        to_model(&method, &uri, &headers, body)
    }

    #[test]
    fn reads_a_poll_with_its_ack_and_headers() {
        let request =
            parse(HttpMethod::GET, "/chat/rest/System/Messages?ack=-1", b"").expect("parses");
        assert_eq!(request.resource, Resource::Messages);
        assert_eq!(request.method, Method::Get);
        assert_eq!(request.query, vec![("ack".to_owned(), "-1".to_owned())]);
        assert_eq!(request.header_value("X-LIVEAGENT-API-VERSION"), Some("52"));
        assert_eq!(request.body, None);
    }

    #[test]
    fn decodes_query_components_and_round_trips_the_clients_encoding() {
        let sent = LiveAgentRequest::new(Method::Get, Resource::Availability, 52)
            .query("org_id", "00D")
            .query("Availability.ids", "[573A,573B]");
        let request = parse(HttpMethod::GET, &sent.path_and_query(), b"").expect("parses");
        assert_eq!(request.query, sent.query);
    }

    #[test]
    fn takes_the_key_from_a_session_delete_path() {
        let mut sent = LiveAgentRequest::new(Method::Delete, Resource::SessionId, 52);
        sent.path_suffix = Some("abc!17!sig=".into());
        let request = parse(HttpMethod::DELETE, &sent.path_and_query(), b"").expect("parses");
        assert_eq!(request.resource, Resource::SessionId);
        assert_eq!(request.path_suffix.as_deref(), Some("abc!17!sig="));
        let plain = parse(HttpMethod::GET, "/chat/rest/System/SessionId", b"").expect("parses");
        assert_eq!(plain.path_suffix, None);
    }

    #[test]
    fn rejects_unknown_paths_methods_and_binary_bodies() {
        let status = |r: Result<LiveAgentRequest, Rejected>| r.err().map(|e| e.status);
        assert_eq!(
            status(parse(HttpMethod::GET, "/chat/rest/System/Nope", b"")),
            Some(404)
        );
        assert_eq!(status(parse(HttpMethod::GET, "/elsewhere", b"")), Some(404));
        assert_eq!(
            status(parse(HttpMethod::PUT, "/chat/rest/System/Messages", b"")),
            Some(405)
        );
        assert_eq!(
            status(parse(
                HttpMethod::POST,
                "/chat/rest/Chasitor/ChatMessage",
                &[0xff, 0xfe]
            )),
            Some(400)
        );
    }
}
