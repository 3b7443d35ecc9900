//! How an [`EnhancedChatSim`](super::EnhancedChatSim) is set up: the reference server's knobs
//! plus what only a live HTTP shell has (keep-alive interval, stream lifetime, listener).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use switchboard_core::model::enhanced::Knobs;

/// Settings of one simulator.
#[derive(Debug, Clone)]
pub struct EnhancedSimConfig {
    /// The reference server's settings (the spec's UNCONFIRMED behaviours, ids it expects).
    pub knobs: Knobs,
    /// Time between `ping` events on an idle stream (§7.2: unconfirmed; 15 s here).
    pub ping_interval: Duration,
    /// The server closes a stream this long after it opened (§10: a knob; `None` never).
    pub stream_max_age: Option<Duration>,
    /// A stream whose token expired is closed at its next ping (unconfirmed; off by default:
    /// expiry then bites on the next connect).
    pub end_stream_on_expiry: bool,
    /// Makes ids and tokens reproducible.
    pub seed: u64,
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
}

impl Default for EnhancedSimConfig {
    fn default() -> Self {
        Self {
            knobs: Knobs::default(),
            ping_interval: Duration::from_secs(15),
            stream_max_age: None,
            end_stream_on_expiry: false,
            seed: 0x5eed,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl EnhancedSimConfig {
    /// Defaults with these knobs.
    pub fn with_knobs(knobs: Knobs) -> Self {
        Self {
            knobs,
            ..Self::default()
        }
    }
}
