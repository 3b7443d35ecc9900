//! An in-memory [`Store`] for fast tests: the same typed records and units of work as the sled
//! store, in ordered maps behind one lock (so every unit is atomic). Every commit counts as
//! durable; [`MemoryStore::reopen`] gives the handle a restarted process would get.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, Lane,
    OutboxEntry, OutboxEvent, SessionRecord, Store, StoreError, WebhookKey,
};

#[derive(Debug, Default)]
struct Data {
    sessions: BTreeMap<ChatId, SessionRecord>,
    outbox: BTreeMap<(ChatId, u64), OutboxEvent>,
    conversations: BTreeMap<ConversationId, ConversationRecord>,
    actions: BTreeMap<ActionId, Action>,
    inbox: BTreeMap<WebhookKey, u64>,
}

/// In-memory store. Clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    data: Arc<Mutex<Data>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The store a restarted process would open: everything committed, nothing else.
    pub fn reopen(&self) -> MemoryStore {
        self.clone()
    }

    /// Puts a session record as it was stored (loading a mirror of another store).
    #[cfg(feature = "postgres")]
    pub(super) fn put_session(&self, chat: ChatId, record: SessionRecord) {
        self.data().sessions.insert(chat, record);
    }

    /// Puts an outbox event as it was stored.
    #[cfg(feature = "postgres")]
    pub(super) fn put_outbox(&self, chat: ChatId, seq: u64, event: OutboxEvent) {
        self.data().outbox.insert((chat, seq), event);
    }

    /// Puts a conversation record as it was stored.
    #[cfg(feature = "postgres")]
    pub(super) fn put_conversation(&self, id: ConversationId, record: ConversationRecord) {
        self.data().conversations.insert(id, record);
    }

    /// Puts a queued action as it was stored.
    #[cfg(feature = "postgres")]
    pub(super) fn put_action(&self, id: ActionId, action: Action) {
        self.data().actions.insert(id, action);
    }

    /// Puts a webhook key with its arrival time.
    #[cfg(feature = "postgres")]
    pub(super) fn put_webhook_key(&self, key: WebhookKey, at_ms: u64) {
        self.data().inbox.insert(key, at_ms);
    }

    /// Forgets the sessions, outboxes, conversations and actions of shard `shard` (another
    /// instance holds it now). Webhook keys stay: they are facts about pushes, pruned by age.
    #[cfg(feature = "postgres")]
    pub(super) fn forget_shard(&self, shard: u16) {
        let mut data = self.data();
        data.sessions.retain(|chat, _| chat.shard() != shard);
        data.outbox.retain(|(chat, _), _| chat.shard() != shard);
        data.conversations.retain(|id, _| id.shard() != shard);
        data.actions
            .retain(|id, _| id.conversation.shard() != shard);
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lane_range(conversation: &ConversationId, lane: Lane) -> std::ops::RangeInclusive<ActionId> {
    let at = |seq| ActionId {
        conversation: conversation.clone(),
        lane,
        seq,
    };
    at(0)..=at(u64::MAX)
}

#[async_trait]
impl Store for MemoryStore {
    fn load_sessions(&self) -> Result<Vec<(ChatId, SessionRecord)>, StoreError> {
        Ok(self
            .data()
            .sessions
            .iter()
            .map(|(chat, record)| (chat.clone(), record.clone()))
            .collect())
    }

    fn commit_session(
        &self,
        chat: &ChatId,
        record: &SessionRecord,
        events: &[OutboxEvent],
        done: Option<&ActionId>,
    ) -> Result<(), StoreError> {
        let first = record.next_event.saturating_sub(events.len() as u64);
        let mut data = self.data();
        data.sessions.insert(chat.clone(), record.clone());
        for (i, event) in events.iter().enumerate() {
            data.outbox
                .insert((chat.clone(), first + i as u64), event.clone());
        }
        if let Some(done) = done {
            data.actions.remove(done);
        }
        Ok(())
    }

    fn load_session(&self, chat: &ChatId) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.data().sessions.get(chat).cloned())
    }

    fn has_session(&self, chat: &ChatId) -> Result<bool, StoreError> {
        Ok(self.data().sessions.contains_key(chat))
    }

    fn outbox(&self, chat: &ChatId) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(self
            .data()
            .outbox
            .range((chat.clone(), 0)..=(chat.clone(), u64::MAX))
            .map(|((_, seq), event)| OutboxEntry {
                seq: *seq,
                event: event.clone(),
            })
            .collect())
    }

    fn ack_outbox(&self, chat: &ChatId, seq: u64) -> Result<(), StoreError> {
        let mut data = self.data();
        let acked: Vec<(ChatId, u64)> = data
            .outbox
            .range((chat.clone(), 0)..=(chat.clone(), seq))
            .map(|(key, _)| key.clone())
            .collect();
        for key in acked {
            data.outbox.remove(&key);
        }
        Ok(())
    }

    fn remove_session(&self, chat: &ChatId) -> Result<(), StoreError> {
        let mut data = self.data();
        data.outbox.retain(|(c, _), _| c != chat);
        data.sessions.remove(chat);
        Ok(())
    }

    fn load_conversations(&self) -> Result<Vec<(ConversationId, ConversationRecord)>, StoreError> {
        Ok(self
            .data()
            .conversations
            .iter()
            .map(|(id, record)| (id.clone(), record.clone()))
            .collect())
    }

    fn commit_conversation(&self, unit: &ConversationUnit<'_>) -> Result<(), StoreError> {
        let mut data = self.data();
        data.conversations
            .insert(unit.id.clone(), unit.record.clone());
        for (id, action) in &unit.enqueue {
            data.actions.insert(id.clone(), action.clone());
        }
        if let Some((key, at)) = &unit.seen {
            data.inbox.insert(key.clone(), *at);
        }
        if let Some(done) = &unit.done {
            data.actions.remove(done);
        }
        Ok(())
    }

    fn first_action(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<Option<(ActionId, Action)>, StoreError> {
        Ok(self
            .data()
            .actions
            .range(lane_range(conversation, lane))
            .next()
            .map(|(id, action)| (id.clone(), action.clone())))
    }

    fn count_actions(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<usize, StoreError> {
        Ok(self
            .data()
            .actions
            .range(lane_range(conversation, lane))
            .count())
    }

    fn remove_action(&self, id: &ActionId) -> Result<(), StoreError> {
        self.data().actions.remove(id);
        Ok(())
    }

    fn webhook_seen(&self, key: &WebhookKey) -> Result<bool, StoreError> {
        Ok(self.data().inbox.contains_key(key))
    }

    fn prune_webhook_keys(&self, before_ms: u64) -> Result<usize, StoreError> {
        let mut data = self.data();
        let before = data.inbox.len();
        data.inbox.retain(|_, at| *at >= before_ms);
        Ok(before - data.inbox.len())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
