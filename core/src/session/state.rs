//! The persisted part of a session: which state it is in and the data each state carries.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::ChatRequest;
use super::lane::{PostLane, VisitorPost};
use super::output::{Agent, EndReason};

/// The session's state, named after what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum State {
    /// No Live Agent session yet; `SessionId` is in flight.
    Init,
    /// Id, key and affinity token held; `ChasitorInit` is in flight and polling has started.
    Established(Chat),
    /// One `Messages` poll always out; visitor POSTs serialised.
    Polling(Chat),
    /// A 503 was seen; recovering the session before POSTs may go out again.
    Resyncing(Chat, ResyncStep),
    /// Terminal; no request leaves it.
    Ended(EndReason),
}

/// Where a failover recovery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ResyncStep {
    /// `ReconnectSession` (or `ResyncSession` below v37) is in flight.
    Reconnecting,
    /// Polling again, waiting for `ChasitorSessionData`.
    AwaitingSessionData,
    /// `ChasitorResyncState` is in flight; then the held POSTs are replayed.
    ResyncingState,
}

/// A chat that has a Live Agent session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Chat {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) affinity_token: String,
    pub(crate) client_poll_timeout: Duration,
    /// The `sequence` of the last batch processed; sent as `ack`.
    pub(crate) ack: i64,
    /// The `offset` of the last non-empty batch, for `ReconnectSession`.
    pub(crate) offset: Option<i64>,
    /// Budget for failing requests (`ChatRequestSuccess.connectionTimeout`).
    pub(crate) connection_timeout: Duration,
    /// Set once `ChatEstablished` arrived.
    pub(crate) agent: Option<Agent>,
    /// Visitor texts the server confirmed, to recognise a duplicate after a failover.
    pub(crate) delivered_texts: u64,
    /// The server has the chat request (its answer or a chat event arrived).
    pub(crate) request_confirmed: bool,
    /// How many visitor texts the server's transcript held at the last reconnect.
    pub(crate) texts_on_server: Option<u64>,
}

/// Everything a session needs to resume after a crash, as stored by the engine.
///
/// Restoring it with [`Session::restore`](super::Session::restore) resumes polling with the same
/// key, affinity token and `ack`, and re-sends un-acknowledged POSTs with their original numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) state: State,
    pub(crate) request: ChatRequest,
    pub(crate) lane: PostLane,
    /// Posts waiting for an agent to join.
    pub(crate) held: VecDeque<VisitorPost>,
    /// The id the next request gets. Ids only tell this incarnation's answers apart (answers
    /// to an earlier incarnation's requests never reach a restored session: they die with its
    /// driver), so a change of this alone is not worth a write; it is stored with the rest.
    pub(crate) next_request_id: u64,
}

impl Snapshot {
    /// Whether anything a restart needs differs from `before`: everything but the request
    /// ids handed out since.
    pub(crate) fn differs_from(&self, before: &Snapshot) -> bool {
        let Snapshot {
            state,
            request,
            lane,
            held,
            next_request_id: _,
        } = self;
        *state != before.state
            || *request != before.request
            || *lane != before.lane
            || *held != before.held
    }

    /// The Live Agent session id, once there is one.
    pub fn session_id(&self) -> Option<&str> {
        self.chat().map(|c| c.id.as_str())
    }

    /// The session key, once there is one. A secret: do not log it.
    pub fn session_key(&self) -> Option<&str> {
        self.chat().map(|c| c.key.as_str())
    }

    /// The affinity token, once there is one.
    pub fn affinity_token(&self) -> Option<&str> {
        self.chat().map(|c| c.affinity_token.as_str())
    }

    /// The `ack` the next poll carries.
    pub fn ack(&self) -> Option<i64> {
        self.chat().map(|c| c.ack)
    }

    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended(_))
    }

    /// Why it ended, if it has.
    pub fn end_reason(&self) -> Option<&EndReason> {
        match &self.state {
            State::Ended(reason) => Some(reason),
            State::Init | State::Established(_) | State::Polling(_) | State::Resyncing(..) => None,
        }
    }

    pub(crate) fn chat(&self) -> Option<&Chat> {
        match &self.state {
            State::Established(chat) | State::Polling(chat) | State::Resyncing(chat, _) => {
                Some(chat)
            }
            State::Init | State::Ended(_) => None,
        }
    }
}
