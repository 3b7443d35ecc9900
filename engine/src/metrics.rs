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
    protocol_errors: AtomicU64,
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
    /// Success answers whose body did not decode.
    pub protocol_errors: u64,
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

    pub(crate) fn protocol_error(&self) {
        self.protocol_errors.fetch_add(1, Ordering::Relaxed);
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
            protocol_errors: get(&self.protocol_errors),
            persists: get(&self.persists),
        }
    }
}

/// Webhook outcomes on the public listener.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

impl WebhookCounters {
    /// Counts one answered webhook.
    pub fn record(&self, status: u16, accepted: usize, duplicates: usize) {
        self.accepted.fetch_add(accepted as u64, Ordering::Relaxed);
        self.duplicates
            .fetch_add(duplicates as u64, Ordering::Relaxed);
        match status {
            400..=499 => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
            }
            500..=599 => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Renders the Prometheus text exposition of the engine's counters.
pub fn render_prometheus(
    engine: &MetricsSnapshot,
    webhooks: &WebhookCounters,
    sessions_by_state: &[(&str, usize)],
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "switchboard_liveagent_requests_total",
        "Live Agent requests sent.",
        engine.requests,
    );
    counter(
        "switchboard_liveagent_polls_total",
        "Messages polls answered.",
        engine.polls_answered,
    );
    counter(
        "switchboard_liveagent_posts_total",
        "Visitor POSTs answered.",
        engine.posts_answered,
    );
    counter(
        "switchboard_liveagent_403_total",
        "403 answers (session gone).",
        engine.status_403,
    );
    counter(
        "switchboard_liveagent_409_total",
        "409 answers (duplicate poll or out-of-sync sequence).",
        engine.status_409,
    );
    counter(
        "switchboard_liveagent_503_total",
        "503 answers (failover).",
        engine.status_503,
    );
    counter(
        "switchboard_liveagent_transport_failures_total",
        "Requests without an HTTP answer.",
        engine.transport_failures,
    );
    counter(
        "switchboard_liveagent_protocol_errors_total",
        "Success answers whose body does not decode (retried like a server error).",
        engine.protocol_errors,
    );
    counter(
        "switchboard_persists_total",
        "Session snapshots made durable.",
        engine.persists,
    );
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    counter(
        "switchboard_webhook_events_accepted_total",
        "Webhook events taken in.",
        get(&webhooks.accepted),
    );
    counter(
        "switchboard_webhook_events_duplicate_total",
        "Webhook events dropped as duplicates.",
        get(&webhooks.duplicates),
    );
    counter(
        "switchboard_webhook_rejected_total",
        "Webhooks answered 4xx.",
        get(&webhooks.rejected),
    );
    counter(
        "switchboard_webhook_failed_total",
        "Webhooks answered 5xx (not stored; the platform retries).",
        get(&webhooks.failed),
    );
    let _ = writeln!(
        out,
        "# HELP switchboard_sessions Live sessions by state.\n# TYPE switchboard_sessions gauge"
    );
    for (state, count) in sessions_by_state {
        let _ = writeln!(out, "switchboard_sessions{{state=\"{state}\"}} {count}");
    }
    out
}

/// Upper bounds (seconds) of the delivery-latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

/// How long deliveries to users took, from the start of the first attempt to the last answer.
#[derive(Debug, Default)]
pub struct DeliveryLatency {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl DeliveryLatency {
    /// Records one delivery.
    pub fn observe(&self, took: std::time::Duration) {
        let secs = took.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus exposition of the histogram.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let name = "switchboard_delivery_seconds";
        let mut out = format!(
            "# HELP {name} Time to deliver a message to a user, retries included.\n# TYPE {name} histogram\n"
        );
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        out
    }
}
