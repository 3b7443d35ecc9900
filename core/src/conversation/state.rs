//! The persisted part of a conversation: where the chat stands, the user's reply window, agent
//! lines waiting to be merged, and the sends whose outcome is not known yet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::input::{UserMessage, UserRef};
use crate::desk::Agent;
use crate::time::Timestamp;

/// Where the chat stands, named after what the conversation waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum State {
    /// No live chat: waiting for a message that starts one.
    Idle,
    /// A chat was requested; waiting for an agent to join.
    Waiting(Waiting),
    /// An agent is in the chat.
    Chatting(Chatting),
    /// The user ended the chat; waiting for the session to confirm it has ended.
    Ending(Ending),
}

/// Queue bookkeeping while no agent has joined.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Waiting {
    /// The latest `Queued` event: position and estimated wait (seconds).
    pub(crate) latest: Option<QueueInfo>,
    /// The last position the user was told about, and when.
    pub(crate) told: Option<Told>,
}

/// One queue report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueueInfo {
    pub(crate) position: Option<i64>,
    pub(crate) wait_secs: Option<i64>,
}

/// A queue notice that was due (sent, or dropped because the user could not receive it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Told {
    pub(crate) position: Option<i64>,
    pub(crate) at: Timestamp,
}

/// An agent is in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Chatting {
    pub(crate) agent: Agent,
    /// The agent asked for a file; the user's next picture with a link answers it.
    pub(crate) file_requested: bool,
}

/// The user asked to end; the session has not reported `Ended` yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ending {
    /// The agent's name, if one had joined.
    pub(crate) agent: Option<String>,
    /// User messages that arrived meanwhile; they are handled as new once the chat is over.
    pub(crate) held: Vec<UserMessage>,
}

/// The user's reply window: how many sends are left and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Window {
    pub(crate) remaining: u32,
    /// `None` before the user's first message.
    pub(crate) expires_at: Option<Timestamp>,
    /// The agent was warned that few sends are left, in this window.
    pub(crate) warned: bool,
    /// The agent was told the window closed, in this window.
    pub(crate) closed_told: bool,
    /// Counts reopenings, so that a failure report for a send of an older window does not
    /// close the current one.
    pub(crate) generation: u64,
}

impl Window {
    pub(crate) const CLOSED: Window = Window {
        remaining: 0,
        expires_at: None,
        warned: false,
        closed_told: false,
        generation: 0,
    };

    /// Whether one more message can be sent at `at`.
    pub(crate) fn allows_send_at(&self, at: Timestamp) -> bool {
        self.remaining > 0 && self.expires_at.is_some_and(|end| at < end)
    }
}

/// Agent lines waiting to be merged into one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Relay {
    pub(crate) lines: Vec<String>,
    /// When the merged message goes out; `None` while `lines` is empty.
    pub(crate) flush_at: Option<Timestamp>,
}

/// Agent lines that could not go out because the user's reply window was closed: sent, oldest
/// first, when the user writes again. What does not fit, and what a closing window refused, is
/// counted as lost and reported to the agent once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Kept {
    /// Lines for the user, oldest first, within [`kept_max_bytes`](super::ConversationConfig::kept_max_bytes).
    pub(crate) lines: Vec<String>,
    /// Lines that will never reach the user, not yet reported to the agent.
    pub(crate) lost: u32,
    /// The latest of them, shortened, for the report.
    pub(crate) latest_lost: Option<String>,
}

impl Kept {
    /// Bytes the kept lines take as one message (joined by newlines).
    pub(crate) fn bytes(&self) -> usize {
        self.lines.iter().map(|l| l.len() + 1).sum::<usize>()
    }
}

/// Where the user is, as the channel last reported it on its own (not a shared place).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
}

/// A send whose outcome has not been reported yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InFlight {
    /// The agent lines it carries (empty for notices and typing).
    pub(crate) agent_lines: Vec<String>,
    /// The window it was sent in.
    pub(crate) generation: u64,
}

/// Everything a conversation needs to resume after a crash, as stored by the engine.
///
/// Serde-serialisable in any format, including bincode 2 (no skipped or untagged fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) user: UserRef,
    pub(crate) state: State,
    pub(crate) window: Window,
    pub(crate) relay: Relay,
    pub(crate) in_flight: BTreeMap<u64, InFlight>,
    pub(crate) next_delivery: u64,
    /// When the user was last shown the typing indicator (reset by every message).
    pub(crate) typing_since: Option<Timestamp>,
    /// How many chats this conversation has started.
    pub(crate) chats_started: u64,
    /// Agent lines waiting for the window to reopen, and what was lost.
    pub(crate) kept: Kept,
    /// The latest location the channel reported on its own (WeChat's periodic report), for the
    /// agent in the next chat request.
    pub(crate) last_location: Option<Coordinates>,
}

impl Snapshot {
    /// The user this conversation belongs to.
    pub fn user(&self) -> &UserRef {
        &self.user
    }

    /// How many chats this conversation has started, for naming them (`…:1`, `…:2`).
    pub fn chats_started(&self) -> u64 {
        self.chats_started
    }
}
