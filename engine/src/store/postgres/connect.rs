//! Reaching the database: the URL parsed once (and named in errors without its password),
//! TLS by rustls with the webpki roots when the URL's `sslmode` asks for it (plain TCP or a
//! Unix socket otherwise), and the store's lock.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// The advisory lock whose holder is the database's one writer (`"Switchboard"` in ASCII).
const STORE_LOCK: i64 = 0x0053_7769_7463_6862;

/// Where the store lives.
#[derive(Clone)]
pub(super) struct Target {
    config: Config,
    tls: MakeRustlsConnect,
    /// `user@host:port/dbname`, for errors and logs.
    pub(super) name: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// One open connection; its I/O task stops when it is dropped.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) client: Client,
    task: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Target, StoreError> {
        let config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            StoreError::Io(format!("the PostgreSQL URL does not parse: {e}"))
        })?;
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Io(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Target {
            name: describe(&config),
            config,
            tls: MakeRustlsConnect::new(tls),
        })
    }

    pub(super) async fn connect(&self) -> Result<Conn, StoreError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| StoreError::Io(format!("PostgreSQL at {}: {e}", self.name)))?;
        let task = tokio::spawn(async move {
            // Its end (the server went away, or the connection was dropped) shows as errors of
            // the client's next calls.
            let _ = connection.await;
        });
        Ok(Conn { client, task })
    }

    /// A connection that listens on `channel`: each notification's payload is sent to the
    /// returned receiver, which closes when the connection ends.
    pub(super) async fn listen(
        &self,
        channel: &str,
    ) -> Result<(Conn, tokio::sync::mpsc::UnboundedReceiver<String>), StoreError> {
        let (client, mut connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| StoreError::Io(format!("PostgreSQL at {}: {e}", self.name)))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                        if tx.send(n.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {channel}"))
            .await
            .map_err(|e| sql(self, e))?;
        Ok((Conn { client, task }, rx))
    }
}

impl Conn {
    /// Takes the store's lock for as long as this connection lives, or refuses: another
    /// process writes this database.
    pub(super) async fn lock(&self, target: &Target) -> Result<(), StoreError> {
        let row = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&STORE_LOCK])
            .await
            .map_err(|e| sql(target, e))?;
        if row.get::<_, bool>(0) {
            Ok(())
        } else {
            Err(StoreError::Locked(format!("PostgreSQL at {}", target.name)))
        }
    }
}

/// A connection opened when first needed and opened again after a call broke it, for the
/// short queries of the lease rows and the pushes table.
#[derive(Debug)]
pub(super) struct Reconnecting {
    target: Target,
    conn: tokio::sync::Mutex<Option<Conn>>,
}

impl Reconnecting {
    /// A connection to `target`, starting with `conn` if one is open already.
    pub(super) fn new(target: Target, conn: Option<Conn>) -> Reconnecting {
        Reconnecting {
            target,
            conn: tokio::sync::Mutex::new(conn),
        }
    }

    /// Runs `query`, connecting first if there is no connection; an I/O failure drops the
    /// connection so the next call opens a fresh one.
    pub(super) async fn run<T>(
        &self,
        query: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut slot = self.conn.lock().await;
        let conn = match slot.take() {
            Some(conn) => slot.insert(conn),
            None => slot.insert(self.target.connect().await?),
        };
        query(&conn.client).await.map_err(|e| {
            if e.as_db_error().is_none() {
                *slot = None;
            }
            sql(&self.target, e)
        })
    }
}

/// A database error, naming where.
pub(super) fn sql(target: &Target, e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Io(format!(
            "PostgreSQL at {}: {} (SQLSTATE {})",
            target.name,
            db.message(),
            db.code().code()
        )),
        None => StoreError::Io(format!("PostgreSQL at {}: {e}", target.name)),
    }
}

fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("(default user)");
    let db = config.get_dbname().unwrap_or(user);
    format!("{user}@{host}:{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_named_without_its_password() {
        let target = Target::parse("postgres://gw:s3cr3t@db.internal:6432/switchboard").unwrap();
        assert_eq!(target.name, "gw@db.internal:6432/switchboard");
        assert!(!format!("{target:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_url_that_does_not_parse_is_a_clear_error() {
        let err = Target::parse("postgres://gw@host:notaport/db").unwrap_err();
        assert!(err.to_string().contains("does not parse"), "{err}");
    }
}
