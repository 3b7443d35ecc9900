//! What the bridge stores: one record per conversation (tree `conversations`) and the
//! conversation's pending actions (tree `actions`), in two lanes so that a slow delivery to
//! the user never holds up text on its way to the agent.

use serde::{Deserialize, Serialize};
use switchboard_core::conversation::{DeliveryId, Snapshot as ConversationSnapshot, ToUser};
use switchboard_core::session::{ChatRequest, VisitorAction};

use crate::store::ChatId;

/// Tree of conversation records.
pub(crate) const CONVERSATIONS_TREE: &str = "conversations";

/// One conversation: a channel user and their chats.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConversationRecord {
    pub(crate) snapshot: ConversationSnapshot,
    pub(crate) channel: String,
    pub(crate) user: String,
    /// Chats started so far; the live chat's id ends in `#{chats}`.
    pub(crate) chats: u64,
    /// The chat the session lane talks to.
    pub(crate) live_chat: Option<ChatId>,
    /// Per chat, the last outbox event the conversation has taken in.
    pub(crate) taken: Option<(ChatId, u64)>,
    /// Next action number.
    pub(crate) next_action: u64,
}

/// A [`ConversationRecord`] as record format 1 stored it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConversationRecordV1 {
    snapshot: switchboard_core::conversation::legacy::SnapshotV1,
    channel: String,
    user: String,
    chats: u64,
    live_chat: Option<ChatId>,
    taken: Option<(ChatId, u64)>,
    next_action: u64,
}

impl From<ConversationRecordV1> for ConversationRecord {
    fn from(v1: ConversationRecordV1) -> ConversationRecord {
        ConversationRecord {
            snapshot: v1.snapshot.into(),
            channel: v1.channel,
            user: v1.user,
            chats: v1.chats,
            live_chat: v1.live_chat,
            taken: v1.taken,
            next_action: v1.next_action,
        }
    }
}

/// Which worker performs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Lane {
    /// Towards the agent (the engine's session).
    Session,
    /// Towards the user (the channel).
    User,
}

impl Lane {
    fn byte(self) -> u8 {
        match self {
            Lane::Session => b's',
            Lane::User => b'u',
        }
    }
}

/// One pending action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Action {
    /// Start the chat `chat` with this request.
    StartChat(ChatId, ChatRequest),
    /// Pass a visitor action to `chat`.
    Visitor(ChatId, VisitorAction),
    /// Deliver to the user.
    Send(DeliveryId, ToUser),
}

impl Action {
    pub(crate) fn lane(&self) -> Lane {
        match self {
            Action::StartChat(..) | Action::Visitor(..) => Lane::Session,
            Action::Send(..) => Lane::User,
        }
    }
}

/// `{conversation}\0{lane}{seq}`: actions sort by conversation, lane, then order.
pub(crate) fn action_key(conversation: &str, lane: Lane, seq: u64) -> Vec<u8> {
    let mut key = lane_prefix(conversation, lane);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn lane_prefix(conversation: &str, lane: Lane) -> Vec<u8> {
    let mut key = conversation.as_bytes().to_vec();
    key.push(0);
    key.push(lane.byte());
    key
}

/// The conversation a chat id belongs to (`{conversation}#{n}`).
pub(crate) fn conversation_of(chat: &ChatId) -> Option<&str> {
    chat.0
        .rsplit_once('#')
        .map(|(conversation, _)| conversation)
}
