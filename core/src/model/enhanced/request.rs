//! One HTTP request as the reference server sees it ([`EnhancedRequest`]: method, path,
//! decoded query, headers, body) and the operation its method and path name ([`Route`],
//! spec §4–§7). Parsing never fails loudly: an unknown path is 404, a wrong method 405.

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// Anything else (always 405).
    Other,
}

impl Method {
    /// From an HTTP method name.
    pub fn parse(name: &str) -> Method {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Other => "OTHER",
        }
    }
}

/// A request: what the HTTP layer read, decoded but not interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnhancedRequest {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// Query pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header pairs as received.
    pub headers: Vec<(String, String)>,
    /// The body, when there is one.
    pub body: Option<String>,
}

impl EnhancedRequest {
    /// A request without query, headers or body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// Adds a query pair.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// A header's value, by case-insensitive name.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value (the first of that name).
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Bearer token of the `Authorization` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header_value("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The body as JSON, `None` when absent or not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.body.as_deref()?).ok()
    }
}

/// REST base path (§1).
pub const REST_BASE: &str = "/iamessage/api/v2";
/// SSE path (§7.1).
pub const SSE_PATH: &str = "/eventrouter/v1/sse";

/// The operation a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /authorization/unauthenticated/access-token`.
    UnauthenticatedToken,
    /// `POST /authorization/authenticated/access-token`.
    AuthenticatedToken,
    /// `DELETE /authorization/authenticated/access-token`.
    RevokeToken,
    /// `GET /authorization/continuation-access-token`.
    ContinuationToken,
    /// `POST /conversation`.
    CreateConversation,
    /// `GET /conversation/list`.
    ListConversations,
    /// `GET /conversation/{id}`.
    RoutingStatus(String),
    /// `DELETE /conversation/{id}`.
    CloseConversation(String),
    /// `DELETE /conversation/{id}/session`.
    EndSession(String),
    /// `POST /conversation/{id}/message`.
    SendMessage(String),
    /// `POST /conversation/{id}/entry`.
    SendEntry(String),
    /// `POST /conversation/{id}/acknowledge-entries`.
    Acknowledge(String),
    /// `GET /conversation/{id}/entries`.
    ListEntries(String),
    /// `GET /conversation/{id}/transcript`.
    Transcript(String),
    /// `POST /conversation/{id}/file` (not simulated: 501).
    SendFile(String),
    /// `GET /eventrouter/v1/sse`.
    Sse,
}

/// Why a request names no operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    /// No such path (404).
    NotFound,
    /// The path exists, not with this method (405).
    WrongMethod,
}

impl Route {
    /// The operation `method path` names.
    pub fn parse(method: Method, path: &str) -> Result<Route, NoRoute> {
        use Method::{Delete, Get, Post};
        let path = path.trim_end_matches('/');
        if path == SSE_PATH {
            return only(method, Get, Route::Sse);
        }
        let rest = path.strip_prefix(REST_BASE).ok_or(NoRoute::NotFound)?;
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["authorization", "unauthenticated", "access-token"] => {
                only(method, Post, Route::UnauthenticatedToken)
            }
            ["authorization", "authenticated", "access-token"] => match method {
                Post => Ok(Route::AuthenticatedToken),
                Delete => Ok(Route::RevokeToken),
                Get | Method::Other => Err(NoRoute::WrongMethod),
            },
            ["authorization", "continuation-access-token"] => {
                only(method, Get, Route::ContinuationToken)
            }
            ["conversation"] => only(method, Post, Route::CreateConversation),
            ["conversation", "list"] => only(method, Get, Route::ListConversations),
            ["conversation", id] => {
                let id = (*id).to_owned();
                match method {
                    Get => Ok(Route::RoutingStatus(id)),
                    Delete => Ok(Route::CloseConversation(id)),
                    Post | Method::Other => Err(NoRoute::WrongMethod),
                }
            }
            ["conversation", id, action] => {
                let id = (*id).to_owned();
                match *action {
                    "session" => only(method, Delete, Route::EndSession(id)),
                    "message" => only(method, Post, Route::SendMessage(id)),
                    "entry" => only(method, Post, Route::SendEntry(id)),
                    "acknowledge-entries" => only(method, Post, Route::Acknowledge(id)),
                    "entries" => only(method, Get, Route::ListEntries(id)),
                    "transcript" => only(method, Get, Route::Transcript(id)),
                    "file" => only(method, Post, Route::SendFile(id)),
                    _ => Err(NoRoute::NotFound),
                }
            }
            _ => Err(NoRoute::NotFound),
        }
    }

    /// The conversation id in the path, if any.
    pub fn conversation_id(&self) -> Option<&str> {
        match self {
            Route::RoutingStatus(id)
            | Route::CloseConversation(id)
            | Route::EndSession(id)
            | Route::SendMessage(id)
            | Route::SendEntry(id)
            | Route::Acknowledge(id)
            | Route::ListEntries(id)
            | Route::Transcript(id)
            | Route::SendFile(id) => Some(id),
            Route::UnauthenticatedToken
            | Route::AuthenticatedToken
            | Route::RevokeToken
            | Route::ContinuationToken
            | Route::CreateConversation
            | Route::ListConversations
            | Route::Sse => None,
        }
    }
}

fn only(method: Method, expected: Method, route: Route) -> Result<Route, NoRoute> {
    if method == expected {
        Ok(route)
    } else {
        Err(NoRoute::WrongMethod)
    }
}

/// Whether `id` is a lowercase UUID (8-4-4-4-12 hex digits); with `v4`, also version 4 with
/// the RFC 4122 variant.
pub fn is_lowercase_uuid(id: &str, v4: bool) -> bool {
    let bytes = id.as_bytes();
    if bytes.len() != 36 {
        return false;
    }
    let shape_ok = bytes.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
    });
    shape_ok && (!v4 || (bytes[14] == b'4' && matches!(bytes[19], b'8' | b'9' | b'a' | b'b')))
}
