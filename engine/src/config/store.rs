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
#[derive(Debug, Clone, Default, Deserialize)]
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

impl StoreConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
