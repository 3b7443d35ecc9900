//! The agent-desk vocabulary: what a [`Conversation`](crate::conversation::Conversation) needs
//! from any agent desk, and what it asks of one — whether the desk is Salesforce Live Agent
//! (Legacy Chat, [`crate::session`]) or another. Each desk's machine translates its own protocol
//! into these types at its edge (for Live Agent: [`crate::session::desk`]); the conversation
//! names nothing else.
//!
//! | direction | type | what |
//! |---|---|---|
//! | conversation → desk | [`ChatStart`] | start a chat: the visitor's name, language and labelled details |
//! | conversation → desk | [`DeskRequest`] | visitor text, typing, end |
//! | desk → conversation | [`DeskEvent`] | queued, agent joined, agent text and typing, transferred, file requested, ended |

use serde::{Deserialize, Serialize};

/// The agent handling a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Display name, as the user may be told it.
    pub name: String,
    /// The desk's id for the agent (a Salesforce user id), for logs.
    pub id: String,
}

/// One labelled detail about the visitor, shown to the agent with the chat request (the
/// channel's user id goes here, so the desk can find the customer's record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// What it is (`WeChat OpenID`).
    pub label: String,
    /// Its value.
    pub value: String,
}

impl Detail {
    /// A detail.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Detail {
        Detail {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// What a chat starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatStart {
    /// The name the agent sees.
    pub visitor_name: String,
    /// The visitor's language (`zh-CN`); empty when not known.
    pub language: String,
    /// Details shown to the agent, in order.
    pub details: Vec<Detail>,
}

/// What the conversation asks of the live chat's desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeskRequest {
    /// Text for the agent, in order. A desk holds it until an agent joins.
    Text(String),
    /// The visitor started (`true`) or stopped typing.
    Typing(bool),
    /// The visitor ends the chat.
    End,
}

/// Something the desk reports about the live chat, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeskEvent {
    /// Waiting for an agent.
    Queued {
        /// Position in the queue, 0 = next, when the desk says.
        position: Option<i64>,
        /// Estimated wait in seconds, when known (negative: unknown).
        wait_secs: Option<i64>,
    },
    /// An agent accepted the chat.
    AgentJoined(Agent),
    /// Another agent took the chat over.
    Transferred(Agent),
    /// Text from the agent.
    AgentText(String),
    /// The agent started (`true`) or stopped typing.
    AgentTyping(bool),
    /// The agent asked the visitor for a file.
    FileRequested,
    /// A file request is over (answered, cancelled or failed).
    FileRequestDone,
    /// The chat is over; nothing more goes to it.
    Ended {
        /// Why, grouped by who ended it.
        reason: EndReason,
        /// Visitor texts the desk never passed to an agent (typed while queued), in order.
        unsent: Vec<String>,
    },
}

/// Why a chat ended, grouped by who ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The agent ended it.
    Agent,
    /// The visitor ended it, and the desk confirmed.
    Visitor,
    /// The desk ended it.
    Desk(DeskEnd),
    /// The desk could not be reached for longer than its connection budget allows.
    Unreachable,
}

/// Why the desk ended a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeskEnd {
    /// No agent took the chat (none available, none accepted, the request was refused).
    NoAgent,
    /// The visitor was idle too long.
    VisitorIdle,
    /// The desk no longer knows the chat (expired, or ended elsewhere).
    Expired,
    /// Another reason, as the desk named it.
    Other(String),
}

impl EndReason {
    /// A stable name for logs and metrics.
    pub fn name(&self) -> String {
        match self {
            EndReason::Agent => "ended by agent".into(),
            EndReason::Visitor => "ended by visitor".into(),
            EndReason::Desk(DeskEnd::NoAgent) => "no agent".into(),
            EndReason::Desk(DeskEnd::VisitorIdle) => "visitor idle".into(),
            EndReason::Desk(DeskEnd::Expired) => "session expired".into(),
            EndReason::Desk(DeskEnd::Other(other)) => format!("ended by the desk ({other})"),
            EndReason::Unreachable => "desk unreachable".into(),
        }
    }
}
