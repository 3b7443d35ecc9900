//! The Enhanced Chat wire: the requests a visitor client makes (spec §4–§6), each with its exact
//! method, path and JSON body, and lenient decoding of what comes back — token answers, entry
//! lists and the Server-Sent Events' envelopes (§7.4). Unknown fields are ignored and unknown
//! entry types kept by name, since Salesforce adds new ones over time.
//!
//! | file | holds |
//! |---|---|
//! | `requests.rs` | [`EnhancedRequest`], [`Deployment`] |
//! | `token.rs` | [`TokenAnswer`] |
//! | `entries.rs` | [`Entry`], [`Payload`], [`Role`], which stream events carry entries |

mod entries;
mod requests;
mod token;

use serde_json::Value;

pub use entries::{Entry, ParticipantChange, Payload, Role, carries_entry};
pub use requests::{API_PREFIX, Deployment, ENTRIES_PAGE, EnhancedRequest, Method, SSE_PATH};
pub use token::TokenAnswer;

/// A body that does not decode as the answer it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable {what}: {detail}")]
pub struct WireError {
    /// Which answer.
    pub what: &'static str,
    /// Why.
    pub detail: String,
}

fn unreadable(what: &'static str, e: impl std::fmt::Display) -> WireError {
    WireError {
        what,
        detail: e.to_string(),
    }
}

/// A string or number as text.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
