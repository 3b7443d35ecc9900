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
//!
//! Several instances on one database ([`PgStore::open_shared`]): no lock; the instance holds
//! shards through leases ([`Leases`]), loads a shard's rows into the mirror when it takes the
//! shard ([`PgStore::adopt`]) and forgets them when it gives it up ([`PgStore::forget`]). A
//! commit to a shard it does not hold is refused ([`StoreError::NotOwner`]); a commit to a
//! shard taken over meanwhile is refused by the database ([`StoreError::Fenced`] at the flush).
//!
//! Module map: `connect` (URL, TLS, the lock), `schema` (migrations in
//! `engine/migrations/postgres/`, versioned; a newer database is refused), `load` (the mirror
//! from the tables), `writer` (the queue and the group-committing, fenced task), `lease` (the
//! lease rows: heartbeat, take, renew, hand over), `pushes` (pushes for shards held elsewhere).

mod connect;
mod lease;
mod load;
mod pushes;
mod schema;
mod writer;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::cluster::SHARDS;

use super::envelope::encode;
use super::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, Lane,
    MemoryStore, OutboxEntry, OutboxEvent, SessionRecord, Store, StoreError, WebhookKey,
};
pub use lease::{Acquired, Leases};
pub use pushes::{ListenGuard, Pushes, StoredPush};
pub use schema::PG_SCHEMA_VERSION;
use writer::{ActionKey, Fencing, Unit, Write, Writer};

/// How long a flush waits for the database before it fails.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL-backed store. Cheap to clone; the writer (and the lock) go with the last clone.
#[derive(Debug, Clone)]
pub struct PgStore {
    mirror: MemoryStore,
    writer: Arc<Writer>,
    /// The shards this instance writes, at the epoch it holds each at.
    held: Arc<Mutex<BTreeMap<u16, u64>>>,
    target: connect::Target,
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
        let mirror = MemoryStore::new();
        let dropped = load::into(&mirror, &conn.client, &target, None).await?;
        let store = PgStore {
            mirror,
            writer: Arc::new(Writer::start(target.clone(), conn, Fencing::Lock)),
            held: Arc::new(Mutex::new((0..SHARDS).map(|s| (s, 0)).collect())),
            target,
        };
        store.drop_undecodable(dropped);
        Ok(store)
    }

    /// Connects as instance `instance` of several sharing the database at `url`: applies
    /// pending migrations and holds no shard yet (take them through [`Leases`], then
    /// [`PgStore::adopt`]). Must be called inside a tokio runtime.
    pub async fn open_shared(url: &str, instance: &str) -> Result<PgStore, StoreError> {
        let target = connect::Target::parse(url)?;
        let mut conn = target.connect().await?;
        schema::migrate(&mut conn.client, &target).await?;
        let fencing = Fencing::Leases {
            instance: instance.to_owned(),
        };
        Ok(PgStore {
            mirror: MemoryStore::new(),
            writer: Arc::new(Writer::start(target.clone(), conn, fencing)),
            held: Arc::new(Mutex::new(BTreeMap::new())),
            target,
        })
    }

    /// The lease rows of this store's database, for instance `instance`.
    pub async fn leases(&self, instance: &str, ttl: Duration) -> Result<Leases, StoreError> {
        Leases::connect(self.target.clone(), instance, ttl).await
    }

    /// The table of pushes for shards held elsewhere.
    pub fn pushes(&self) -> Pushes {
        Pushes::new(self.target.clone())
    }

    /// Starts writing shard `shard`, taken at `epoch`: loads its rows into the mirror. Its
    /// conversations and sessions are then in [`Store::load_conversations`] and
    /// [`Store::load_sessions`].
    pub async fn adopt(&self, shard: u16, epoch: u64) -> Result<(), StoreError> {
        let conn = self.target.connect().await?;
        let dropped = load::into(&self.mirror, &conn.client, &self.target, Some(shard)).await?;
        lock(&self.held).insert(shard, epoch);
        self.drop_undecodable(dropped);
        Ok(())
    }

    /// Stops writing shard `shard` and forgets its rows here (they stay in the database for
    /// its next owner). Commits to it are refused from now on.
    pub fn forget(&self, shard: u16) {
        lock(&self.held).remove(&shard);
        self.mirror.forget_shard(shard);
    }

    /// Units of work the database refused because their shard had been taken over (fencing).
    pub fn fenced_writes(&self) -> u64 {
        self.writer.fenced_total()
    }

    /// The shards this instance writes, with their epochs.
    pub fn held(&self) -> BTreeMap<u16, u64> {
        lock(&self.held).clone()
    }

    fn drop_undecodable(&self, dropped: Vec<(u16, ActionKey)>) {
        for (shard, key) in dropped {
            if let Some(epoch) = self.epoch(shard) {
                self.writer
                    .push(unit(shard, epoch, Write::RemoveAction(key)));
            }
        }
    }

    fn epoch(&self, shard: u16) -> Option<u64> {
        lock(&self.held).get(&shard).copied()
    }

    /// The epoch to write `shard` at, or the refusal.
    fn fence(&self, shard: u16) -> Result<u64, StoreError> {
        self.epoch(shard).ok_or(StoreError::NotOwner(shard))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unit(shard: u16, epoch: u64, write: Write) -> Unit {
    Unit {
        shard: Some(shard as i16),
        epoch: epoch as i64,
        write,
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
        let shard = chat.shard();
        let epoch = self.fence(shard)?;
        let write = Write::Session {
            chat: chat.0.as_bytes().to_vec(),
            record: encode(record)?,
            first: record.next_event.saturating_sub(events.len() as u64) as i64,
            events: events.iter().map(encode).collect::<Result<_, _>>()?,
            done: done.map(action_key),
        };
        self.mirror.commit_session(chat, record, events, done)?;
        self.writer.push(unit(shard, epoch, write));
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
        let shard = chat.shard();
        let epoch = self.fence(shard)?;
        self.mirror.ack_outbox(chat, seq)?;
        let write = Write::AckOutbox {
            chat: chat.0.as_bytes().to_vec(),
            seq: seq.min(i64::MAX as u64) as i64,
        };
        self.writer.push(unit(shard, epoch, write));
        Ok(())
    }

    fn remove_session(&self, chat: &ChatId) -> Result<(), StoreError> {
        let shard = chat.shard();
        let epoch = self.fence(shard)?;
        self.mirror.remove_session(chat)?;
        let write = Write::RemoveSession {
            chat: chat.0.as_bytes().to_vec(),
        };
        self.writer.push(unit(shard, epoch, write));
        Ok(())
    }

    fn load_conversations(&self) -> Result<Vec<(ConversationId, ConversationRecord)>, StoreError> {
        self.mirror.load_conversations()
    }

    fn commit_conversation(&self, step: &ConversationUnit<'_>) -> Result<(), StoreError> {
        let shard = step.id.shard();
        let epoch = self.fence(shard)?;
        let write = Write::Conversation {
            id: step.id.0.as_bytes().to_vec(),
            record: encode(step.record)?,
            enqueue: step
                .enqueue
                .iter()
                .map(|(id, action)| Ok((action_key(id), encode(action)?)))
                .collect::<Result<_, StoreError>>()?,
            seen: step
                .seen
                .as_ref()
                .map(|(key, at)| (key.0.as_bytes().to_vec(), *at as i64)),
            done: step.done.as_ref().map(action_key),
        };
        self.mirror.commit_conversation(step)?;
        self.writer.push(unit(shard, epoch, write));
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
        let shard = id.conversation.shard();
        let epoch = self.fence(shard)?;
        self.mirror.remove_action(id)?;
        self.writer
            .push(unit(shard, epoch, Write::RemoveAction(action_key(id))));
        Ok(())
    }

    fn webhook_seen(&self, key: &WebhookKey) -> Result<bool, StoreError> {
        self.mirror.webhook_seen(key)
    }

    fn prune_webhook_keys(&self, before_ms: u64) -> Result<usize, StoreError> {
        let pruned = self.mirror.prune_webhook_keys(before_ms)?;
        if pruned > 0 {
            // Old keys are nobody's: any instance may prune every shard's.
            self.writer.push(Unit {
                shard: None,
                epoch: 0,
                write: Write::PruneInbox {
                    before_ms: before_ms.min(i64::MAX as u64) as i64,
                },
            });
        }
        Ok(pruned)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush(FLUSH_TIMEOUT).await
    }
}
