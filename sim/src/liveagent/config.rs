//! How a [`LiveAgentSim`](super::LiveAgentSim) is set up.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use switchboard_core::model::server::Knobs;

/// Settings of one simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The reference server's settings (the spec's UNCONFIRMED behaviours, ids it expects,
    /// `record_requests`).
    pub knobs: Knobs,
    /// How long a `Messages` poll with nothing to deliver is held before its 204 (the real
    /// server: about 30 s; tests want 0.2–2 s).
    pub hold: Duration,
    /// Makes ids, keys, tokens and offsets reproducible.
    pub seed: u64,
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    /// How often sessions nobody polls are looked for (and deleted after
    /// `knobs.connection_timeout`).
    pub expiry_sweep: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            knobs: Knobs::default(),
            hold: Duration::from_secs(30),
            seed: 0x5eed,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            expiry_sweep: Duration::from_secs(1),
        }
    }
}

impl SimConfig {
    /// Defaults with a shorter hold, for tests.
    pub fn with_hold(hold: Duration) -> Self {
        Self {
            hold,
            ..Self::default()
        }
    }
}
