//! Migrations: the SQL files of `engine/migrations/postgres/`, numbered, applied in order at
//! open inside one transaction and recorded in `switchboard.schema_migrations`. Instances
//! starting together take turns (a transaction-level advisory lock); a database that records a
//! version this build does not know is refused, as sled's newer `meta/schema_version` is.

use tokio_postgres::Client;

use super::connect::{Target, sql};
use crate::store::StoreError;

/// Every migration, by the version it brings the schema to.
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    include_str!("../../../migrations/postgres/0001_initial.sql"),
)];

/// The schema version this build writes.
pub const PG_SCHEMA_VERSION: i32 = 1;

/// Serialises migrations of instances starting at once (`"SwbMigr"` in ASCII).
const MIGRATION_LOCK: i64 = 0x0053_7762_4d69_6772;

/// Brings the database to [`PG_SCHEMA_VERSION`].
pub(super) async fn migrate(client: &mut Client, target: &Target) -> Result<(), StoreError> {
    let e = |e| sql(target, e);
    let tx = client.transaction().await.map_err(e)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(e)?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS switchboard;
         CREATE TABLE IF NOT EXISTS switchboard.schema_migrations (
             version     integer     PRIMARY KEY,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );",
    )
    .await
    .map_err(e)?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM switchboard.schema_migrations",
            &[],
        )
        .await
        .map_err(e)?
        .get(0);
    if applied > PG_SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: applied as u32,
            supported: PG_SCHEMA_VERSION as u32,
        });
    }
    for (version, script) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        tx.batch_execute(script).await.map_err(e)?;
        tx.execute(
            "INSERT INTO switchboard.schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(e)?;
    }
    tx.commit().await.map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_rows_are_one_per_shard() {
        let last = switchboard_core::cluster::SHARDS - 1;
        assert!(
            MIGRATIONS[0]
                .1
                .contains(&format!("generate_series(0, {last})"))
        );
    }

    #[test]
    fn migrations_are_numbered_in_order_up_to_the_schema_version() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let expected: Vec<i32> = (1..=PG_SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
    }
}
