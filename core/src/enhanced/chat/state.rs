//! What an Enhanced Chat conversation persists (its [`Snapshot`]) and the transient half that a
//! restart forgets (requests in flight, retry timers, the stream connection).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::config::EnhancedStart;
use super::io::RequestId;
use crate::desk::{Agent, EndReason};
use crate::time::Timestamp;

/// Where the conversation is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Phase {
    /// Getting the first access token.
    Authorizing,
    /// Creating the conversation (once the stream is open).
    Creating,
    /// The conversation exists: texts go out, entries come in.
    Open,
    /// Closing it at Salesforce (`DELETE`); `announce` is the end still to report, if any.
    Closing {
        /// Reported once the close is answered.
        announce: Option<EndReason>,
    },
    /// Over; nothing more leaves.
    Ended,
}

/// An access token and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) expires_at: Timestamp,
}

/// A request to the desk waiting its turn, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The client-made id it goes out with (a resend reuses it).
    pub(crate) id: String,
    pub(crate) what: Outgoing,
}

/// What a [`Pending`] sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Outgoing {
    Text(String),
    Typing(bool),
    End,
}

/// Everything needed to resume after a crash.
///
/// Serde-serialisable in any format, including bincode 2 (no skipped or untagged fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) start: EnhancedStart,
    pub(crate) phase: Phase,
    pub(crate) token: Option<Token>,
    /// The stream's last event id (`Last-Event-Id` of the next connection).
    pub(crate) last_event_id: Option<String>,
    /// The newest entry's server time seen, epoch ms (where catch-up starts).
    pub(crate) newest_entry_at: Option<u64>,
    /// Identifiers of the entries taken, newest last, bounded.
    pub(crate) seen: VecDeque<String>,
    pub(crate) pending: VecDeque<Pending>,
    /// Counter for client-made ids.
    pub(crate) next_id: u64,
    /// The agent in the chat.
    pub(crate) agent: Option<Agent>,
    /// Whether an agent ever joined (a later join is a transfer).
    pub(crate) joined: bool,
    /// Entries may have been missed: list them before sending more.
    pub(crate) catch_up: bool,
}

impl Snapshot {
    /// Whether the chat is over.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// The conversation's id at Salesforce.
    pub fn conversation_id(&self) -> &str {
        &self.start.conversation_id
    }
}

/// What the REST request in flight is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Token,
    Create,
    CatchUp,
    /// The head of `pending`.
    Send,
    Close,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub(crate) id: RequestId,
    pub(crate) purpose: Purpose,
}

/// The stream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Not connected; connect at `retry_at` (at once when `None`).
    Closed { retry_at: Option<Timestamp> },
    /// Connecting.
    Opening(RequestId),
    /// Connected; the last sign of life at `heard_at`.
    Open { id: RequestId, heard_at: Timestamp },
}

/// The transient half.
#[derive(Debug, Clone)]
pub(crate) struct Io {
    pub(crate) next_request: u64,
    pub(crate) rest: Option<InFlight>,
    /// The REST lane waits until then after a failure.
    pub(crate) rest_retry_at: Option<Timestamp>,
    pub(crate) rest_failures: u32,
    pub(crate) stream: Stream,
    pub(crate) stream_failures: u32,
    /// Since when requests or the stream have been failing without a success in between.
    pub(crate) failing_since: Option<Timestamp>,
    /// A 401 was answered by renewing the token; a second one ends the chat.
    pub(crate) renewed_after_refusal: bool,
    /// The token must be renewed before anything else.
    pub(crate) token_refused: bool,
    /// The head send's answer was lost: it may have arrived.
    pub(crate) head_unsure: bool,
    /// Stream entries that arrived while a catch-up was owed, taken after the list (which
    /// holds the older ones) so that order is kept.
    pub(crate) held: Vec<crate::enhanced::wire::Entry>,
}

impl Io {
    pub(crate) fn new() -> Io {
        Io {
            next_request: 0,
            rest: None,
            rest_retry_at: None,
            rest_failures: 0,
            stream: Stream::Closed { retry_at: None },
            stream_failures: 0,
            failing_since: None,
            renewed_after_refusal: false,
            token_refused: false,
            head_unsure: false,
            held: Vec::new(),
        }
    }

    pub(crate) fn next_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }
}
