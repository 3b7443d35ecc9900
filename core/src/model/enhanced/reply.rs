//! What the reference server answers: a complete [`Response`] (status, headers, body), or, for
//! an accepted SSE connect, a [`StreamOpen`] telling the HTTP layer which subject's events to
//! stream from which id on. [`SseEvent`] is one event of a subject's log and knows its frame.

use serde_json::{Value, json};

/// A complete HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers besides the framing ones.
    pub headers: Vec<(String, String)>,
    /// The body (JSON, plain text, or a PDF's bytes as Latin-1-safe text).
    pub body: String,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string(),
        }
    }

    /// An error answer: `{"message": …}`, the field Salesforce's sample reads (§2.2).
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, &json!({ "message": message, "status": status }))
    }

    /// A plain-text answer.
    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: text.to_owned(),
        }
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// The body as JSON (`Null` when it is not).
    pub fn body_json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value, by case-insensitive name.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An accepted SSE connect: stream `subject`'s events with ids above `after`, then every new
/// one, with `ping`s in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOpen {
    /// Whose events.
    pub subject: String,
    /// The token the stream was opened with (for expiry checks while it runs).
    pub token: String,
    /// Send events with an id strictly above this.
    pub after: u64,
}

/// The server's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer now.
    Respond(Response),
    /// Open an event stream.
    Stream(StreamOpen),
}

impl Reply {
    /// The status: the response's, or 200 for a stream.
    pub fn status(&self) -> u16 {
        match self {
            Reply::Respond(r) => r.status,
            Reply::Stream(_) => 200,
        }
    }

    /// The response, when it is one.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Reply::Respond(r) => Some(r),
            Reply::Stream(_) => None,
        }
    }
}

impl From<Response> for Reply {
    fn from(response: Response) -> Reply {
        Reply::Respond(response)
    }
}

/// One event of a subject's log (§7.2–§7.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// Numeric id, increasing across the whole server.
    pub id: u64,
    /// The SSE `event:` name, e.g. `CONVERSATION_MESSAGE`.
    pub name: String,
    /// The `data:` JSON text: the envelope with `conversationEntry`.
    pub data: String,
}

impl SseEvent {
    /// The event as an SSE frame: `id:`, `event:`, `data:` lines and a blank line.
    pub fn frame(&self) -> String {
        format!(
            "id: {}\nevent: {}\ndata: {}\n\n",
            self.id, self.name, self.data
        )
    }

    /// The `data:` as JSON.
    pub fn data_json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// A keep-alive frame: event `ping`, its data a counter, no id (§7.2).
pub fn ping_frame(counter: u64) -> String {
    format!("event: ping\ndata: {counter}\n\n")
}
