//! Pushes for shards held elsewhere (`switchboard.pushes`): any instance stores one durably
//! and once (by its dedupe key) and notifies `switchboard_pushes` with the shard, in one
//! statement; the shard's owner reads them oldest first, takes each in, and deletes it.

use tokio::sync::mpsc;

use super::connect::{Conn, Reconnecting, Target};
use crate::bridge::ForwardedPush;
use crate::store::StoreError;
use crate::store::decode;
use crate::store::envelope::encode;

/// The notification channel.
pub(super) const CHANNEL: &str = "switchboard_pushes";

/// Reads and writes the table on a connection of its own.
#[derive(Debug)]
pub struct Pushes {
    target: Target,
    conn: Reconnecting,
}

/// A stored push, as its owner reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPush {
    /// Its place in the table (delete it by this once taken in).
    pub seq: i64,
    /// The push.
    pub push: ForwardedPush,
}

impl Pushes {
    pub(super) fn new(target: Target) -> Pushes {
        Pushes {
            conn: Reconnecting::new(target.clone(), None),
            target,
        }
    }

    /// Stores `push` for the owner of its shard and notifies; `false` if its key was there.
    pub async fn forward(&self, push: &ForwardedPush) -> Result<bool, StoreError> {
        let body = encode(push)?;
        let key = push.key.0.as_bytes().to_vec();
        let shard = push.conversation().shard() as i16;
        let inserted = self
            .conn
            .run(async move |c| {
                c.query_opt(
                    "WITH stored AS (
                         INSERT INTO switchboard.pushes (key, shard, push) VALUES ($1, $2, $3)
                         ON CONFLICT (key) DO NOTHING
                         RETURNING shard
                     )
                     SELECT pg_notify('switchboard_pushes', shard::text) FROM stored",
                    &[&key, &shard, &body],
                )
                .await
            })
            .await?;
        Ok(inserted.is_some())
    }

    /// The stored pushes of `shards`, oldest first, at most `limit`.
    pub async fn of(&self, shards: &[u16], limit: i64) -> Result<Vec<StoredPush>, StoreError> {
        let shards: Vec<i16> = shards.iter().map(|s| *s as i16).collect();
        let rows = self
            .conn
            .run(async move |c| {
                c.query(
                    "SELECT seq, push FROM switchboard.pushes WHERE shard = ANY($1)
                     ORDER BY seq LIMIT $2",
                    &[&shards, &limit],
                )
                .await
            })
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredPush {
                    seq: row.get(0),
                    push: decode::forwarded_push(row.get(1))?,
                })
            })
            .collect()
    }

    /// Deletes a push its owner has taken in.
    pub async fn done(&self, seq: i64) -> Result<(), StoreError> {
        self.conn
            .run(async move |c| {
                c.execute("DELETE FROM switchboard.pushes WHERE seq = $1", &[&seq])
                    .await
            })
            .await
            .map(drop)
    }

    /// A receiver of the shards whose pushes arrived (from now on); it closes when the
    /// listening connection ends (listen again then).
    pub async fn listen(
        &self,
    ) -> Result<(ListenGuard, mpsc::UnboundedReceiver<String>), StoreError> {
        let (conn, rx) = self.target.listen(CHANNEL).await?;
        Ok((ListenGuard(conn), rx))
    }
}

/// Keeps a listening connection open.
#[derive(Debug)]
pub struct ListenGuard(#[allow(dead_code)] Conn);
