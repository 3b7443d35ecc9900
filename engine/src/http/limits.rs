//! What a listener grants a client — time to send the request head, time to send the body, time
//! to sit idle between requests, and a place among a bounded number of connections — and the
//! counters that show these limits at work on `/metrics`.
//!
//! The bound matters because the process's open files are shared: every live chat holds one
//! connection to the agent desk (its long poll), and a few thousand idle sockets from anyone on
//! the internet must not be able to take those files away. [`inbound_cap`] splits the open-file
//! limit so that a reserve stays with the desk whatever inbound traffic does.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::{ConfigError, HttpConfig};

/// Connections the admin listener holds at once (operators and a metrics scraper).
pub const ADMIN_MAX_CONNECTIONS: usize = 64;

/// Open files the process needs besides connections: standard streams, the store's files, the
/// listening sockets, the channel clients' pools.
pub const BASE_FDS: u64 = 64;

/// One listener's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// From a connection's opening, or the first byte of a request after an idle spell, to the
    /// end of the request head.
    pub header_timeout: Duration,
    /// From the end of the head to the end of the body.
    pub body_timeout: Duration,
    /// Between the end of a response and the first byte of the next request.
    pub idle_timeout: Duration,
    /// Connections held at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
}

impl ListenerLimits {
    /// The configured timeouts with this connection bound.
    pub fn new(http: &HttpConfig, max_connections: usize) -> ListenerLimits {
        ListenerLimits {
            header_timeout: Duration::from_secs_f64(http.header_timeout_secs),
            body_timeout: Duration::from_secs_f64(http.body_timeout_secs),
            idle_timeout: Duration::from_secs_f64(http.idle_timeout_secs),
            max_connections,
        }
    }
}

/// How many connections the public listener may hold, given the open-file limit `nofile` and
/// the files `reserved` for the agent desk (`None`: three quarters of the limit). The admin
/// listener's [`ADMIN_MAX_CONNECTIONS`] and [`BASE_FDS`] come out of the rest too.
pub fn inbound_cap(
    configured: usize,
    nofile: u64,
    reserved: Option<u64>,
) -> Result<usize, ConfigError> {
    let reserved = reserved.unwrap_or(nofile / 4 * 3);
    let taken = reserved
        .saturating_add(ADMIN_MAX_CONNECTIONS as u64)
        .saturating_add(BASE_FDS);
    let available = nofile.saturating_sub(taken);
    if available == 0 {
        return Err(ConfigError::Invalid {
            field: "http.reserved_fds".into(),
            message: format!(
                "the open-file limit is {nofile}: keeping {reserved} for the agent desk leaves \
                 none for inbound connections (raise the limit or lower the reserve)"
            ),
        });
    }
    Ok(configured.min(usize::try_from(available).unwrap_or(usize::MAX)))
}

/// Which limit closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// The request head did not arrive in time.
    Header,
    /// The body did not arrive in time.
    Body,
    /// The connection sat idle too long between requests.
    Idle,
}

/// One listener's connection counters.
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    open: AtomicU64,
    refused: AtomicU64,
    header: AtomicU64,
    body: AtomicU64,
    idle: AtomicU64,
}

impl ConnectionCounters {
    /// A connection was closed at accept because the listener was full.
    pub fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed by a timeout.
    pub fn expired(&self, which: Expired) {
        let counter = match which {
            Expired::Header => &self.header,
            Expired::Body => &self.body,
            Expired::Idle => &self.idle,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection as open until the returned guard drops.
    pub fn opened(self: &Arc<Self>) -> OpenGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.clone())
    }

    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections refused so far.
    pub fn refused_total(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections closed by `which` so far.
    pub fn expired_total(&self, which: Expired) -> u64 {
        match which {
            Expired::Header => &self.header,
            Expired::Body => &self.body,
            Expired::Idle => &self.idle,
        }
        .load(Ordering::Relaxed)
    }
}

/// Keeps a connection counted as open.
#[derive(Debug)]
pub struct OpenGuard(Arc<ConnectionCounters>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The Prometheus text for every listener's counters, by `listener` label.
pub fn render_connections(listeners: &[(&str, &ConnectionCounters)]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, values: &[(&str, String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (listener, labels, value) in values {
            let _ = writeln!(out, "{name}{{listener=\"{listener}\"{labels}}} {value}");
        }
    };
    let each = |value: &dyn Fn(&ConnectionCounters) -> u64| -> Vec<(&str, String, u64)> {
        listeners
            .iter()
            .map(|(listener, c)| (*listener, String::new(), value(c)))
            .collect()
    };
    family(
        "switchboard_inbound_connections_open",
        "gauge",
        "Inbound connections open now.",
        &each(&ConnectionCounters::open),
    );
    family(
        "switchboard_inbound_connections_refused_total",
        "counter",
        "Inbound connections closed at accept because the listener was full.",
        &each(&ConnectionCounters::refused_total),
    );
    let mut timed_out = Vec::new();
    for (listener, c) in listeners {
        for (name, which) in [
            ("header", Expired::Header),
            ("body", Expired::Body),
            ("idle", Expired::Idle),
        ] {
            let labels = format!(",timeout=\"{name}\"");
            timed_out.push((*listener, labels, c.expired_total(which)));
        }
    }
    family(
        "switchboard_inbound_connections_timed_out_total",
        "counter",
        "Inbound connections closed by a header, body or idle timeout.",
        &timed_out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_three_quarters_of_the_open_files_stay_with_the_desk() {
        // 20,000 files: 15,000 for the desk, 128 for the admin listener and the process.
        assert_eq!(inbound_cap(1024, 20_000, None).unwrap(), 1024);
        assert_eq!(inbound_cap(10_000, 20_000, None).unwrap(), 4_872);
        // A small limit shrinks the inbound share, never the reserve.
        assert_eq!(inbound_cap(1024, 1024, None).unwrap(), 128);
        assert_eq!(inbound_cap(1024, 20_000, Some(19_000)).unwrap(), 872);
    }

    #[test]
    fn a_reserve_that_leaves_nothing_for_inbound_names_the_field() {
        let err = inbound_cap(1024, 1024, Some(1000)).unwrap_err().to_string();
        assert!(err.starts_with("http.reserved_fds:"), "{err}");
    }

    #[test]
    fn metrics_show_each_listener_and_each_timeout() {
        let public = Arc::new(ConnectionCounters::default());
        let admin = ConnectionCounters::default();
        let _held = public.opened();
        public.refused();
        public.expired(Expired::Header);
        public.expired(Expired::Header);
        admin.expired(Expired::Idle);
        let text = render_connections(&[("public", &public), ("admin", &admin)]);
        for line in [
            "switchboard_inbound_connections_open{listener=\"public\"} 1",
            "switchboard_inbound_connections_open{listener=\"admin\"} 0",
            "switchboard_inbound_connections_refused_total{listener=\"public\"} 1",
            "switchboard_inbound_connections_timed_out_total{listener=\"public\",timeout=\"header\"} 2",
            "switchboard_inbound_connections_timed_out_total{listener=\"admin\",timeout=\"idle\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
