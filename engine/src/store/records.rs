//! The typed records the [`Store`](super::Store) keeps, and the ids that name them. Every record
//! is encoded in the versioned envelope (`store::envelope`); the `…V1` types are record format
//! 1's layouts, read when a store written by release 0.1 is opened.

use serde::{Deserialize, Serialize};
use switchboard_core::conversation::{DeliveryId, Snapshot as ConversationSnapshot, ToUser};
use switchboard_core::desk::{ChatStart, DeskEvent, DeskRequest, Detail};
use switchboard_core::session::{ChatRequest, SessionEvent, VisitorAction};

/// Names one chat: one conversation's session at an agent desk, `{conversation}#{n}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChatId(pub String);

impl std::fmt::Display for ChatId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ChatId {
    /// The `n`-th chat of `conversation`.
    pub fn nth(conversation: &ConversationId, n: u64) -> ChatId {
        ChatId(format!("{}#{n}", conversation.0))
    }

    /// The shard of the chat's conversation (of the chat id itself, if it has no conversation).
    pub fn shard(&self) -> u16 {
        match self.0.rsplit_once('#') {
            Some((conversation, _)) => switchboard_core::cluster::shard_of(conversation),
            None => switchboard_core::cluster::shard_of(&self.0),
        }
    }

    /// The conversation this chat belongs to, if the id has the `{conversation}#{n}` shape.
    pub fn conversation(&self) -> Option<ConversationId> {
        self.0
            .rsplit_once('#')
            .map(|(conversation, _)| ConversationId(conversation.to_owned()))
    }
}

/// Names one conversation: a channel user, `{channel}:{user}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConversationId(pub String);

impl ConversationId {
    /// The conversation of `user` on channel `channel`.
    pub fn of(channel: &str, user: &str) -> ConversationId {
        ConversationId(format!("{channel}:{user}"))
    }

    /// The shard it belongs to.
    pub fn shard(&self) -> u16 {
        switchboard_core::cluster::shard_of(&self.0)
    }
}

impl std::fmt::Display for ConversationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which worker performs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Lane {
    /// Towards the agent (the desk session).
    Session,
    /// Towards the user (the channel).
    User,
}

/// Names one queued action: the conversation's `seq`-th, in `lane`. Actions of a lane are
/// performed in `seq` order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId {
    /// Whose.
    pub conversation: ConversationId,
    /// Which worker.
    pub lane: Lane,
    /// Order within the conversation.
    pub seq: u64,
}

/// A webhook push's dedupe key, `{channel}\0{the platform's key}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WebhookKey(pub String);

impl WebhookKey {
    /// The key of a push on `channel` the platform identifies by `key`.
    pub fn of(channel: &str, key: &str) -> WebhookKey {
        WebhookKey(format!("{channel}\0{key}"))
    }
}

/// The state of a desk session, tagged with its desk so that another desk's sit beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeskSnapshot {
    /// A Salesforce Live Agent (Legacy Chat) session.
    LiveAgent(switchboard_core::session::Snapshot),
    /// A Salesforce Enhanced Chat conversation.
    EnhancedChat(switchboard_core::enhanced::chat::Snapshot),
}

impl DeskSnapshot {
    /// Whether the session is over (nothing more leaves it).
    pub fn is_ended(&self) -> bool {
        match self {
            DeskSnapshot::LiveAgent(snapshot) => snapshot.is_ended(),
            DeskSnapshot::EnhancedChat(snapshot) => snapshot.is_ended(),
        }
    }
}

/// What is stored for one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The desk session's state.
    pub snapshot: DeskSnapshot,
    /// Number the next outbox event gets.
    pub next_event: u64,
}

/// A [`SessionRecord`] as record format 1 stored it (Live Agent only, untagged).
#[derive(Debug, Clone, Deserialize)]
pub struct SessionRecordV1 {
    snapshot: switchboard_core::session::Snapshot,
    next_event: u64,
}

impl From<SessionRecordV1> for SessionRecord {
    fn from(v1: SessionRecordV1) -> SessionRecord {
        SessionRecord {
            snapshot: DeskSnapshot::LiveAgent(v1.snapshot),
            next_event: v1.next_event,
        }
    }
}

/// An event of a desk session, as its desk produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxEvent {
    /// A Live Agent session event (some mean nothing to a conversation: a recovered failover).
    LiveAgent(SessionEvent),
    /// An event already in the desk vocabulary (Enhanced Chat's).
    Desk(DeskEvent),
}

impl OutboxEvent {
    /// What the conversation takes from it, if anything.
    pub fn desk_event(self) -> Option<DeskEvent> {
        match self {
            OutboxEvent::LiveAgent(event) => switchboard_core::session::desk::desk_event(event),
            OutboxEvent::Desk(event) => Some(event),
        }
    }
}

impl From<SessionEvent> for OutboxEvent {
    fn from(event: SessionEvent) -> OutboxEvent {
        OutboxEvent::LiveAgent(event)
    }
}

/// One desk event waiting in the outbox, numbered per chat from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the chat's outbox.
    pub seq: u64,
    /// The event.
    pub event: OutboxEvent,
}

/// One conversation: a channel user and their chats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// The conversation machine's state.
    pub snapshot: ConversationSnapshot,
    /// Channel id.
    pub channel: String,
    /// The channel's id for the user.
    pub user: String,
    /// Chats started so far; the live chat's id ends in `#{chats}`.
    pub chats: u64,
    /// The chat the session lane talks to.
    pub live_chat: Option<ChatId>,
    /// Per chat, the last outbox event the conversation has taken in.
    pub taken: Option<(ChatId, u64)>,
    /// Next action number.
    pub next_action: u64,
}

/// A [`ConversationRecord`] as record format 1 stored it.
#[derive(Debug, Clone, Deserialize)]
pub struct ConversationRecordV1 {
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

/// One queued action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Start the chat `chat` with this request.
    StartChat(ChatId, ChatStart),
    /// Pass a request to `chat`'s desk.
    Desk(ChatId, DeskRequest),
    /// Deliver to the user.
    Send(DeliveryId, ToUser),
}

impl Action {
    /// The worker that performs it.
    pub fn lane(&self) -> Lane {
        match self {
            Action::StartChat(..) | Action::Desk(..) => Lane::Session,
            Action::Send(..) => Lane::User,
        }
    }
}

/// An [`Action`] as record format 1 stored it, in Live Agent's terms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ActionV1 {
    /// Start a chat.
    StartChat(ChatId, ChatRequest),
    /// A visitor action.
    Visitor(ChatId, VisitorAction),
    /// Deliver to the user.
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

/// One step of a conversation, committed atomically: its new record, the actions it queued,
/// the webhook key of the push that caused it (with the time it arrived, ms), and the action
/// it completed.
#[derive(Debug, Clone)]
pub struct ConversationUnit<'a> {
    /// Whose.
    pub id: &'a ConversationId,
    /// The record after the step.
    pub record: &'a ConversationRecord,
    /// Actions to queue.
    pub enqueue: Vec<(ActionId, Action)>,
    /// The push that caused the step, remembered so that its repeats are dropped.
    pub seen: Option<(WebhookKey, u64)>,
    /// The action the step completes, removed with it.
    pub done: Option<ActionId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::envelope::{decode_migrating, encode};
    use switchboard_core::liveagent::CustomDetail;

    /// Bytes of record format 1 for `value` (the same body encoding, an older header).
    fn format_one<T: Serialize>(value: &T) -> Vec<u8> {
        let mut bytes = encode(value).unwrap();
        bytes[..2].copy_from_slice(&1u16.to_be_bytes());
        bytes
    }

    #[test]
    fn actions_queued_by_release_0_1_are_read_in_the_desk_vocabulary() {
        let chat = ChatId("wechat:oUser#1".into());
        let start = format_one(&ActionV1::StartChat(
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
        let text = format_one(&ActionV1::Visitor(
            chat.clone(),
            VisitorAction::Text("你好".into()),
        ));
        assert!(matches!(
            decode_migrating::<Action, ActionV1>(&text).unwrap(),
            Action::Desk(_, DeskRequest::Text(t)) if t == "你好"
        ));
    }

    #[test]
    fn chat_ids_name_their_conversation() {
        let conversation = ConversationId::of("wechat", "oUser");
        let chat = ChatId::nth(&conversation, 3);
        assert_eq!(chat.0, "wechat:oUser#3");
        assert_eq!(chat.conversation(), Some(conversation));
    }
}
