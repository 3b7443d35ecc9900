//! The simulator's clock: Unix milliseconds (identity tokens carry Unix-second `exp`), read
//! from the wall clock once at start and then from a monotonic timer, plus whatever a test
//! skipped ahead. The reference server only ever sees these timestamps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_core::time::Timestamp;

/// Unix time at start plus monotonic time since, shifted by [`SimClock::advance`].
#[derive(Debug)]
pub(crate) struct SimClock {
    started: Instant,
    epoch_ms: u64,
    skipped_ms: AtomicU64,
}

impl SimClock {
    pub(crate) fn start() -> Self {
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default();
        Self {
            started: Instant::now(),
            epoch_ms,
            skipped_ms: AtomicU64::new(0),
        }
    }

    /// The current time for the model.
    pub(crate) fn now(&self) -> Timestamp {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Timestamp::from_millis(
            self.epoch_ms
                .saturating_add(elapsed)
                .saturating_add(self.skipped_ms.load(Ordering::Relaxed)),
        )
    }

    /// Moves the model's time forward (token expiry, rate windows, routing delays); ping
    /// timers keep wall time.
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skipped_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unix_milliseconds_and_advances() {
        let clock = SimClock::start();
        let before = clock.now();
        assert!(before.as_millis() > 1_600_000_000_000, "Unix time");
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now().saturating_since(before) >= Duration::from_secs(3600));
    }
}
