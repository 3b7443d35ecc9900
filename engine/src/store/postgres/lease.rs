//! The lease rows of `switchboard.leases` and the heartbeats of `switchboard.instances`, on a
//! connection of their own (a lease renewal never waits behind a large write). Every time is
//! the database's clock, so instances whose clocks disagree still agree on who holds what; an
//! owner measures how long its own renewal stays good on its monotonic clock, from before it
//! asked (see [`Leases::renew`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use switchboard_core::cluster::Lease;

use super::connect::{Reconnecting, Target};
use crate::store::StoreError;

/// A shard just taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquired {
    /// The shard.
    pub shard: u16,
    /// The epoch it is now held at (every write carries it).
    pub epoch: u64,
    /// How long after the previous owner's lease ended (it ran out, or was handed over) it is
    /// now, by the database's clock; `None` if the shard never had an owner. A poll the
    /// previous owner opened may still be held at Salesforce until its poll timeout has
    /// passed since then.
    pub since_previous: Option<Duration>,
}

/// One instance's view of, and hold on, the lease rows.
#[derive(Debug)]
pub struct Leases {
    instance: String,
    ttl: Duration,
    conn: Reconnecting,
}

impl Leases {
    pub(super) async fn connect(
        target: Target,
        instance: &str,
        ttl: Duration,
    ) -> Result<Leases, StoreError> {
        let conn = target.connect().await?;
        Ok(Leases {
            instance: instance.to_owned(),
            ttl,
            conn: Reconnecting::new(target, Some(conn)),
        })
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// How long a lease lasts unless renewed.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn ttl_secs(&self) -> f64 {
        self.ttl.as_secs_f64()
    }

    /// Says this instance is alive, and reads every lease and the instances alive (a
    /// heartbeat within the lease time).
    pub async fn view(&self) -> Result<(Vec<Lease>, BTreeSet<String>), StoreError> {
        let (me, ttl) = (self.instance.clone(), self.ttl_secs());
        self.conn
            .run(async move |c| {
                c.execute(
                    "INSERT INTO switchboard.instances (id, seen_at) VALUES ($1, now())
                 ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                    &[&me],
                )
                .await?;
                let leases = c
                    .query(
                        "SELECT shard, owner, epoch, expires_at < now() FROM switchboard.leases
                     ORDER BY shard",
                        &[],
                    )
                    .await?
                    .iter()
                    .map(|row| Lease {
                        shard: row.get::<_, i16>(0) as u16,
                        owner: row.get(1),
                        epoch: row.get::<_, i64>(2) as u64,
                        expired: row.get(3),
                    })
                    .collect();
                let live = c
                    .query(
                        "SELECT id FROM switchboard.instances
                     WHERE seen_at > now() - $1::float8 * interval '1 second'",
                        &[&ttl],
                    )
                    .await?
                    .iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect();
                Ok((leases, live))
            })
            .await
    }

    /// Takes `shard` if its lease is free or ran out (raising its epoch), else `None`.
    pub async fn acquire(&self, shard: u16) -> Result<Option<Acquired>, StoreError> {
        let (me, ttl) = (self.instance.clone(), self.ttl_secs());
        let row = self
            .conn
            .run(async move |c| {
                c.query_opt(
                    "WITH old AS (
                         SELECT shard, owner, expires_at FROM switchboard.leases
                         WHERE shard = $1 AND (owner IS NULL OR expires_at < now())
                         FOR UPDATE SKIP LOCKED
                     )
                     UPDATE switchboard.leases l
                     SET owner = $2, epoch = l.epoch + 1,
                         expires_at = now() + $3::float8 * interval '1 second'
                     FROM old WHERE l.shard = old.shard
                     RETURNING l.epoch,
                         CASE WHEN old.expires_at = '-infinity' THEN NULL
                              ELSE EXTRACT(EPOCH FROM (now() - old.expires_at))::float8 END",
                    &[&(shard as i16), &me, &ttl],
                )
                .await
            })
            .await?;
        Ok(row.map(|row| Acquired {
            shard,
            epoch: row.get::<_, i64>(0) as u64,
            since_previous: row
                .get::<_, Option<f64>>(1)
                .map(|s| Duration::from_secs_f64(s.max(0.0))),
        }))
    }

    /// Renews the leases `held` ((shard, epoch) pairs); returns the shards still held, and the
    /// instant (on this process's monotonic clock, taken before asking) until which they are
    /// held for sure: the database's new expiry is later than that.
    pub async fn renew(&self, held: &[(u16, u64)]) -> Result<(Vec<u16>, Instant), StoreError> {
        let asked = Instant::now();
        let shards: Vec<i16> = held.iter().map(|(s, _)| *s as i16).collect();
        let epochs: Vec<i64> = held.iter().map(|(_, e)| *e as i64).collect();
        let (me, ttl) = (self.instance.clone(), self.ttl_secs());
        let renewed = self
            .conn
            .run(async move |c| {
                c.query(
                    "UPDATE switchboard.leases l
                     SET expires_at = now() + $3::float8 * interval '1 second'
                     FROM unnest($1::smallint[], $2::bigint[]) AS mine(shard, epoch)
                     WHERE l.shard = mine.shard AND l.epoch = mine.epoch AND l.owner = $4
                     RETURNING l.shard",
                    &[&shards, &epochs, &ttl, &me],
                )
                .await
            })
            .await?;
        let still: Vec<u16> = renewed
            .iter()
            .map(|row| row.get::<_, i16>(0) as u16)
            .collect();
        Ok((still, asked + self.ttl))
    }

    /// Hands `shard` over at once (its next owner need not wait for the lease to run out).
    pub async fn release(&self, shard: u16, epoch: u64) -> Result<(), StoreError> {
        let me = self.instance.clone();
        self.conn
            .run(async move |c| {
                c.execute(
                    "UPDATE switchboard.leases SET owner = NULL, expires_at = now()
                 WHERE shard = $1 AND epoch = $2 AND owner = $3",
                    &[&(shard as i16), &(epoch as i64), &me],
                )
                .await
            })
            .await
            .map(drop)
    }

    /// Says this instance is leaving: it no longer counts among the live ones.
    pub async fn leave(&self) -> Result<(), StoreError> {
        let me = self.instance.clone();
        self.conn
            .run(async move |c| {
                c.execute("DELETE FROM switchboard.instances WHERE id = $1", &[&me])
                    .await
            })
            .await
            .map(drop)
    }
}
