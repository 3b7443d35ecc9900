//! Outgoing requests as plain data: method, resource, query, headers and body. The driver
//! prefixes the host and performs them; the simulator parses them back.

use serde::{Deserialize, Serialize};

use super::headers::{AFFINITY, AFFINITY_NULL, API_VERSION, SEQUENCE, SESSION_KEY};

/// The path prefix every resource lives under.
pub const BASE_PATH: &str = "/chat/rest/";

/// HTTP method of a visitor-API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as it appears on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// Which resource a request addresses (spec §4); the simulator routes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Resource {
    /// `System/SessionId` (GET creates, DELETE `System/SessionId/{key}` removes).
    SessionId,
    /// `Chasitor/ChasitorInit`
    ChasitorInit,
    /// `System/Messages`
    Messages,
    /// `Chasitor/ChatMessage`
    ChatMessage,
    /// `Chasitor/ChasitorTyping`
    ChasitorTyping,
    /// `Chasitor/ChasitorNotTyping`
    ChasitorNotTyping,
    /// `Chasitor/ChasitorSneakPeek`
    ChasitorSneakPeek,
    /// `Chasitor/CustomEvent`
    CustomEvent,
    /// `Chasitor/ChatEnd`
    ChatEnd,
    /// `Chasitor/ChasitorIdleTimeoutWarningEvent` (v35+)
    ChasitorIdleTimeoutWarningEvent,
    /// `System/ReconnectSession` (v37+)
    ReconnectSession,
    /// `System/ResyncSession` (before v37)
    ResyncSession,
    /// `Chasitor/ChasitorResyncState`
    ChasitorResyncState,
    /// `System/MultiNoun`
    MultiNoun,
    /// `Visitor/Availability`
    Availability,
    /// `Visitor/Settings`
    Settings,
    /// `Visitor/Breadcrumb`
    Breadcrumb,
    /// `Visitor/VisitorId`
    VisitorId,
}

impl Resource {
    /// Every resource, for routing tables.
    pub const ALL: [Resource; 18] = [
        Resource::SessionId,
        Resource::ChasitorInit,
        Resource::Messages,
        Resource::ChatMessage,
        Resource::ChasitorTyping,
        Resource::ChasitorNotTyping,
        Resource::ChasitorSneakPeek,
        Resource::CustomEvent,
        Resource::ChatEnd,
        Resource::ChasitorIdleTimeoutWarningEvent,
        Resource::ReconnectSession,
        Resource::ResyncSession,
        Resource::ChasitorResyncState,
        Resource::MultiNoun,
        Resource::Availability,
        Resource::Settings,
        Resource::Breadcrumb,
        Resource::VisitorId,
    ];

    /// `Prefix/Noun`, relative to [`BASE_PATH`].
    pub fn path(self) -> &'static str {
        match self {
            Resource::SessionId => "System/SessionId",
            Resource::ChasitorInit => "Chasitor/ChasitorInit",
            Resource::Messages => "System/Messages",
            Resource::ChatMessage => "Chasitor/ChatMessage",
            Resource::ChasitorTyping => "Chasitor/ChasitorTyping",
            Resource::ChasitorNotTyping => "Chasitor/ChasitorNotTyping",
            Resource::ChasitorSneakPeek => "Chasitor/ChasitorSneakPeek",
            Resource::CustomEvent => "Chasitor/CustomEvent",
            Resource::ChatEnd => "Chasitor/ChatEnd",
            Resource::ChasitorIdleTimeoutWarningEvent => "Chasitor/ChasitorIdleTimeoutWarningEvent",
            Resource::ReconnectSession => "System/ReconnectSession",
            Resource::ResyncSession => "System/ResyncSession",
            Resource::ChasitorResyncState => "Chasitor/ChasitorResyncState",
            Resource::MultiNoun => "System/MultiNoun",
            Resource::Availability => "Visitor/Availability",
            Resource::Settings => "Visitor/Settings",
            Resource::Breadcrumb => "Visitor/Breadcrumb",
            Resource::VisitorId => "Visitor/VisitorId",
        }
    }

    /// The resource a `Prefix/Noun` path (relative to [`BASE_PATH`]) names.
    pub fn from_path(path: &str) -> Option<Resource> {
        let path = path.trim_end_matches('/');
        if path.starts_with("System/SessionId/") {
            return Some(Resource::SessionId);
        }
        Resource::ALL.into_iter().find(|r| r.path() == path)
    }

    /// The HTTP method the resource takes (spec §4); `SessionId` is `GET` to create and
    /// `DELETE System/SessionId/{key}` to remove.
    pub fn method(self, with_path_suffix: bool) -> Method {
        match self {
            Resource::SessionId if with_path_suffix => Method::Delete,
            Resource::SessionId
            | Resource::Messages
            | Resource::ReconnectSession
            | Resource::ResyncSession
            | Resource::Availability
            | Resource::Settings
            | Resource::VisitorId => Method::Get,
            Resource::ChasitorInit
            | Resource::ChatMessage
            | Resource::ChasitorTyping
            | Resource::ChasitorNotTyping
            | Resource::ChasitorSneakPeek
            | Resource::CustomEvent
            | Resource::ChatEnd
            | Resource::ChasitorIdleTimeoutWarningEvent
            | Resource::ChasitorResyncState
            | Resource::MultiNoun
            | Resource::Breadcrumb => Method::Post,
        }
    }

    /// Whether the resource consumes an `X-LIVEAGENT-SEQUENCE` number (spec §2.3, §7.2).
    pub fn is_sequenced(self) -> bool {
        match self {
            Resource::ChasitorInit
            | Resource::ChatMessage
            | Resource::ChasitorTyping
            | Resource::ChasitorNotTyping
            | Resource::ChasitorSneakPeek
            | Resource::CustomEvent
            | Resource::ChatEnd
            | Resource::ChasitorIdleTimeoutWarningEvent
            | Resource::MultiNoun => true,
            Resource::SessionId
            | Resource::Messages
            | Resource::ReconnectSession
            | Resource::ResyncSession
            | Resource::ChasitorResyncState
            | Resource::Availability
            | Resource::Settings
            | Resource::Breadcrumb
            | Resource::VisitorId => false,
        }
    }
}

/// One visitor-API request, ready to be performed against `https://{host}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAgentRequest {
    /// HTTP method.
    pub method: Method,
    /// The resource addressed.
    pub resource: Resource,
    /// Extra path segment after the resource (the key in `DELETE System/SessionId/{key}`).
    pub path_suffix: Option<String>,
    /// Query parameters in order, not yet percent-encoded.
    pub query: Vec<(String, String)>,
    /// Headers in order. Values may be secret (the session key): do not log them.
    pub headers: Vec<(String, String)>,
    /// JSON body for POSTs.
    pub body: Option<String>,
}

impl LiveAgentRequest {
    /// A request with only the API-version header.
    pub fn new(method: Method, resource: Resource, api_version: u32) -> Self {
        Self {
            method,
            resource,
            path_suffix: None,
            query: Vec::new(),
            headers: vec![(API_VERSION.to_owned(), api_version.to_string())],
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn body(mut self, json: String) -> Self {
        self.body = Some(json);
        self
    }

    /// Adds `X-LIVEAGENT-AFFINITY` (the literal `null` when `token` is `None`).
    pub fn affinity(self, token: Option<&str>) -> Self {
        self.header(AFFINITY, token.unwrap_or(AFFINITY_NULL))
    }

    /// Adds `X-LIVEAGENT-SESSION-KEY`.
    pub fn session_key(self, key: &str) -> Self {
        self.header(SESSION_KEY, key)
    }

    /// Adds `X-LIVEAGENT-SEQUENCE`.
    pub fn sequence(self, sequence: u32) -> Self {
        self.header(SEQUENCE, sequence.to_string())
    }

    /// The value of a header, compared case-insensitively.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter (first occurrence), not percent-decoded.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The sequence number this request carries, if any.
    pub fn sequence_number(&self) -> Option<u32> {
        self.header_value(SEQUENCE)
            .and_then(|v| v.trim().parse().ok())
    }

    /// `/chat/rest/{Prefix}/{Noun}[/{suffix}][?query]`, percent-encoded.
    pub fn path_and_query(&self) -> String {
        let mut out = String::from(BASE_PATH);
        out.push_str(self.resource.path());
        if let Some(suffix) = &self.path_suffix {
            out.push('/');
            percent_encode_into(&mut out, suffix);
        }
        for (i, (name, value)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            percent_encode_into(&mut out, name);
            out.push('=');
            percent_encode_into(&mut out, value);
        }
        out
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode_into(out: &mut String, s: &str) {
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// Decodes a percent-encoded query component (`+` stays a plus, as the client never sends it
/// for a space). Invalid escapes are kept literally.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_messages_poll_with_ack() {
        let req = LiveAgentRequest::new(Method::Get, Resource::Messages, 52).query("ack", "-1");
        assert_eq!(req.path_and_query(), "/chat/rest/System/Messages?ack=-1");
    }

    #[test]
    fn encodes_bracketed_availability_ids() {
        let req = LiveAgentRequest::new(Method::Get, Resource::Availability, 52)
            .query("Availability.ids", "[573A,573B]");
        assert_eq!(
            req.path_and_query(),
            "/chat/rest/Visitor/Availability?Availability.ids=%5B573A%2C573B%5D"
        );
        assert_eq!(percent_decode("%5B573A%2C573B%5D"), "[573A,573B]");
    }

    #[test]
    fn routes_session_delete_path_to_session_id() {
        assert_eq!(
            Resource::from_path("System/SessionId/abc!1!x"),
            Some(Resource::SessionId)
        );
        assert_eq!(Resource::from_path("System/Nope"), None);
        for r in Resource::ALL {
            assert_eq!(Resource::from_path(r.path()), Some(r));
        }
    }

    #[test]
    fn reads_headers_case_insensitively() {
        let req = LiveAgentRequest::new(Method::Post, Resource::ChatMessage, 52).sequence(7);
        assert_eq!(req.header_value("x-liveagent-sequence"), Some("7"));
        assert_eq!(req.sequence_number(), Some(7));
    }
}
