//! Batched durability: callers ask for a flush and wait; one background task runs sled's
//! blocking `flush()` off the async threads and answers everyone who asked before it started.
//! (`flush_async` in sled 0.34 can deadlock, so it is not used.)

use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// A flush request: the database to flush (so the task holds no handle between requests and
/// the store's lock goes with the last `SledStore`) and who to tell.
type Waiter = (sled::Db, oneshot::Sender<Result<(), StoreError>>);

/// Handle to the flushing task.
#[derive(Debug, Clone)]
pub(crate) struct Flusher {
    requests: mpsc::UnboundedSender<Waiter>,
}

impl Flusher {
    /// Starts the task on the current tokio runtime.
    pub(crate) fn start() -> Flusher {
        let (requests, mut rx) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(more) = rx.try_recv() {
                    waiters.push(more);
                }
                let db = first_db(&waiters);
                let result = match tokio::task::spawn_blocking(move || db.flush()).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(StoreError::Io(e.to_string())),
                    Err(e) => Err(StoreError::Io(format!("flush task failed: {e}"))),
                };
                for (_, waiter) in waiters {
                    let _ = waiter.send(result.clone());
                }
            }
        });
        Flusher { requests }
    }

    /// Waits until everything written before this call is durable.
    pub(crate) async fn flush(&self, db: &sled::Db) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send((db.clone(), tx))
            .map_err(|_| StoreError::Io("the flusher has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Io("the flusher has stopped".into()))?
    }
}

fn first_db(waiters: &[Waiter]) -> sled::Db {
    // Every request of one store names the same database.
    waiters[0].0.clone()
}
