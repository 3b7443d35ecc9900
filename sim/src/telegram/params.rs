//! Bot API method parameters, however they arrive: the query string, an
//! `application/x-www-form-urlencoded` body or an `application/json` body (the body's values
//! win over the query's). Form and query values are strings; JSON values keep their types, and
//! [`Params::text`] reads numbers and booleans as the Bot API does, as their text.
//!
//! A JSON body that is not an object is refused (400); a `multipart/form-data` body (file
//! uploads) is refused as unsupported by the simulator, which takes files by id or URL only.

use serde_json::{Map, Value};

use super::reply::Reply;
use crate::wechat::http::SimRequest;

/// The merged parameters of one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Map<String, Value>);

impl Params {
    /// Reads the parameters of `req`.
    pub(super) fn read(req: &SimRequest) -> Result<Params, Reply> {
        let mut map = Map::new();
        if let Some(query) = req.parts.uri.query() {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        let media_type = req
            .parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media_type.as_str() {
            _ if req.body.iter().all(u8::is_ascii_whitespace) => {}
            "application/json" => match serde_json::from_slice::<Value>(&req.body) {
                Ok(Value::Object(body)) => map.extend(body),
                _ => {
                    return Err(Reply::fail(
                        400,
                        "Bad Request: can't parse JSON object".into(),
                    ));
                }
            },
            "application/x-www-form-urlencoded" => {
                for (k, v) in form_urlencoded::parse(&req.body) {
                    map.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            }
            "multipart/form-data" => {
                return Err(Reply::fail(
                    400,
                    "Bad Request: the simulator takes no file uploads (send a file_id or URL)"
                        .into(),
                ));
            }
            // Telegram reads no parameters from a body of another type.
            _ => {}
        }
        Ok(Params(map))
    }

    /// The parameter as text (`None` when absent, null or empty), as the Bot API reads it.
    pub fn text(&self, name: &str) -> Option<String> {
        let text = match self.0.get(name)? {
            Value::Null => return None,
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        (!text.is_empty()).then_some(text)
    }

    /// The parameter as a boolean (`true`, `1`; anything else is false).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.text(name).as_deref(), Some("true" | "True" | "1"))
    }

    /// The parameter as a string list: a JSON array, or a string holding one.
    pub fn list(&self, name: &str) -> Option<Result<Vec<String>, ()>> {
        let value = match self.0.get(name)? {
            Value::Null => return None,
            Value::String(s) if s.is_empty() => return None,
            Value::String(s) => serde_json::from_str::<Value>(s).map_err(|_| ()),
            other => Ok(other.clone()),
        };
        Some(value.and_then(|v| {
            match v {
                Value::Array(items) => items
                    .into_iter()
                    .map(|i| i.as_str().map(str::to_owned).ok_or(()))
                    .collect(),
                _ => Err(()),
            }
        }))
    }

    /// `chat_id`: an integer or the text of one. Missing → `chat_id is empty`; a `@username` or
    /// anything else → `chat not found` (the simulator has private chats only).
    pub(super) fn chat_id(&self) -> Result<i64, Reply> {
        let Some(text) = self.text("chat_id") else {
            return Err(Reply::bad_request("chat_id is empty"));
        };
        text.trim()
            .parse::<i64>()
            .map_err(|_| Reply::bad_request("chat not found"))
    }
}
