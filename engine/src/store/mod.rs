//! Durable state: session snapshots and the per-chat outbox of session events, behind the
//! [`Store`] trait, with sled as the implementation ([`SledStore`]).
//!
//! The rule the driver relies on: [`Store::commit`] writes a snapshot and the events that came
//! before it atomically, and [`Store::flush`] returns once they are on disk. Only then does the
//! next request (and so the next `ack`) go out.

pub(crate) mod envelope;
mod flusher;
mod sled_store;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use switchboard_core::session::{SessionEvent, Snapshot};
use thiserror::Error;

pub use envelope::RECORD_VERSION;
pub use sled_store::{SCHEMA_VERSION, SledStore};

/// Names one chat (one conversation's Live Agent session), e.g. `wechat:gh_123:oUser`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChatId(pub String);

impl std::fmt::Display for ChatId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is stored for one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session machine's state.
    pub snapshot: Snapshot,
    /// Number the next outbox event gets.
    pub next_event: u64,
}

/// One session event waiting in the outbox, numbered per chat from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the chat's outbox.
    pub seq: u64,
    /// The event.
    pub event: SessionEvent,
}

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
    /// The database failed.
    #[error("storage failed: {0}")]
    Io(String),
}

/// Durable storage for sessions and their outboxes.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every stored session, including ended ones whose outbox is not drained yet.
    fn load_sessions(&self) -> Result<Vec<(ChatId, SessionRecord)>, StoreError>;

    /// Writes `record` and appends `events` (numbered from the record's previous
    /// `next_event`) atomically; `record.next_event` must already count them. `done`, if
    /// given, is a key of the bridge's action queue removed in the same transaction: the action
    /// that caused this state is then done exactly once, even across a crash.
    fn commit(
        &self,
        chat: &ChatId,
        record: &SessionRecord,
        events: &[SessionEvent],
        done: Option<&[u8]>,
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
    fn remove(&self, chat: &ChatId) -> Result<(), StoreError>;

    /// Returns once everything committed so far is on disk.
    async fn flush(&self) -> Result<(), StoreError>;
}
