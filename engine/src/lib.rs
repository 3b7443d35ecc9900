//! # switchboard-engine
//!
//! The thin I/O shell around the pure core. Contract:
//!
//! - **One driver task per live session** ([`driver`]) owns its
//!   [`Session`](switchboard_core::session::Session): it feeds it HTTP answers, timer expiries
//!   and visitor actions, and performs the requests it asks for. No protocol decision is made
//!   here. A [`registry`] makes a second driver (and so a second long poll) for one chat
//!   impossible.
//! - **Persist before acting.** At every `Persist` output the snapshot and the events before
//!   it are committed atomically to the [`store`] and flushed before any following request —
//!   so the next `ack` never goes out before the events it acknowledges are durable.
//! - **Sessions outlive the process.** [`Engine::open`] resumes every stored live session with
//!   its key, affinity token and `ack`; no new ChasitorInit. The store's lock refuses a second
//!   engine on the same data directory.
//!
//! Module map: [`engine`] (the public API), [`driver`] (the per-session task), [`registry`],
//! [`store`] (sled behind the `Store` trait), [`liveagent_client`] (pooled HTTP/HTTPS client),
//! [`metrics`] (traffic counters), [`clock`] (the only place time is read).

pub mod app;
pub mod bridge;
pub mod clock;
pub mod config;
pub mod driver;
pub mod engine;
pub mod http;
pub mod liveagent_client;
pub mod metrics;
pub mod registry;
pub mod simulated;
pub mod store;

pub use engine::{Engine, EngineConfig, EngineError};
pub use liveagent_client::{Endpoint, LiveAgentClient};
pub use metrics::MetricsSnapshot;
pub use store::{ChatId, OutboxEntry, SledStore, Store, StoreError};
