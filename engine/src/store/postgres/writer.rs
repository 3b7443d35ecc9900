//! The write-behind queue and the task that empties it: every unit committed to the mirror is
//! queued here, encoded; the task takes all that is queued and writes it in one transaction, in
//! order, then marks it durable. A lost connection keeps the batch: the task reconnects with
//! backoff (taking the store's lock again) and writes the same batch again. A lock another
//! process took meanwhile, or an error the database will give again (a constraint, bad data),
//! is fatal: every flush from then on fails and nothing more is written.

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
    /// Units durable, counted from the store's open.
    durable: u64,
    /// Why nothing more will be written.
    fatal: Option<StoreError>,
}

#[derive(Debug, Default)]
struct Queue {
    writes: Vec<Write>,
    /// Units queued so far.
    enqueued: u64,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
    progress: watch::Sender<Progress>,
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
    /// Starts the task on `conn`, which holds the store's lock.
    pub(super) fn start(target: Target, conn: Conn) -> Writer {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            progress: watch::Sender::new(Progress::default()),
        });
        let task = tokio::spawn(run(shared.clone(), target, conn));
        Writer { shared, task }
    }

    /// Queues one unit.
    pub(super) fn push(&self, write: Write) {
        let mut queue = self.shared.queue();
        queue.writes.push(write);
        queue.enqueued += 1;
        drop(queue);
        self.shared.wake.notify_one();
    }

    /// Returns once every unit queued before the call is durable; fails after `timeout`, or at
    /// once when the writer has stopped for good.
    pub(super) async fn flush(&self, timeout: Duration) -> Result<(), StoreError> {
        let target = self.shared.queue().enqueued;
        let mut progress = self.shared.progress.subscribe();
        let reached = progress.wait_for(|p| p.durable >= target || p.fatal.is_some());
        match tokio::time::timeout(timeout, reached).await {
            Ok(Ok(p)) => match &p.fatal {
                Some(fatal) if p.durable < target => Err(fatal.clone()),
                _ => Ok(()),
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
    // serialisation failures and deadlocks.
    code.starts_with("08")
        || code.starts_with("57")
        || code.starts_with("53")
        || *db.code() == SqlState::T_R_SERIALIZATION_FAILURE
        || *db.code() == SqlState::T_R_DEADLOCK_DETECTED
}

async fn run(shared: Arc<Shared>, target: Target, conn: Conn) {
    let mut conn = Some(conn);
    let mut statements: Option<Statements> = None;
    loop {
        shared.wake.notified().await;
        let (batch, upto) = {
            let mut queue = shared.queue();
            (std::mem::take(&mut queue.writes), queue.enqueued)
        };
        if batch.is_empty() {
            continue;
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            if conn.is_none() {
                match reconnect(&target).await {
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
            let written = write(open, &mut statements, &batch).await;
            match written {
                Ok(()) => break,
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

async fn reconnect(target: &Target) -> Result<Conn, StoreError> {
    let conn = target.connect().await?;
    conn.lock(target).await?;
    Ok(conn)
}

/// The statements one batch uses, prepared once per connection.
#[derive(Debug)]
struct Statements {
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
            upsert_session: client
                .prepare(
                    "INSERT INTO switchboard.sessions (chat, record) VALUES ($1, $2)
                     ON CONFLICT (chat) DO UPDATE SET record = EXCLUDED.record",
                )
                .await?,
            put_event: client
                .prepare(
                    "INSERT INTO switchboard.outbox (chat, seq, event) VALUES ($1, $2, $3)
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
                    "INSERT INTO switchboard.conversations (id, record) VALUES ($1, $2)
                     ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                )
                .await?,
            put_action: client
                .prepare(
                    "INSERT INTO switchboard.actions (conversation, lane, seq, action)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (conversation, lane, seq) DO UPDATE SET action = EXCLUDED.action",
                )
                .await?,
            put_key: client
                .prepare(
                    "INSERT INTO switchboard.inbox (key, at_ms) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET at_ms = EXCLUDED.at_ms",
                )
                .await?,
            prune_inbox: client
                .prepare("DELETE FROM switchboard.inbox WHERE at_ms < $1")
                .await?,
        })
    }
}

/// Writes `batch` in one transaction.
async fn write(
    conn: &mut Conn,
    statements: &mut Option<Statements>,
    batch: &[Write],
) -> Result<(), tokio_postgres::Error> {
    let s = match statements.take() {
        Some(prepared) => statements.insert(prepared),
        None => statements.insert(Statements::prepare(&conn.client).await?),
    };
    let tx = conn.client.transaction().await?;
    for unit in batch {
        apply(&tx, s, unit).await?;
    }
    tx.commit().await
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
            tx.execute(&s.upsert_session, &[chat, record]).await?;
            for (i, event) in events.iter().enumerate() {
                let seq = first + i as i64;
                tx.execute(&s.put_event, &[chat, &seq, event]).await?;
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
            tx.execute(&s.upsert_conversation, &[id, record]).await?;
            for (key, action) in enqueue {
                tx.execute(
                    &s.put_action,
                    &[&key.conversation, &key.lane, &key.seq, action],
                )
                .await?;
            }
            if let Some((key, at)) = seen {
                tx.execute(&s.put_key, &[key, at]).await?;
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
