//! Units of work over several sled trees, made atomic without sled transactions.
//!
//! Why: in sled 0.34 a transaction (and `apply_batch`) seals the log's write buffer before and
//! after it, so each one hands two buffer writes to sled's I/O thread pool, which wakes every
//! idle thread of the pool per job. Under load that was most of the gateway's CPU: about two
//! buffer writes per unit of work (some 5,000 a second at 1,000 pushes a second), against one
//! per actual flush.
//!
//! How: a unit's writes are first stored as one value, an *intent*, under one key of the
//! `intents` tree (a single insert is atomic in sled); then applied one by one as plain writes;
//! then the intent is removed. sled recovers its log as a prefix (up to the first write that
//! did not reach the disk), so after a crash either the intent is absent and none or all of
//! its writes survived, or it is present and [`replay`] applies all of its writes again
//! (each is a plain put or delete of a fixed value: applying it twice is applying it once)
//! before anything reads the store. A unit of one write needs no intent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::envelope::{decode_changed_in, encode};
use super::sled_store::io;

/// The trees a unit may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Table {
    Sessions,
    Outbox,
    Conversations,
    Actions,
    Inbox,
}

/// One write of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Write {
    Put {
        table: Table,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        table: Table,
        key: Vec<u8>,
    },
}

/// The trees, by [`Table`].
#[derive(Debug, Clone)]
pub(super) struct Trees {
    pub sessions: sled::Tree,
    pub outbox: sled::Tree,
    pub conversations: sled::Tree,
    pub actions: sled::Tree,
    pub inbox: sled::Tree,
}

impl Trees {
    fn get(&self, table: Table) -> &sled::Tree {
        match table {
            Table::Sessions => &self.sessions,
            Table::Outbox => &self.outbox,
            Table::Conversations => &self.conversations,
            Table::Actions => &self.actions,
            Table::Inbox => &self.inbox,
        }
    }

    fn write(&self, write: &Write) -> Result<(), StoreError> {
        match write {
            Write::Put { table, key, value } => self
                .get(*table)
                .insert(key.as_slice(), value.as_slice())
                .map(drop),
            Write::Delete { table, key } => self.get(*table).remove(key.as_slice()).map(drop),
        }
        .map_err(io)
    }
}

/// The `intents` tree and the next intent's key.
#[derive(Debug, Clone)]
pub(super) struct Intents {
    tree: sled::Tree,
    next: Arc<AtomicU64>,
}

impl Intents {
    /// Applies `writes` as one unit (see the module).
    pub(super) fn apply(&self, trees: &Trees, writes: &[Write]) -> Result<(), StoreError> {
        if let [one] = writes {
            return trees.write(one);
        }
        let key = self.next.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        // The stored intent: the unit's writes, in order.
        self.tree.insert(key, encode(&writes)?).map_err(io)?;
        for write in writes {
            trees.write(write)?;
        }
        self.tree.remove(key).map_err(io)?;
        Ok(())
    }
}

/// Opens the `intents` tree and applies the intents a crash left there, oldest first; an
/// intent that does not decode refuses the open (its unit's writes may be half applied).
pub(super) fn replay(db: &sled::Db, trees: &Trees) -> Result<(Intents, usize), StoreError> {
    let tree = db.open_tree("intents").map_err(io)?;
    let mut replayed = 0;
    let mut last = 0;
    for item in tree.iter() {
        let (key, value) = item.map_err(io)?;
        // Written by builds of format 3 on, in this one layout.
        let writes = decode_changed_in::<Vec<Write>, Vec<Write>>(&value, 3)
            .map_err(|e| StoreError::Corrupt(format!("an unfinished unit of work: {e}")))?;
        for write in &writes {
            trees.write(write)?;
        }
        tree.remove(&key).map_err(io)?;
        if let Ok(bytes) = <[u8; 8]>::try_from(key.as_ref()) {
            last = last.max(u64::from_be_bytes(bytes));
        }
        replayed += 1;
    }
    if replayed > 0 {
        db.flush().map_err(io)?;
    }
    let intents = Intents {
        tree,
        next: Arc::new(AtomicU64::new(last + 1)),
    };
    Ok((intents, replayed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path) -> (sled::Db, Trees) {
        let db = sled::Config::new().path(dir).open().expect("open");
        let tree = |name: &str| db.open_tree(name).expect("tree");
        let trees = Trees {
            sessions: tree("sessions"),
            outbox: tree("outbox"),
            conversations: tree("conversations"),
            actions: tree("actions"),
            inbox: tree("inbox"),
        };
        (db, trees)
    }

    fn put(table: Table, key: &str, value: &str) -> Write {
        Write::Put {
            table,
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_unit_left_as_an_intent_by_a_crash_is_applied_whole_at_the_next_open() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let (db, trees) = open(dir.path());
            trees.actions.insert("a1", "old").expect("insert");
            // What a crash after the intent and the first of its writes leaves.
            let writes = vec![
                put(Table::Conversations, "c", "record 2"),
                Write::Delete {
                    table: Table::Actions,
                    key: b"a1".to_vec(),
                },
                put(Table::Inbox, "k", "at"),
            ];
            let intent = encode(&writes).expect("encode");
            db.open_tree("intents")
                .expect("tree")
                .insert(7u64.to_be_bytes(), intent)
                .expect("intent");
            trees.write(&writes[0]).expect("first write");
            db.flush().expect("flush");
        }
        let (db, trees) = open(dir.path());
        let (intents, replayed) = replay(&db, &trees).expect("replay");
        assert_eq!(replayed, 1);
        assert_eq!(
            trees.conversations.get("c").expect("get").as_deref(),
            Some(&b"record 2"[..])
        );
        assert_eq!(trees.actions.get("a1").expect("get"), None);
        assert_eq!(
            trees.inbox.get("k").expect("get").as_deref(),
            Some(&b"at"[..])
        );
        assert!(db.open_tree("intents").expect("tree").is_empty());
        // Later intents are keyed after the replayed one.
        assert_eq!(intents.next.load(Ordering::Relaxed), 8);
    }

    #[test]
    fn an_applied_unit_leaves_no_intent_and_every_write() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, trees) = open(dir.path());
        let (intents, replayed) = replay(&db, &trees).expect("replay");
        assert_eq!(replayed, 0);
        intents
            .apply(
                &trees,
                &[
                    put(Table::Sessions, "s", "1"),
                    put(Table::Outbox, "s\0\0", "e"),
                ],
            )
            .expect("apply");
        assert!(trees.sessions.contains_key("s").expect("get"));
        assert!(trees.outbox.contains_key("s\0\0").expect("get"));
        assert!(db.open_tree("intents").expect("tree").is_empty());
    }

    #[test]
    fn an_intent_that_does_not_decode_refuses_the_open() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, trees) = open(dir.path());
        db.open_tree("intents")
            .expect("tree")
            .insert(1u64.to_be_bytes(), &[0, 3, 0xff, 0xff][..])
            .expect("insert");
        assert!(matches!(
            replay(&db, &trees),
            Err(StoreError::Corrupt(message)) if message.contains("unfinished unit")
        ));
    }
}
