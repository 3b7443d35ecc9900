//! One conversation as the server sees it: its owner, whether it is open, where its current
//! messaging session stands (routing, waiting, with an agent, ended), its entries and what the
//! end user sent (§3, §5, §6).

use std::collections::{BTreeSet, VecDeque};

use super::entry::Entry;
use crate::time::Timestamp;

/// Where the current messaging session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Asked for an agent; the `RoutingResult` comes at `due`.
    Routing {
        /// When routing answers.
        due: Timestamp,
        /// `Initial` or `Transfer`.
        transfer: bool,
    },
    /// Routed to a queue; waiting for an agent to accept.
    Waiting,
    /// An agent is in the conversation.
    Active {
        /// The agent's display name.
        agent: String,
    },
    /// The session ended (agent end, end-user end, routing failure): messages get 417 until
    /// one carries `isNewMessagingSession`.
    Ended,
}

/// `GET /conversation/{id}` values (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingStatus {
    /// Created, not yet routed.
    Initial,
    /// Routed to a queue or an agent.
    Routed,
    /// A transfer is under way.
    Transfer,
    /// No agent: the session ended or routing failed.
    NeedsRouting,
}

impl RoutingStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingStatus::Initial => "INITIAL",
            RoutingStatus::Routed => "ROUTED",
            RoutingStatus::Transfer => "TRANSFER",
            RoutingStatus::NeedsRouting => "NEEDS_ROUTING",
        }
    }
}

/// A conversation on the server.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub(crate) id: String,
    pub(crate) subject: String,
    pub(crate) created_at: Timestamp,
    pub(crate) closed_at: Option<Timestamp>,
    pub(crate) session: SessionState,
    pub(crate) routing_status: RoutingStatus,
    pub(crate) routing_attributes: serde_json::Value,
    /// Transcripted entries in order.
    pub(crate) entries: Vec<Entry>,
    /// Message ids the end user sent (for the duplicate rule).
    pub(crate) message_ids: BTreeSet<String>,
    /// Times of accepted end-user messages within the last minute (rate limit).
    pub(crate) recent_messages: VecDeque<Timestamp>,
    /// Texts the end user sent, in order (what the agent read).
    pub(crate) end_user_texts: Vec<String>,
    /// Texts agents sent, in order.
    pub(crate) agent_texts: Vec<String>,
    pub(crate) end_user_typing: bool,
    /// `(entryType, conversationEntryId)` of the end user's acknowledgements.
    pub(crate) end_user_acks: Vec<(String, String)>,
    /// Sessions started in this conversation (1 after create).
    pub(crate) sessions_started: u32,
}

impl Conversation {
    pub(crate) fn new(
        id: String,
        subject: String,
        routing_attributes: serde_json::Value,
        now: Timestamp,
        due: Timestamp,
    ) -> Self {
        Self {
            id,
            subject,
            created_at: now,
            closed_at: None,
            session: SessionState::Routing {
                due,
                transfer: false,
            },
            routing_status: RoutingStatus::Initial,
            routing_attributes,
            entries: Vec::new(),
            message_ids: BTreeSet::new(),
            recent_messages: VecDeque::new(),
            end_user_texts: Vec::new(),
            agent_texts: Vec::new(),
            end_user_typing: false,
            end_user_acks: Vec::new(),
            sessions_started: 1,
        }
    }

    /// The conversation id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The owning subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// When it was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The current session's state.
    pub fn session(&self) -> &SessionState {
        &self.session
    }

    /// The agent in the conversation, if any.
    pub fn agent(&self) -> Option<&str> {
        match &self.session {
            SessionState::Active { agent } => Some(agent),
            SessionState::Routing { .. } | SessionState::Waiting | SessionState::Ended => None,
        }
    }

    /// `GET /conversation/{id}`'s value.
    pub fn routing_status(&self) -> RoutingStatus {
        self.routing_status
    }

    /// `routingAttributes` from create (or the latest new session).
    pub fn routing_attributes(&self) -> &serde_json::Value {
        &self.routing_attributes
    }

    /// Transcripted entries in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Texts the end user sent, in order.
    pub fn end_user_texts(&self) -> &[String] {
        &self.end_user_texts
    }

    /// Texts agents sent, in order.
    pub fn agent_texts(&self) -> &[String] {
        &self.agent_texts
    }

    /// Whether the end user is typing.
    pub fn end_user_typing(&self) -> bool {
        self.end_user_typing
    }

    /// The end user's acknowledgements, `(entryType, conversationEntryId)`.
    pub fn end_user_acks(&self) -> &[(String, String)] {
        &self.end_user_acks
    }

    /// Messaging sessions started so far.
    pub fn sessions_started(&self) -> u32 {
        self.sessions_started
    }
}
