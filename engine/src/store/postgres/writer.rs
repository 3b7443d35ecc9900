//! The write-behind queue and the task that empties it: every unit committed to the mirror is
//! queued here, encoded; the task takes all that is queued and writes it in one transaction, in
//! order, then marks it durable. A lost connection keeps the batch: the task reconnects with
//! backoff (taking the store's lock again) and writes the same batch again. A lock another
//! process took meanwhile, or an error the database will give again (a constraint, bad data),
//! is fatal: every flush from then on fails and nothing more is written.
//!
//! Several instances on one database ([`Fencing::Leases`]): every unit carries the shard it
//! belongs to and the epoch this instance took the shard at, and a batch first locks those
//! shards' lease rows (`FOR SHARE`, so no takeover can slip in before the commit) and compares.
//! The units of a shard whose lease moved are dropped, never written, and the flushes that
//! waited for them fail with [`StoreError::Fenced`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Statement, Transaction};
use tracing::{error, warn};

use super::connect::{Conn, Target, sql};
use crate::store::StoreError;

/// A row of `switchboard.actions`, by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ActionKey {
    pub(super) conversation: Vec<u8>,
    pub(super) lane: i16,
    pub(super) seq: i64,
}

/// How the writer makes sure it alone writes what it writes.
#[derive(Debug, Clone)]
pub(super) enum Fencing {
    /// The store's advisory lock, held by the writer's connection: one process per database.
    Lock,
    /// Shard leases: each unit's epoch is checked against its shard's lease row.
    Leases {
        /// This instance's id, as the lease rows name their owner.
        instance: String,
    },
}

/// A unit of work and whose it is.
#[derive(Debug)]
pub(super) struct Unit {
    /// The shard of the conversation it belongs to; `None` for housekeeping of every shard.
    pub(super) shard: Option<i16>,
    /// The epoch this instance holds the shard at (0 under [`Fencing::Lock`]).
    pub(super) epoch: i64,
    /// The rows.
    pub(super) write: Write,
}

/// One unit of work, as rows.
#[derive(Debug)]
pub(super) enum Write {
    /// A session record, its new outbox events from `first` on, the action it completes.
    Session {
        chat: Vec<u8>,
        record: Vec<u8>,
        first: i64,
        events: Vec<Vec<u8>>,
        done: Option<ActionKey>,
    },
    /// Outbox events up to `seq` delivered.
    AckOutbox { chat: Vec<u8>, seq: i64 },
    /// A chat forgotten.
    RemoveSession { chat: Vec<u8> },
    /// A conversation step.
    Conversation {
        id: Vec<u8>,
        record: Vec<u8>,
        enqueue: Vec<(ActionKey, Vec<u8>)>,
        seen: Option<(Vec<u8>, i64)>,
        done: Option<ActionKey>,
    },
    /// An action performed or pointless.
    RemoveAction(ActionKey),
    /// Webhook keys older than `before_ms` forgotten.
    PruneInbox { before_ms: i64 },
}

/// How far the writer got.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Units settled (written, or dropped as fenced), counted from the store's open.
    durable: u64,
    /// The latest units dropped because their shard was taken over: (unit number, shard).
    fenced: std::collections::VecDeque<(u64, u16)>,
    /// Why nothing more will be written.
    fatal: Option<StoreError>,
}

/// How many fenced units [`Progress`] remembers (a flush looks back no further).
const FENCED_KEPT: usize = 4096;

#[derive(Debug, Default)]
struct Queue {
    /// Queued units with their numbers.
    units: Vec<(u64, Unit)>,
    /// Units queued so far.
    enqueued: u64,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
    progress: watch::Sender<Progress>,
    /// Units dropped because their shard was taken over, since the store opened.
    fenced_total: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The queue and its task; the task (and its connection, and so the lock) stop when dropped.
#[derive(Debug)]
pub(super) struct Writer {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Writer {
    /// Starts the task on `conn` (which holds the store's lock under [`Fencing::Lock`]).
    pub(super) fn start(target: Target, conn: Conn, fencing: Fencing) -> Writer {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            progress: watch::Sender::new(Progress::default()),
            fenced_total: std::sync::atomic::AtomicU64::new(0),
        });
        let task = tokio::spawn(run(shared.clone(), target, conn, fencing));
        Writer { shared, task }
    }

    /// Units refused by the database because their shard was taken over, so far.
    pub(super) fn fenced_total(&self) -> u64 {
        self.shared
            .fenced_total
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues one unit.
    pub(super) fn push(&self, unit: Unit) {
        let mut queue = self.shared.queue();
        queue.enqueued += 1;
        let number = queue.enqueued;
        queue.units.push((number, unit));
        drop(queue);
        self.shared.wake.notify_one();
    }

    /// Returns once every unit queued before the call is settled; fails if one of those queued
    /// since the last settled point was fenced, after `timeout`, or at once when the writer has
    /// stopped for good.
    pub(super) async fn flush(&self, timeout: Duration) -> Result<(), StoreError> {
        let target = self.shared.queue().enqueued;
        let mut progress = self.shared.progress.subscribe();
        let settled_before = progress.borrow().durable;
        let reached = progress.wait_for(|p| p.durable >= target || p.fatal.is_some());
        match tokio::time::timeout(timeout, reached).await {
            Ok(Ok(p)) => match &p.fatal {
                Some(fatal) if p.durable < target => Err(fatal.clone()),
                _ => match p
                    .fenced
                    .iter()
                    .find(|(n, _)| (settled_before + 1..=target).contains(n))
                {
                    Some((_, shard)) => Err(StoreError::Fenced(*shard)),
                    None => Ok(()),
                },
            },
            Ok(Err(_)) => Err(StoreError::Io("the PostgreSQL writer stopped".into())),
            Err(_) => Err(StoreError::Io(format!(
                "PostgreSQL did not confirm the write within {} s",
                timeout.as_secs()
            ))),
        }
    }
}

/// Whether writing the same batch again may succeed.
fn retryable(e: &tokio_postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else {
        // I/O: the connection broke or timed out.
        return true;
    };
    let code = db.code().code();
    // Connection exceptions, operator intervention (a restart), insufficient resources,
    // serialisation failures, deadlocks, and a transaction ended for idling (a pause, see
    // `BOUND_IDLE_TRANSACTIONS`).
    code.starts_with("08")
        || code.starts_with("57")
        || code.starts_with("53")
        || *db.code() == SqlState::T_R_SERIALIZATION_FAILURE
        || *db.code() == SqlState::T_R_DEADLOCK_DETECTED
        || *db.code() == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
}

async fn run(shared: Arc<Shared>, target: Target, conn: Conn, fencing: Fencing) {
    let mut conn = Some(conn);
    let mut statements: Option<Statements> = None;
    loop {
        shared.wake.notified().await;
        let (mut batch, upto) = {
            let mut queue = shared.queue();
            (std::mem::take(&mut queue.units), queue.enqueued)
        };
        if batch.is_empty() {
            continue;
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            if conn.is_none() {
                match reconnect(&target, &fencing).await {
                    Ok(fresh) => conn = Some(fresh),
                    Err(StoreError::Locked(holder)) => {
                        error!(store = %target.name, "another process took the store's lock; writing stopped");
                        shared.progress.send_modify(|p| {
                            p.fatal = Some(StoreError::Locked(holder));
                        });
                        return;
                    }
                    Err(e) => {
                        warn!(error = %e, "PostgreSQL unreachable; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
                statements = None;
            }
            let Some(open) = conn.as_mut() else { continue };
            let written = write(open, &mut statements, &fencing, &batch).await;
            match written {
                Ok(Written::All) => break,
                Ok(Written::Fenced(shards)) => {
                    // Those shards are another instance's now: drop their units, write the rest.
                    warn!(
                        ?shards,
                        "shards taken over by another instance; their writes dropped"
                    );
                    let dropped: Vec<(u64, u16)> = batch
                        .iter()
                        .filter_map(|(n, u)| {
                            u.shard
                                .filter(|s| shards.contains(s))
                                .map(|s| (*n, s as u16))
                        })
                        .collect();
                    batch.retain(|(_, u)| !u.shard.is_some_and(|s| shards.contains(&s)));
                    shared
                        .fenced_total
                        .fetch_add(dropped.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    shared.progress.send_modify(|p| {
                        p.fenced.extend(dropped);
                        while p.fenced.len() > FENCED_KEPT {
                            p.fenced.pop_front();
                        }
                    });
                }
                Err(e) if retryable(&e) => {
                    warn!(error = %sql(&target, e), "a PostgreSQL write failed; reconnecting");
                    // Dropping the connection releases the lock; it is taken again above.
                    conn = None;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    let e = sql(&target, e);
                    error!(error = %e, "a PostgreSQL write was refused; writing stopped");
                    shared.progress.send_modify(|p| p.fatal = Some(e));
                    return;
                }
            }
        }
        shared.progress.send_modify(|p| p.durable = upto);
    }
}

async fn reconnect(target: &Target, fencing: &Fencing) -> Result<Conn, StoreError> {
    let conn = target.connect().await?;
    if let Fencing::Lock = fencing {
        conn.lock(target).await?;
    }
    Ok(conn)
}

/// The statements one batch uses, prepared once per connection.
#[derive(Debug)]
struct Statements {
    leases_of: Statement,
    upsert_session: Statement,
    put_event: Statement,
    delete_action: Statement,
    ack_outbox: Statement,
    delete_outbox: Statement,
    delete_session: Statement,
    upsert_conversation: Statement,
    put_action: Statement,
    put_key: Statement,
    prune_inbox: Statement,
}

impl Statements {
    async fn prepare(client: &tokio_postgres::Client) -> Result<Statements, tokio_postgres::Error> {
        Ok(Statements {
            leases_of: client
                .prepare(
                    "SELECT shard, owner, epoch FROM switchboard.leases
                     WHERE shard = ANY($1) FOR SHARE",
                )
                .await?,
            upsert_session: client
                .prepare(
                    "INSERT INTO switchboard.sessions (chat, shard, record) VALUES ($1, $2, $3)
                     ON CONFLICT (chat) DO UPDATE SET record = EXCLUDED.record",
                )
                .await?,
            put_event: client
                .prepare(
                    "INSERT INTO switchboard.outbox (chat, seq, shard, event) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (chat, seq) DO UPDATE SET event = EXCLUDED.event",
                )
                .await?,
            delete_action: client
                .prepare(
                    "DELETE FROM switchboard.actions
                     WHERE conversation = $1 AND lane = $2 AND seq = $3",
                )
                .await?,
            ack_outbox: client
                .prepare("DELETE FROM switchboard.outbox WHERE chat = $1 AND seq <= $2")
                .await?,
            delete_outbox: client
                .prepare("DELETE FROM switchboard.outbox WHERE chat = $1")
                .await?,
            delete_session: client
                .prepare("DELETE FROM switchboard.sessions WHERE chat = $1")
                .await?,
            upsert_conversation: client
                .prepare(
                    "INSERT INTO switchboard.conversations (id, shard, record) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                )
                .await?,
            put_action: client
                .prepare(
                    "INSERT INTO switchboard.actions (conversation, lane, seq, shard, action)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (conversation, lane, seq) DO UPDATE SET action = EXCLUDED.action",
                )
                .await?,
            put_key: client
                .prepare(
                    "INSERT INTO switchboard.inbox (key, shard, at_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (key) DO UPDATE SET at_ms = EXCLUDED.at_ms",
                )
                .await?,
            prune_inbox: client
                .prepare("DELETE FROM switchboard.inbox WHERE at_ms < $1")
                .await?,
        })
    }
}

/// What became of a batch.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    /// Committed whole.
    All,
    /// Not written: these shards' leases moved (the rest may be written without them).
    Fenced(Vec<i16>),
}

/// Set on every connection of a fenced writer. A batch holds its shards' lease rows `FOR
/// SHARE` until it commits, and a takeover skips locked rows (`FOR UPDATE SKIP LOCKED`): an
/// instance frozen in the middle of a batch (SIGSTOP, a stalled VM) keeps its connection, its
/// transaction and those locks for as long as it is frozen, so nobody could take those shards
/// and their chats would wait for it, however long their leases have run out. With this the
/// server ends such a session after 1 s idle in its transaction (the locks go with it); the
/// writer reconnects and writes the batch again, and the lease check then sees any takeover.
/// A writer that runs sends the statements of a batch back to back, far within 1 s, and no
/// lease is shorter than 1 s.
const BOUND_IDLE_TRANSACTIONS: &str = "SET idle_in_transaction_session_timeout = 1000";

/// Writes `batch` in one transaction, unless a shard it writes was taken over.
async fn write(
    conn: &mut Conn,
    statements: &mut Option<Statements>,
    fencing: &Fencing,
    batch: &[(u64, Unit)],
) -> Result<Written, tokio_postgres::Error> {
    let s = match statements.take() {
        Some(prepared) => statements.insert(prepared),
        None => {
            if let Fencing::Leases { .. } = fencing {
                conn.client.batch_execute(BOUND_IDLE_TRANSACTIONS).await?;
            }
            statements.insert(Statements::prepare(&conn.client).await?)
        }
    };
    let tx = conn.client.transaction().await?;
    if let Fencing::Leases { instance } = fencing {
        let fenced = check_leases(&tx, s, instance, batch).await?;
        if !fenced.is_empty() {
            tx.rollback().await?;
            return Ok(Written::Fenced(fenced));
        }
    }
    for (_, unit) in batch {
        apply(&tx, s, unit.shard.unwrap_or_default(), &unit.write).await?;
    }
    tx.commit().await?;
    Ok(Written::All)
}

/// The shards of `batch` whose lease rows (locked until the transaction ends) no longer name
/// this instance at the epoch the units carry.
async fn check_leases(
    tx: &Transaction<'_>,
    s: &Statements,
    instance: &str,
    batch: &[(u64, Unit)],
) -> Result<Vec<i16>, tokio_postgres::Error> {
    let mut wanted: std::collections::BTreeMap<i16, i64> = std::collections::BTreeMap::new();
    for (_, unit) in batch {
        if let Some(shard) = unit.shard {
            wanted.insert(shard, unit.epoch);
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let shards: Vec<i16> = wanted.keys().copied().collect();
    let rows = tx.query(&s.leases_of, &[&shards]).await?;
    let mut current = std::collections::BTreeMap::new();
    for row in rows {
        let owner: Option<String> = row.get(1);
        current.insert(row.get::<_, i16>(0), (owner, row.get::<_, i64>(2)));
    }
    Ok(wanted
        .into_iter()
        .filter(|(shard, epoch)| current.get(shard) != Some(&(Some(instance.to_owned()), *epoch)))
        .map(|(shard, _)| shard)
        .collect())
}

async fn delete_action(
    tx: &Transaction<'_>,
    s: &Statements,
    key: &ActionKey,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(&s.delete_action, &[&key.conversation, &key.lane, &key.seq])
        .await
        .map(drop)
}

async fn apply(
    tx: &Transaction<'_>,
    s: &Statements,
    shard: i16,
    unit: &Write,
) -> Result<(), tokio_postgres::Error> {
    match unit {
        Write::Session {
            chat,
            record,
            first,
            events,
            done,
        } => {
            tx.execute(&s.upsert_session, &[chat, &shard, record])
                .await?;
            for (i, event) in events.iter().enumerate() {
                let seq = first + i as i64;
                tx.execute(&s.put_event, &[chat, &seq, &shard, event])
                    .await?;
            }
            if let Some(done) = done {
                delete_action(tx, s, done).await?;
            }
        }
        Write::AckOutbox { chat, seq } => {
            tx.execute(&s.ack_outbox, &[chat, seq]).await?;
        }
        Write::RemoveSession { chat } => {
            tx.execute(&s.delete_outbox, &[chat]).await?;
            tx.execute(&s.delete_session, &[chat]).await?;
        }
        Write::Conversation {
            id,
            record,
            enqueue,
            seen,
            done,
        } => {
            tx.execute(&s.upsert_conversation, &[id, &shard, record])
                .await?;
            for (key, action) in enqueue {
                tx.execute(
                    &s.put_action,
                    &[&key.conversation, &key.lane, &key.seq, &shard, action],
                )
                .await?;
            }
            if let Some((key, at)) = seen {
                tx.execute(&s.put_key, &[key, &shard, at]).await?;
            }
            if let Some(done) = done {
                delete_action(tx, s, done).await?;
            }
        }
        Write::RemoveAction(key) => delete_action(tx, s, key).await?,
        Write::PruneInbox { before_ms } => {
            tx.execute(&s.prune_inbox, &[before_ms]).await?;
        }
    }
    Ok(())
}
