//! Counters the engine keeps about its Live Agent traffic, shared by every driver.

use std::sync::atomic::{AtomicU64, Ordering};

use switchboard_core::liveagent::Resource;

/// Monotonic counters since the engine opened.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    polls_answered: AtomicU64,
    posts_answered: AtomicU64,
    status_403: AtomicU64,
    status_409: AtomicU64,
    status_503: AtomicU64,
    transport_failures: AtomicU64,
    persists: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Requests sent.
    pub requests: u64,
    /// `Messages` polls that got an HTTP answer.
    pub polls_answered: u64,
    /// Visitor POSTs that got an HTTP answer.
    pub posts_answered: u64,
    /// 403 answers (session gone).
    pub status_403: u64,
    /// 409 answers (duplicate poll or out-of-sync sequence).
    pub status_409: u64,
    /// 503 answers (failover).
    pub status_503: u64,
    /// Requests that got no HTTP answer.
    pub transport_failures: u64,
    /// Snapshots made durable.
    pub persists: u64,
}

impl Metrics {
    pub(crate) fn sent(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn answered(&self, resource: Resource, status: Option<u16>) {
        let bump = |c: &AtomicU64| {
            c.fetch_add(1, Ordering::Relaxed);
        };
        let Some(status) = status else {
            return bump(&self.transport_failures);
        };
        match status {
            403 => bump(&self.status_403),
            409 => bump(&self.status_409),
            503 => bump(&self.status_503),
            _ => {}
        }
        if resource == Resource::Messages {
            bump(&self.polls_answered);
        } else if resource.is_sequenced() {
            bump(&self.posts_answered);
        }
    }

    pub(crate) fn persisted(&self) {
        self.persists.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            requests: get(&self.requests),
            polls_answered: get(&self.polls_answered),
            posts_answered: get(&self.posts_answered),
            status_403: get(&self.status_403),
            status_409: get(&self.status_409),
            status_503: get(&self.status_503),
            transport_failures: get(&self.transport_failures),
            persists: get(&self.persists),
        }
    }
}
