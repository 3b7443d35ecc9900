//! The sled implementation of [`Store`], the embedded default. Trees: `sessions` (chat →
//! session record), `outbox` (chat `\0` seq → event), `conversations` (id → record), `actions`
//! (conversation `\0` lane seq → action), `inbox` (webhook key → arrival ms) and `meta` (the
//! schema version; a newer one is refused), and `intents` (units of work being applied). A unit
//! of work over several trees is made atomic by [`sled_intents`](super::sled_intents), not by a
//! sled transaction; removals that may stop half way (acknowledged outbox events, old webhook
//! keys) are plain removes. Durability is the batched blocking flush of [`Flusher`].

use std::path::Path;

use async_trait::async_trait;
use tracing::{error, info};

use super::decode;
use super::envelope::encode;
use super::flusher::Flusher;
use super::sled_intents::{self, Intents, Table, Trees, Write};
use super::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, Lane,
    OutboxEntry, OutboxEvent, SessionRecord, Store, StoreError, WebhookKey,
};

/// The tree layout this build writes into `meta/schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA_KEY: &[u8] = b"schema_version";

/// sled-backed store. Cheap to clone; the database's lock goes with the last clone.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    trees: Trees,
    intents: Intents,
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
        let trees = Trees {
            sessions: db.open_tree("sessions").map_err(io)?,
            outbox: db.open_tree("outbox").map_err(io)?,
            conversations: db.open_tree("conversations").map_err(io)?,
            actions: db.open_tree("actions").map_err(io)?,
            inbox: db.open_tree("inbox").map_err(io)?,
        };
        let (intents, replayed) = sled_intents::replay(&db, &trees)?;
        if replayed > 0 {
            info!(
                units = replayed,
                "applied the units of work a stop had left unfinished"
            );
        }
        Ok(SledStore {
            trees,
            intents,
            flusher: Flusher::start(),
            db,
        })
    }

    /// Marks the store as written by tree layout `version` (tests of the newer-schema guard).
    pub fn write_schema_version(&self, version: u32) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta").map_err(io)?;
        meta.insert(SCHEMA_KEY, &version.to_be_bytes())
            .map(|_| ())
            .map_err(io)
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

/// `{conversation}\0{lane}`: actions sort by conversation, lane, then order.
fn lane_prefix(conversation: &ConversationId, lane: Lane) -> Vec<u8> {
    let mut key = conversation.0.as_bytes().to_vec();
    key.push(0);
    key.push(match lane {
        Lane::Session => b's',
        Lane::User => b'u',
    });
    key
}

fn action_key(id: &ActionId) -> Vec<u8> {
    let mut key = lane_prefix(&id.conversation, id.lane);
    key.extend_from_slice(&id.seq.to_be_bytes());
    key
}

/// Removes `keys` (collected first) from `tree` one by one; how many.
fn remove_each(
    tree: &sled::Tree,
    keys: impl Iterator<Item = sled::Result<sled::IVec>>,
) -> Result<usize, StoreError> {
    let keys: Vec<sled::IVec> = keys.collect::<Result<_, _>>().map_err(io)?;
    for key in &keys {
        tree.remove(key).map_err(io)?;
    }
    Ok(keys.len())
}

pub(super) fn io(e: sled::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

#[async_trait]
impl Store for SledStore {
    fn load_sessions(&self) -> Result<Vec<(ChatId, SessionRecord)>, StoreError> {
        self.trees
            .sessions
            .iter()
            .map(|item| {
                let (key, value) = item.map_err(io)?;
                let chat = ChatId(String::from_utf8_lossy(&key).into_owned());
                Ok((chat, decode::session(&value)?))
            })
            .collect()
    }

    fn commit_session(
        &self,
        chat: &ChatId,
        record: &SessionRecord,
        events: &[OutboxEvent],
        done: Option<&ActionId>,
    ) -> Result<(), StoreError> {
        let first = record.next_event.saturating_sub(events.len() as u64);
        let mut writes = Vec::with_capacity(events.len() + 2);
        // The events before the record that counts them: a reader never finds the record ahead.
        for (i, event) in events.iter().enumerate() {
            writes.push(Write::Put {
                table: Table::Outbox,
                key: outbox_key(chat, first + i as u64),
                value: encode(event)?,
            });
        }
        writes.push(Write::Put {
            table: Table::Sessions,
            key: chat.0.as_bytes().to_vec(),
            value: encode(record)?,
        });
        if let Some(done) = done {
            writes.push(Write::Delete {
                table: Table::Actions,
                key: action_key(done),
            });
        }
        self.intents.apply(&self.trees, &writes)
    }

    fn load_session(&self, chat: &ChatId) -> Result<Option<SessionRecord>, StoreError> {
        match self.trees.sessions.get(chat.0.as_bytes()).map_err(io)? {
            Some(bytes) => Ok(Some(decode::session(&bytes)?)),
            None => Ok(None),
        }
    }

    fn has_session(&self, chat: &ChatId) -> Result<bool, StoreError> {
        self.trees
            .sessions
            .contains_key(chat.0.as_bytes())
            .map_err(io)
    }

    fn outbox(&self, chat: &ChatId) -> Result<Vec<OutboxEntry>, StoreError> {
        let prefix = outbox_prefix(chat);
        self.trees
            .outbox
            .scan_prefix(&prefix)
            .map(|item| {
                let (key, value) = item.map_err(io)?;
                let seq_bytes = <[u8; 8]>::try_from(&key[prefix.len()..])
                    .map_err(|_| StoreError::Corrupt("outbox key".into()))?;
                Ok(OutboxEntry {
                    seq: u64::from_be_bytes(seq_bytes),
                    event: decode::outbox_event(&value)?,
                })
            })
            .collect()
    }

    fn ack_outbox(&self, chat: &ChatId, seq: u64) -> Result<(), StoreError> {
        // Plain removes, oldest first: should a stop cut them short, the conversation's record
        // says which events it has taken, and the rest go with the next acknowledgement.
        let start = outbox_key(chat, 0);
        let end = outbox_key(chat, seq);
        let outbox = &self.trees.outbox;
        remove_each(outbox, outbox.range(start..=end).keys()).map(drop)
    }

    fn remove_session(&self, chat: &ChatId) -> Result<(), StoreError> {
        // The events first: a session found without its record is not resumed, so what a stop
        // left half removed is the record and maybe some events (removed at the next end).
        let outbox = &self.trees.outbox;
        remove_each(outbox, outbox.scan_prefix(outbox_prefix(chat)).keys())?;
        self.trees.sessions.remove(chat.0.as_bytes()).map_err(io)?;
        Ok(())
    }

    fn load_conversations(&self) -> Result<Vec<(ConversationId, ConversationRecord)>, StoreError> {
        self.trees
            .conversations
            .iter()
            .map(|item| {
                let (key, value) = item.map_err(io)?;
                let id = ConversationId(String::from_utf8_lossy(&key).into_owned());
                Ok((id, decode::conversation(&value)?))
            })
            .collect()
    }

    fn commit_conversation(&self, unit: &ConversationUnit<'_>) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(unit.enqueue.len() + 3);
        writes.push(Write::Put {
            table: Table::Conversations,
            key: unit.id.0.as_bytes().to_vec(),
            value: encode(unit.record)?,
        });
        for (id, action) in &unit.enqueue {
            writes.push(Write::Put {
                table: Table::Actions,
                key: action_key(id),
                value: encode(action)?,
            });
        }
        if let Some((key, at)) = &unit.seen {
            writes.push(Write::Put {
                table: Table::Inbox,
                key: key.0.as_bytes().to_vec(),
                value: at.to_be_bytes().to_vec(),
            });
        }
        if let Some(done) = &unit.done {
            writes.push(Write::Delete {
                table: Table::Actions,
                key: action_key(done),
            });
        }
        self.intents.apply(&self.trees, &writes)
    }

    fn first_action(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<Option<(ActionId, Action)>, StoreError> {
        let prefix = lane_prefix(conversation, lane);
        for item in self.trees.actions.scan_prefix(&prefix) {
            let (key, value) = item.map_err(io)?;
            let seq = <[u8; 8]>::try_from(&key[prefix.len()..])
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt("action key".into()))?;
            match decode::action(&value) {
                Ok(action) => {
                    let id = ActionId {
                        conversation: conversation.clone(),
                        lane,
                        seq,
                    };
                    return Ok(Some((id, action)));
                }
                Err(e) => {
                    error!(%conversation, seq, error = %e, "undecodable action dropped");
                    self.trees.actions.remove(&key).map_err(io)?;
                }
            }
        }
        Ok(None)
    }

    fn count_actions(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<usize, StoreError> {
        Ok(self
            .trees
            .actions
            .scan_prefix(lane_prefix(conversation, lane))
            .count())
    }

    fn remove_action(&self, id: &ActionId) -> Result<(), StoreError> {
        self.trees
            .actions
            .remove(action_key(id))
            .map(|_| ())
            .map_err(io)
    }

    fn webhook_seen(&self, key: &WebhookKey) -> Result<bool, StoreError> {
        self.trees.inbox.contains_key(key.0.as_bytes()).map_err(io)
    }

    fn prune_webhook_keys(&self, before_ms: u64) -> Result<usize, StoreError> {
        let inbox = &self.trees.inbox;
        let old = inbox.iter().filter_map(Result::ok).filter_map(|(key, at)| {
            <[u8; 8]>::try_from(at.as_ref())
                .is_ok_and(|b| u64::from_be_bytes(b) < before_ms)
                .then_some(Ok(key))
        });
        remove_each(inbox, old)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush(&self.db).await
    }
}
