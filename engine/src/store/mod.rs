//! Durable state behind one typed [`Store`] trait: desk sessions and their outboxes,
//! conversations and their action queue, and webhook dedupe keys — as the typed records of
//! [`records`], committed in units of work. [`SledStore`] is the embedded default,
//! [`MemoryStore`] serves fast tests, `PgStore` keeps the same records in PostgreSQL, and
//! [`conformance`] is the suite every store passes.
//!
//! The rules the rest of the engine relies on:
//! - [`Store::commit_session`] writes a session record and the events that came before it, and
//!   removes the action that caused them, atomically; [`Store::commit_conversation`] does the
//!   same for a conversation step (record, queued actions, webhook key, completed action).
//! - [`Store::flush`] returns once everything committed so far is durable. Only then does the
//!   next request (and so the next `ack`) go out, or the platform get its webhook answer.
//! - A restart loads exactly what was committed and flushed: all of a unit, or none of it.
//!
//! Module map: [`records`] (ids and records), [`envelope`] (versioned encoding), [`decode`]
//! (one reader per record type), `sled_store`, `memory`, [`conformance`], `flusher` (sled's
//! batched flush), [`push_log`] (webhook pushes made durable before the answer, beside the
//! embedded store).

pub mod conformance;
pub mod decode;
pub mod envelope;
mod flusher;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
pub mod push_log;
pub mod records;
mod sled_intents;
mod sled_store;

use async_trait::async_trait;
use thiserror::Error;

pub use envelope::RECORD_VERSION;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{
    Acquired, FLUSH_TIMEOUT, Leases, ListenGuard, PG_SCHEMA_VERSION, PgStore, Pushes, StoredPush,
};
pub use records::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, DeskSnapshot,
    Lane, OutboxEntry, OutboxEvent, SessionRecord, WebhookKey,
};
pub use sled_store::{SCHEMA_VERSION, SledStore};

/// Why the store could not do something.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// Another process (or engine) has the database open.
    #[error(
        "the store at {0} is in use by another process; refusing to run two engines on one store"
    )]
    Locked(String),
    /// The database was written by a newer schema.
    #[error("the store's schema version {found} is newer than this build's {supported}")]
    NewerSchema {
        /// What the store says.
        found: u32,
        /// What this build understands.
        supported: u32,
    },
    /// A record has a format version this build does not know.
    #[error("a record has unknown format version {0}")]
    UnknownVersion(u16),
    /// A record could not be decoded.
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    /// A record could not be encoded.
    #[error("a record could not be encoded: {0}")]
    Encode(String),
    /// The conversation's shard is not held by this instance (several instances on one
    /// database): its state is another instance's to write.
    #[error("shard {0} is not held by this instance")]
    NotOwner(u16),
    /// Another instance took the shard over: this instance's writes to it were refused by the
    /// database (fencing), and it must stop serving the shard's conversations.
    #[error("shard {0} was taken over by another instance; its writes here were refused")]
    Fenced(u16),
    /// The database failed.
    #[error("storage failed: {0}")]
    Io(String),
}

/// Durable storage for everything the gateway must not lose.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- desk sessions and their outboxes ---

    /// Every stored session, including ended ones whose outbox is not drained yet.
    fn load_sessions(&self) -> Result<Vec<(ChatId, SessionRecord)>, StoreError>;

    /// Writes `record` and appends `events` (numbered from the record's previous
    /// `next_event`) atomically; `record.next_event` must already count them. `done`, if
    /// given, is the action that caused this state, removed in the same unit: it is then done
    /// exactly once, even across a crash.
    fn commit_session(
        &self,
        chat: &ChatId,
        record: &SessionRecord,
        events: &[OutboxEvent],
        done: Option<&ActionId>,
    ) -> Result<(), StoreError>;

    /// One chat's stored session, if any.
    fn load_session(&self, chat: &ChatId) -> Result<Option<SessionRecord>, StoreError>;

    /// Whether a session was ever stored for this chat (live or ended).
    fn has_session(&self, chat: &ChatId) -> Result<bool, StoreError>;

    /// The chat's undelivered events, oldest first.
    fn outbox(&self, chat: &ChatId) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Removes the chat's events up to and including `seq` (they were delivered).
    fn ack_outbox(&self, chat: &ChatId, seq: u64) -> Result<(), StoreError>;

    /// Forgets a chat entirely (its session ended and its outbox is drained).
    fn remove_session(&self, chat: &ChatId) -> Result<(), StoreError>;

    // --- conversations, their action queue, webhook keys ---

    /// Every stored conversation.
    fn load_conversations(&self) -> Result<Vec<(ConversationId, ConversationRecord)>, StoreError>;

    /// Commits one conversation step atomically (see [`ConversationUnit`]).
    fn commit_conversation(&self, unit: &ConversationUnit<'_>) -> Result<(), StoreError>;

    /// The lane's next action (lowest `seq`), if any. An action that no longer decodes is
    /// removed and logged, and the next one returned.
    fn first_action(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<Option<(ActionId, Action)>, StoreError>;

    /// How many actions wait in the lane.
    fn count_actions(&self, conversation: &ConversationId, lane: Lane)
    -> Result<usize, StoreError>;

    /// Removes one action (it was performed, or has become pointless).
    fn remove_action(&self, id: &ActionId) -> Result<(), StoreError>;

    /// Whether a push with this key was taken in already.
    fn webhook_seen(&self, key: &WebhookKey) -> Result<bool, StoreError>;

    /// Forgets webhook keys that arrived before `before_ms`; returns how many.
    fn prune_webhook_keys(&self, before_ms: u64) -> Result<usize, StoreError>;

    /// Returns once everything committed so far is durable.
    async fn flush(&self) -> Result<(), StoreError>;
}
