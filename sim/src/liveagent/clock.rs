//! The simulator's clock: milliseconds since the simulator started, plus whatever a test
//! skipped ahead. The reference server is pure and only ever sees these timestamps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use switchboard_core::time::Timestamp;

/// Wall time since start, shifted by [`SimClock::advance`].
#[derive(Debug)]
pub(crate) struct SimClock {
    started: Instant,
    skipped_ms: AtomicU64,
}

impl SimClock {
    pub(crate) fn start() -> Self {
        Self {
            started: Instant::now(),
            skipped_ms: AtomicU64::new(0),
        }
    }

    /// The current time for the model.
    pub(crate) fn now(&self) -> Timestamp {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Timestamp::from_millis(elapsed.saturating_add(self.skipped_ms.load(Ordering::Relaxed)))
    }

    /// Moves the model's time forward (expiry, timestamps); hold timers are not affected.
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skipped_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_the_model_time_forward() {
        let clock = SimClock::start();
        let before = clock.now();
        clock.advance(Duration::from_secs(200));
        assert!(clock.now().saturating_since(before) >= Duration::from_secs(200));
    }
}
