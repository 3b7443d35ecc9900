//! The PostgreSQL implementation of [`Store`] (feature `postgres`, `[store] type = "postgres"`):
//! the sled trees as tables of schema `switchboard`, each value the same versioned record.
//!
//! How it keeps the [`Store`] contract:
//! - **Reads** come from an in-memory mirror ([`MemoryStore`]) loaded at open: this process is
//!   the database's only writer (a session-level advisory lock, held by the writer's connection
//!   for as long as the store lives, refuses a second one), so what it committed is what the
//!   database holds or is about to.
//! - **A commit** applies its unit to the mirror and queues it, encoded, for the writer.
//! - **[`Store::flush`]** returns once every unit queued before it is committed in PostgreSQL:
//!   the writer takes everything queued and writes it in one transaction (group commit), so a
//!   burst of pushes costs one durable write, and a unit is in the database whole or not at all.
//!   While the database cannot be reached the writer keeps the batch, reconnects with backoff
//!   and writes it again; a flush waiting longer than [`FLUSH_TIMEOUT`] fails, so the webhook
//!   that waits on it is answered with an error and redelivered by the platform.
//! - A process that dies loses only units no flush returned for.
//!
//! Module map: `connect` (URL, TLS, the lock), `schema` (migrations in
//! `engine/migrations/postgres/`, versioned; a newer database is refused), `load` (the mirror
//! from the tables), `writer` (the queue and the group-committing task).

mod connect;
mod load;
mod schema;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::envelope::encode;
use super::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, Lane,
    MemoryStore, OutboxEntry, OutboxEvent, SessionRecord, Store, StoreError, WebhookKey,
};
pub use schema::PG_SCHEMA_VERSION;
use writer::{ActionKey, Write, Writer};

/// How long a flush waits for the database before it fails.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL-backed store. Cheap to clone; the writer (and the lock) go with the last clone.
#[derive(Debug, Clone)]
pub struct PgStore {
    mirror: MemoryStore,
    writer: Arc<Writer>,
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or `key=value` string; TLS as its
    /// `sslmode` says), takes the store's lock, applies pending migrations and loads every
    /// record. Must be called inside a tokio runtime (the writer runs on it).
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let target = connect::Target::parse(url)?;
        let mut conn = target.connect().await?;
        conn.lock(&target).await?;
        schema::migrate(&mut conn.client, &target).await?;
        let (mirror, dropped) = load::mirror(&conn.client, &target).await?;
        let writer = Writer::start(target, conn);
        for action in dropped {
            writer.push(Write::RemoveAction(action));
        }
        Ok(PgStore {
            mirror,
            writer: Arc::new(writer),
        })
    }
}

fn action_key(id: &ActionId) -> ActionKey {
    ActionKey {
        conversation: id.conversation.0.as_bytes().to_vec(),
        lane: lane_number(id.lane),
        seq: id.seq as i64,
    }
}

/// A lane as the `actions.lane` column holds it.
fn lane_number(lane: Lane) -> i16 {
    match lane {
        Lane::Session => 0,
        Lane::User => 1,
    }
}

#[async_trait]
impl Store for PgStore {
    fn load_sessions(&self) -> Result<Vec<(ChatId, SessionRecord)>, StoreError> {
        self.mirror.load_sessions()
    }

    fn commit_session(
        &self,
        chat: &ChatId,
        record: &SessionRecord,
        events: &[OutboxEvent],
        done: Option<&ActionId>,
    ) -> Result<(), StoreError> {
        let write = Write::Session {
            chat: chat.0.as_bytes().to_vec(),
            record: encode(record)?,
            first: record.next_event.saturating_sub(events.len() as u64) as i64,
            events: events.iter().map(encode).collect::<Result<_, _>>()?,
            done: done.map(action_key),
        };
        self.mirror.commit_session(chat, record, events, done)?;
        self.writer.push(write);
        Ok(())
    }

    fn load_session(&self, chat: &ChatId) -> Result<Option<SessionRecord>, StoreError> {
        self.mirror.load_session(chat)
    }

    fn has_session(&self, chat: &ChatId) -> Result<bool, StoreError> {
        self.mirror.has_session(chat)
    }

    fn outbox(&self, chat: &ChatId) -> Result<Vec<OutboxEntry>, StoreError> {
        self.mirror.outbox(chat)
    }

    fn ack_outbox(&self, chat: &ChatId, seq: u64) -> Result<(), StoreError> {
        self.mirror.ack_outbox(chat, seq)?;
        self.writer.push(Write::AckOutbox {
            chat: chat.0.as_bytes().to_vec(),
            seq: seq.min(i64::MAX as u64) as i64,
        });
        Ok(())
    }

    fn remove_session(&self, chat: &ChatId) -> Result<(), StoreError> {
        self.mirror.remove_session(chat)?;
        self.writer.push(Write::RemoveSession {
            chat: chat.0.as_bytes().to_vec(),
        });
        Ok(())
    }

    fn load_conversations(&self) -> Result<Vec<(ConversationId, ConversationRecord)>, StoreError> {
        self.mirror.load_conversations()
    }

    fn commit_conversation(&self, unit: &ConversationUnit<'_>) -> Result<(), StoreError> {
        let write = Write::Conversation {
            id: unit.id.0.as_bytes().to_vec(),
            record: encode(unit.record)?,
            enqueue: unit
                .enqueue
                .iter()
                .map(|(id, action)| Ok((action_key(id), encode(action)?)))
                .collect::<Result<_, StoreError>>()?,
            seen: unit
                .seen
                .as_ref()
                .map(|(key, at)| (key.0.as_bytes().to_vec(), *at as i64)),
            done: unit.done.as_ref().map(action_key),
        };
        self.mirror.commit_conversation(unit)?;
        self.writer.push(write);
        Ok(())
    }

    fn first_action(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<Option<(ActionId, Action)>, StoreError> {
        self.mirror.first_action(conversation, lane)
    }

    fn count_actions(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<usize, StoreError> {
        self.mirror.count_actions(conversation, lane)
    }

    fn remove_action(&self, id: &ActionId) -> Result<(), StoreError> {
        self.mirror.remove_action(id)?;
        self.writer.push(Write::RemoveAction(action_key(id)));
        Ok(())
    }

    fn webhook_seen(&self, key: &WebhookKey) -> Result<bool, StoreError> {
        self.mirror.webhook_seen(key)
    }

    fn prune_webhook_keys(&self, before_ms: u64) -> Result<usize, StoreError> {
        let pruned = self.mirror.prune_webhook_keys(before_ms)?;
        if pruned > 0 {
            self.writer.push(Write::PruneInbox {
                before_ms: before_ms.min(i64::MAX as u64) as i64,
            });
        }
        Ok(pruned)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush(FLUSH_TIMEOUT).await
    }
}
