//! Response bodies (spec §4): `SessionId`, the `Messages` envelope, the reconnect answers,
//! `Availability`, and the plain-text error bodies the server sends.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::event::{Availability, Event, ReconnectSession};
use super::lenient;

/// A response body did not have the expected shape.
#[derive(Debug, Error)]
#[error("malformed {what} response: {source}")]
pub struct DecodeError {
    what: &'static str,
    #[source]
    source: serde_json::Error,
}

impl DecodeError {
    fn new(what: &'static str, source: serde_json::Error) -> Self {
        Self { what, source }
    }
}

/// `GET System/SessionId` → 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIdResponse {
    /// Session id (lowercase UUID).
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Session key. A secret.
    #[serde(deserialize_with = "lenient::string")]
    pub key: String,
    /// Affinity token.
    #[serde(deserialize_with = "lenient::string")]
    pub affinity_token: String,
    /// Seconds to wait for one `Messages` response (the DOC example sends it as a string).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub client_poll_timeout: Option<i64>,
}

impl SessionIdResponse {
    /// Decodes the body.
    pub fn decode(body: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(body).map_err(|e| DecodeError::new("SessionId", e))
    }
}

/// `GET System/Messages` → 200: a batch of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    /// Events in server order.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub messages: Vec<Event>,
    /// Number to send back as `ack` on the next poll.
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence: Option<i64>,
    /// Position for `ReconnectSession`; present only on responses that carry data.
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub offset: Option<i64>,
}

impl MessagesResponse {
    /// Decodes the body.
    pub fn decode(body: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(body).map_err(|e| DecodeError::new("Messages", e))
    }
}

/// Decodes a `ReconnectSession` answer, wrapped in `messages[]` (live) or bare (the docs' table).
pub fn decode_reconnect(body: &str) -> Result<ReconnectSession, DecodeError> {
    if let Ok(envelope) = MessagesResponse::decode(body) {
        for event in envelope.messages {
            if let Event::ReconnectSession(r) = event {
                return Ok(r);
            }
        }
    }
    serde_json::from_str(body).map_err(|e| DecodeError::new("ReconnectSession", e))
}

/// `GET System/ResyncSession` (before v37) → 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResyncSessionResponse {
    /// Whether the session can be resumed.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_valid: bool,
    /// The (possibly new) session key.
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: String,
    /// The new affinity token.
    #[serde(default, deserialize_with = "lenient::string")]
    pub affinity_token: String,
}

impl ResyncSessionResponse {
    /// Decodes the body, bare or wrapped in `messages[0].message`.
    pub fn decode(body: &str) -> Result<Self, DecodeError> {
        #[derive(Deserialize)]
        struct Wrapped {
            messages: Vec<Inner>,
        }
        #[derive(Deserialize)]
        struct Inner {
            message: ResyncSessionResponse,
        }
        if let Ok(wrapped) = serde_json::from_str::<Wrapped>(body)
            && let Some(first) = wrapped.messages.into_iter().next()
        {
            return Ok(first.message);
        }
        serde_json::from_str(body).map_err(|e| DecodeError::new("ResyncSession", e))
    }
}

/// Decodes a `Visitor/Availability` answer (wrapped in the `messages` envelope).
pub fn decode_availability(body: &str) -> Result<Availability, DecodeError> {
    let envelope = MessagesResponse::decode(body)?;
    Ok(envelope
        .messages
        .into_iter()
        .find_map(|e| match e {
            Event::Availability(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default())
}

/// The numbers in a `409 Out of sync Ack. Expected N. Actual M` body (spec §7.2): `expected` is
/// what the client sent, `actual` the last number the server accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfSync {
    /// The number the client sent.
    pub expected: i64,
    /// The last number the server accepted.
    pub actual: i64,
}

impl OutOfSync {
    /// Finds the two numbers in an error body, ignoring case, punctuation and JSON wrapping.
    pub fn parse(body: &str) -> Option<OutOfSync> {
        let lower = body.to_ascii_lowercase();
        let number_after = |label: &str| -> Option<i64> {
            let start = lower.find(label)? + label.len();
            let rest = lower[start..].trim_start_matches([' ', ':', '=']);
            let end = rest
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
                .map_or(rest.len(), |(i, _)| i);
            rest[..end].parse().ok()
        };
        Some(OutOfSync {
            expected: number_after("expected")?,
            actual: number_after("actual")?,
        })
    }

    /// The body the server sends.
    pub fn to_body(self) -> String {
        format!(
            "Out of sync Ack. Expected {}. Actual {}",
            self.expected, self.actual
        )
    }
}

/// Error texts the real server sends (spec §2.2).
pub mod error_text {
    /// 403 on a session-scoped call.
    pub const SESSION_INVALID: &str = "Session required but was invalid or not found";
    /// 400 without `X-LIVEAGENT-API-VERSION`.
    pub const NO_VERSION: &str = "No version header found";
    /// 503 after a failover.
    pub const INVALID_AFFINITY: &str = "Invalid Affinity Token";
}
