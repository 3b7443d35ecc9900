//! `[store]`: where durable state lives. `sled` (the default) is the embedded database in
//! `data_dir`, for one process; `postgres` keeps the same records in a PostgreSQL database
//! whose URL comes from the environment variable `url_env` names.

use serde::Deserialize;

use super::{ConfigError, Secrets, invalid};

/// Which store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreType {
    /// The embedded sled database in `data_dir`.
    #[default]
    Sled,
    /// A PostgreSQL database (feature `postgres`).
    Postgres,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `"sled"` or `"postgres"`.
    #[serde(default, rename = "type")]
    pub kind: StoreType,
    /// With `postgres`: the environment variable holding the connection URL
    /// (`postgres://user:password@host:5432/db?sslmode=require`); it carries a password, so it
    /// is never in the file.
    #[serde(default)]
    pub url_env: Option<String>,
    /// With `postgres`: several instances share the database, each holding shards through
    /// leases (`false`: one process, which locks the database).
    #[serde(default)]
    pub shared: bool,
    /// With `shared`: this instance's id, unique among those running (default: the host
    /// name, the process id and a random suffix, new at every start).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// With `shared`: how long a shard's lease lasts unless renewed (renewed every third).
    #[serde(default = "default_lease_secs")]
    pub lease_secs: f64,
    /// With `shared`: how long after a shard's previous owner let go its chats may poll again
    /// from here (Live Agent's `clientPollTimeout`, 40 s).
    #[serde(default = "default_takeover_wait_secs")]
    pub takeover_wait_secs: f64,
}

fn default_lease_secs() -> f64 {
    10.0
}

fn default_takeover_wait_secs() -> f64 {
    40.0
}

/// The store to open, secrets resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// sled in `data_dir`.
    Sled,
    /// PostgreSQL at this URL.
    Postgres {
        /// The connection URL (a secret).
        url: String,
    },
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreType::Sled,
            url_env: None,
            shared: false,
            instance_id: None,
            lease_secs: default_lease_secs(),
            takeover_wait_secs: default_takeover_wait_secs(),
        }
    }
}

impl StoreConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.shared && self.kind != StoreType::Postgres {
            return Err(invalid(
                "store.shared",
                "only a \"postgres\" store can be shared by several instances",
            ));
        }
        if !(self.lease_secs >= 1.0 && self.lease_secs <= 300.0) {
            return Err(invalid("store.lease_secs", "must be in [1, 300]"));
        }
        if !(self.takeover_wait_secs >= 0.0 && self.takeover_wait_secs <= 600.0) {
            return Err(invalid("store.takeover_wait_secs", "must be in [0, 600]"));
        }
        if let Some(id) = &self.instance_id
            && (id.is_empty() || id.len() > 128)
        {
            return Err(invalid("store.instance_id", "must be 1–128 characters"));
        }
        match (self.kind, &self.url_env) {
            (StoreType::Sled, Some(_)) => Err(invalid(
                "store.url_env",
                "only a \"postgres\" store has a URL; sled lives in data_dir",
            )),
            (StoreType::Postgres, None) => Err(invalid(
                "store.url_env",
                "a \"postgres\" store needs the environment variable of its URL",
            )),
            (StoreType::Postgres, Some(_)) if !cfg!(feature = "postgres") => Err(invalid(
                "store.type",
                "this build has no PostgreSQL store (feature \"postgres\")",
            )),
            _ => Ok(()),
        }
    }

    /// The store to open, with its URL read from the environment.
    pub fn resolve(&self, secrets: &dyn Secrets) -> Result<StoreChoice, ConfigError> {
        match (self.kind, &self.url_env) {
            (StoreType::Postgres, Some(var)) => Ok(StoreChoice::Postgres {
                url: secrets.get("store.url_env", var)?,
            }),
            (StoreType::Postgres, None) => Err(invalid(
                "store.url_env",
                "a \"postgres\" store needs the environment variable of its URL",
            )),
            (StoreType::Sled, _) => Ok(StoreChoice::Sled),
        }
    }
}
