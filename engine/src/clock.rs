//! The engine's clock: wall-clock milliseconds since the Unix epoch, so that timestamps stay
//! meaningful across a restart. This is the only place the engine reads the time for the core.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchboard_core::time::Timestamp;

/// Now, as the core counts time.
pub fn now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Timestamp::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// How long from now until `at` (zero if it has passed).
pub fn until(at: Timestamp) -> Duration {
    at.saturating_since(now())
}

/// Seconds since the Unix epoch (for the claims of tokens the gateway signs).
pub fn unix_secs() -> u64 {
    now().as_millis() / 1000
}
