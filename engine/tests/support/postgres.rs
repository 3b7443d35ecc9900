//! A PostgreSQL server for the tests that need one, and a fresh database per test on it. The
//! server is the one `SWITCHBOARD_TEST_POSTGRES_URL` names (`.ci/run` starts a throw-away
//! cluster and sets it); without it, `.ci/postgres.sh` starts one for this test binary, removed
//! when the binary exits. A test that needs PostgreSQL and gets none fails; it never skips.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the test server (a superuser's URL).
pub const URL_ENV: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// The server's URL, the cluster started on first use if the environment names none.
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Some(url) = std::env::var(URL_ENV).ok().filter(|u| !u.is_empty()) {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/postgres.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .args(["start", "--watch"])
            .arg(std::process::id().to_string())
            .output()
            .expect("bash runs .ci/postgres.sh");
        assert!(
            out.status.success(),
            "this test needs PostgreSQL: set {URL_ENV}, or install the server \
             (apt-get install postgresql) for .ci/postgres.sh to start one:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{db}?{query}"),
        None => format!("{server}/{db}"),
    }
}

/// A new, empty database on the test server: its URL.
pub async fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "switchboard_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let server = server_url();
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("the test PostgreSQL server at {server}: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    drop(client);
    let _ = task.await;
    with_database(server, &name)
}
