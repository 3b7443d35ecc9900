//! What the driver feeds into a [`Session`](super::Session).

use serde::{Deserialize, Serialize};

/// Identifies one request the session asked for; its response or failure comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "req#{}", self.0)
    }
}

/// One input to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An HTTP response arrived for request `id`.
    Response {
        /// The request it answers.
        id: RequestId,
        /// HTTP status code.
        status: u16,
        /// Body as text (lossy UTF-8).
        body: String,
    },
    /// Request `id` failed without an HTTP response.
    Failed {
        /// The request that failed.
        id: RequestId,
        /// What went wrong.
        failure: TransportFailure,
    },
    /// The visitor did something.
    Visitor(VisitorAction),
    /// The time from [`Session::poll_timeout`](super::Session::poll_timeout) was reached.
    Timeout,
}

/// Why a request got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransportFailure {
    /// The connection could not be made.
    Connect,
    /// The connection broke before a full response arrived.
    Reset,
    /// The driver's own timeout fired first.
    TimedOut,
}

/// Something the visitor does in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VisitorAction {
    /// Text for the agent. Held until an agent has joined, then sent in order.
    Text(String),
    /// The visitor started typing (dropped while no agent has joined).
    Typing,
    /// The visitor stopped typing (dropped while no agent has joined).
    NotTyping,
    /// What the visitor is typing, for agents with sneak peek (dropped while no agent has joined).
    SneakPeek {
        /// Position of the update.
        position: i64,
        /// Current contents of the input box.
        text: String,
    },
    /// A custom event for the agent console. Held until an agent has joined.
    CustomEvent {
        /// Event type.
        kind: String,
        /// Payload.
        data: String,
    },
    /// The visitor ends the chat.
    End,
}
