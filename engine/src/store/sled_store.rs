//! The sled implementation of [`Store`]: trees `sessions`, `outbox` and `meta` (plus `inbox`
//! for webhook dedupe keys, used by the channel work).

use std::path::Path;

use async_trait::async_trait;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use switchboard_core::session::SessionEvent;

use super::envelope::{decode, encode};
use super::flusher::Flusher;
use super::{ChatId, OutboxEntry, SessionRecord, Store, StoreError};

/// The schema this build writes into `meta/schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA_KEY: &[u8] = b"schema_version";

/// The bridge's durable action queue (see [`Store::commit`]'s `done`).
pub const ACTIONS_TREE: &str = "actions";

/// sled-backed store.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    sessions: sled::Tree,
    outbox: sled::Tree,
    inbox: sled::Tree,
    actions: sled::Tree,
    flusher: Flusher,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, holding its lock for as long as the store lives.
    /// Must be called inside a tokio runtime (the flusher runs on it).
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new().path(dir).open().map_err(|e| match e {
            sled::Error::Io(io) if io.to_string().contains("lock") => {
                StoreError::Locked(dir.display().to_string())
            }
            other => StoreError::Io(other.to_string()),
        })?;
        let io = |e: sled::Error| StoreError::Io(e.to_string());
        let meta = db.open_tree("meta").map_err(io)?;
        match meta.get(SCHEMA_KEY).map_err(io)? {
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("meta/schema_version".into()))?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(io)?;
            }
        }
        Ok(SledStore {
            sessions: db.open_tree("sessions").map_err(io)?,
            outbox: db.open_tree("outbox").map_err(io)?,
            inbox: db.open_tree("inbox").map_err(io)?,
            actions: db.open_tree(ACTIONS_TREE).map_err(io)?,
            flusher: Flusher::start(),
            db,
        })
    }

    /// The tree for webhook dedupe keys.
    pub fn inbox(&self) -> &sled::Tree {
        &self.inbox
    }

    /// The bridge's action queue.
    pub fn actions(&self) -> &sled::Tree {
        &self.actions
    }

    /// The underlying database (for trees other components own).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}

fn outbox_key(chat: &ChatId, seq: u64) -> Vec<u8> {
    let mut key = outbox_prefix(chat);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn outbox_prefix(chat: &ChatId) -> Vec<u8> {
    let mut key = chat.0.as_bytes().to_vec();
    key.push(0);
    key
}

fn io(e: sled::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

#[async_trait]
impl Store for SledStore {
    fn load_sessions(&self) -> Result<Vec<(ChatId, SessionRecord)>, StoreError> {
        self.sessions
            .iter()
            .map(|item| {
                let (key, value) = item.map_err(io)?;
                let chat = ChatId(String::from_utf8_lossy(&key).into_owned());
                Ok((chat, decode(&value)?))
            })
            .collect()
    }

    fn commit(
        &self,
        chat: &ChatId,
        record: &SessionRecord,
        events: &[SessionEvent],
        done: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let first = record.next_event.saturating_sub(events.len() as u64);
        let record_bytes = encode(record)?;
        let event_bytes: Vec<(Vec<u8>, Vec<u8>)> = events
            .iter()
            .enumerate()
            .map(|(i, event)| Ok((outbox_key(chat, first + i as u64), encode(event)?)))
            .collect::<Result<_, StoreError>>()?;
        (&self.sessions, &self.outbox, &self.actions)
            .transaction(|(sessions, outbox, actions)| {
                sessions.insert(chat.0.as_bytes(), record_bytes.as_slice())?;
                for (key, value) in &event_bytes {
                    outbox.insert(key.as_slice(), value.as_slice())?;
                }
                if let Some(done) = done {
                    actions.remove(done)?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| StoreError::Io(format!("{e:?}")))
    }

    fn load_session(&self, chat: &ChatId) -> Result<Option<SessionRecord>, StoreError> {
        match self.sessions.get(chat.0.as_bytes()).map_err(io)? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn has_session(&self, chat: &ChatId) -> Result<bool, StoreError> {
        self.sessions.contains_key(chat.0.as_bytes()).map_err(io)
    }

    fn outbox(&self, chat: &ChatId) -> Result<Vec<OutboxEntry>, StoreError> {
        let prefix = outbox_prefix(chat);
        self.outbox
            .scan_prefix(&prefix)
            .map(|item| {
                let (key, value) = item.map_err(io)?;
                let seq_bytes = <[u8; 8]>::try_from(&key[prefix.len()..])
                    .map_err(|_| StoreError::Corrupt("outbox key".into()))?;
                Ok(OutboxEntry {
                    seq: u64::from_be_bytes(seq_bytes),
                    event: decode(&value)?,
                })
            })
            .collect()
    }

    fn ack_outbox(&self, chat: &ChatId, seq: u64) -> Result<(), StoreError> {
        let start = outbox_key(chat, 0);
        let end = outbox_key(chat, seq);
        let mut batch = sled::Batch::default();
        for item in self.outbox.range(start..=end) {
            let (key, _) = item.map_err(io)?;
            batch.remove(key);
        }
        self.outbox.apply_batch(batch).map_err(io)
    }

    fn remove(&self, chat: &ChatId) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for item in self.outbox.scan_prefix(outbox_prefix(chat)) {
            let (key, _) = item.map_err(io)?;
            batch.remove(key);
        }
        self.outbox.apply_batch(batch).map_err(io)?;
        self.sessions.remove(chat.0.as_bytes()).map_err(io)?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush(&self.db).await
    }
}
