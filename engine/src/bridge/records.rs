//! What the bridge stores: one record per conversation (tree `conversations`) and the
//! conversation's pending actions (tree `actions`), in two lanes so that a slow delivery to
//! the user never holds up text on its way to the agent.

use serde::{Deserialize, Serialize};
use switchboard_core::conversation::{DeliveryId, Snapshot as ConversationSnapshot, ToUser};
use switchboard_core::desk::{ChatStart, DeskRequest, Detail};
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
    StartChat(ChatId, ChatStart),
    /// Pass a request to `chat`'s desk.
    Desk(ChatId, DeskRequest),
    /// Deliver to the user.
    Send(DeliveryId, ToUser),
}

impl Action {
    pub(crate) fn lane(&self) -> Lane {
        match self {
            Action::StartChat(..) | Action::Desk(..) => Lane::Session,
            Action::Send(..) => Lane::User,
        }
    }
}

/// An [`Action`] as record format 1 stored it, in Live Agent's terms.
#[derive(Debug, Clone, Deserialize)]
pub(crate) enum ActionV1 {
    StartChat(ChatId, ChatRequest),
    Visitor(ChatId, VisitorAction),
    Send(DeliveryId, ToUser),
}

impl From<ActionV1> for Action {
    fn from(v1: ActionV1) -> Action {
        match v1 {
            ActionV1::StartChat(chat, request) => Action::StartChat(
                chat,
                ChatStart {
                    visitor_name: request.visitor_name,
                    language: request.language,
                    details: request
                        .prechat_details
                        .into_iter()
                        .map(|d| Detail::new(d.label, d.value))
                        .collect(),
                },
            ),
            // The conversation only ever queued texts and ends (typing is never queued).
            ActionV1::Visitor(chat, action) => Action::Desk(
                chat,
                match action {
                    VisitorAction::Text(text) => DeskRequest::Text(text),
                    VisitorAction::End => DeskRequest::End,
                    VisitorAction::Typing | VisitorAction::SneakPeek { .. } => {
                        DeskRequest::Typing(true)
                    }
                    VisitorAction::NotTyping | VisitorAction::CustomEvent { .. } => {
                        DeskRequest::Typing(false)
                    }
                },
            ),
            ActionV1::Send(delivery, message) => Action::Send(delivery, message),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::envelope::decode_migrating;
    use switchboard_core::liveagent::CustomDetail;

    /// Bytes of record format 1 for `value` (the same body encoding, an older header).
    fn format_one<T: Serialize>(value: &T) -> Vec<u8> {
        let mut bytes = crate::store::envelope::encode(value).unwrap();
        bytes[..2].copy_from_slice(&1u16.to_be_bytes());
        bytes
    }

    #[derive(Serialize)]
    enum ActionV1Out {
        StartChat(ChatId, ChatRequest),
        Visitor(ChatId, VisitorAction),
    }

    #[test]
    fn actions_queued_by_release_0_1_are_read_in_the_desk_vocabulary() {
        let chat = ChatId("wechat:oUser#1".into());
        let start = format_one(&ActionV1Out::StartChat(
            chat.clone(),
            ChatRequest {
                visitor_name: "Wei".into(),
                language: "zh-CN".into(),
                prechat_details: vec![CustomDetail::shown("WeChat OpenID", "oUser")],
                prechat_entities: vec![],
            },
        ));
        let Action::StartChat(read_chat, read) =
            decode_migrating::<Action, ActionV1>(&start).unwrap()
        else {
            panic!("not a start")
        };
        assert_eq!(read_chat, chat);
        assert_eq!(read.details, [Detail::new("WeChat OpenID", "oUser")]);
        let text = format_one(&ActionV1Out::Visitor(
            chat.clone(),
            VisitorAction::Text("你好".into()),
        ));
        assert!(matches!(
            decode_migrating::<Action, ActionV1>(&text).unwrap(),
            Action::Desk(_, DeskRequest::Text(t)) if t == "你好"
        ));
    }
}
