//! One session as the server sees it: credentials, chat phase, the numbered event log and the
//! sequence of visitor POSTs it accepted.

use crate::liveagent::event::{ChasitorSessionData, Event, TranscriptEntry};
use crate::time::Timestamp;

/// Where the chat stands on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// After SessionId; waiting for ChasitorInit.
    Created,
    /// ChasitorInit accepted; waiting for an agent.
    Requested,
    /// An agent accepted.
    Established {
        /// The agent's display name.
        agent: String,
    },
    /// ChatEnded was queued; the session answers 403 once its events are drained.
    Ended,
}

/// One logged event with the offset it was given.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Logged {
    pub(crate) offset: i64,
    pub(crate) event: Event,
}

/// A session on the server.
#[derive(Debug, Clone)]
pub struct ServerSession {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) affinity_token: String,
    pub(crate) phase: Phase,
    /// Events numbered by position: the first event of a session is number 0.
    pub(crate) log: Vec<Logged>,
    /// Next event number a poll without `ack` gets.
    pub(crate) next_undelivered: usize,
    /// Last visitor POST number accepted (0 = none).
    pub(crate) last_sequence: u32,
    /// A `Messages` request is being held.
    pub(crate) poll_open: bool,
    /// The session moved: requests with the old token get 503 until ReconnectSession.
    pub(crate) moved: bool,
    /// A failover happened at least once (ReconnectSession otherwise answers 405).
    pub(crate) ever_moved: bool,
    /// ReconnectSession done, ChasitorResyncState not yet.
    pub(crate) awaiting_resync_state: bool,
    pub(crate) last_activity: Timestamp,
    pub(crate) visitor_name: String,
    pub(crate) prechat: Vec<(String, String)>,
    /// Texts the agent received from the visitor, in order.
    pub(crate) visitor_texts: Vec<String>,
    /// Texts the agent sent, in order.
    pub(crate) agent_texts: Vec<String>,
    pub(crate) transcript: Vec<TranscriptEntry>,
    pub(crate) visitor_typing: bool,
    pub(crate) custom_events: Vec<(String, String)>,
}

impl ServerSession {
    pub(crate) fn new(id: String, key: String, affinity_token: String, now: Timestamp) -> Self {
        Self {
            id,
            key,
            affinity_token,
            phase: Phase::Created,
            log: Vec::new(),
            next_undelivered: 0,
            last_sequence: 0,
            poll_open: false,
            moved: false,
            ever_moved: false,
            awaiting_resync_state: false,
            last_activity: now,
            visitor_name: String::new(),
            prechat: Vec::new(),
            visitor_texts: Vec::new(),
            agent_texts: Vec::new(),
            transcript: Vec::new(),
            visitor_typing: false,
            custom_events: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, offset: i64, event: Event) {
        self.log.push(Logged { offset, event });
    }

    /// Events after `ack` (or after the last delivered when `ack` is absent).
    pub(crate) fn pending_from(&self, ack: Option<i64>) -> usize {
        match ack {
            Some(ack) => usize::try_from(ack.saturating_add(1)).unwrap_or(0),
            None => self.next_undelivered,
        }
    }

    pub(crate) fn has_pending(&self, from: usize) -> bool {
        from < self.log.len()
    }

    /// Queues `ChasitorSessionData` with the transcript so far. It is appended, never inserted:
    /// renumbering events under a client's `ack` would make it see events twice. Events the
    /// client had not received before the failover therefore come before it (the spec's
    /// "first event" holds whenever the client was up to date).
    pub(crate) fn push_session_data(&mut self, offset: i64) {
        let queue_position = match self.phase {
            Phase::Requested => Some(0),
            Phase::Created | Phase::Established { .. } | Phase::Ended => None,
        };
        let data = ChasitorSessionData {
            queue_position,
            sneak_peek_enabled: false,
            chat_messages: self.transcript.clone(),
        };
        self.push(offset, Event::ChasitorSessionData(data));
    }

    /// The session's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The chat phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Texts the agent received, in order.
    pub fn visitor_texts(&self) -> &[String] {
        &self.visitor_texts
    }

    /// Texts the agent sent, in order.
    pub fn agent_texts(&self) -> &[String] {
        &self.agent_texts
    }

    /// The visitor name from ChasitorInit.
    pub fn visitor_name(&self) -> &str {
        &self.visitor_name
    }

    /// Pre-chat details from ChasitorInit, `(label, value)`.
    pub fn prechat(&self) -> &[(String, String)] {
        &self.prechat
    }

    /// Whether the visitor is typing.
    pub fn visitor_typing(&self) -> bool {
        self.visitor_typing
    }

    /// The current affinity token.
    pub fn affinity_token(&self) -> &str {
        &self.affinity_token
    }

    /// The session key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether a `Messages` poll is being held.
    pub fn poll_open(&self) -> bool {
        self.poll_open
    }

    /// Whether the session moved (failover injected, ReconnectSession not yet done).
    pub fn moved(&self) -> bool {
        self.moved
    }

    /// Custom events from the visitor, `(type, data)`.
    pub fn custom_events(&self) -> &[(String, String)] {
        &self.custom_events
    }
}
