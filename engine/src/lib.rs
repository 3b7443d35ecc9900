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
//! - **Nothing crosses the bridge before it is durable.** The [`bridge`] stores a webhook's
//!   events with their dedupe keys before the platform gets its reply, turns conversation outputs
//!   into a durable two-lane action queue before performing any, and acknowledges session events
//!   only after the conversation stored what they caused — each step one unit of work in the
//!   typed [`Store`]. sled is named only under [`store`].
//! - **One poller across instances** (feature `postgres`, `[store] shared = true`): a chat is
//!   served only by the instance holding its shard's lease (`cluster`), nothing goes out for a
//!   shard whose lease is not sure ([`gate`]), and the database refuses the writes of a holder
//!   whose lease moved.
//! - **Channels fit their conversations.** Each channel's [`Capabilities`](switchboard_channels::Capabilities)
//!   (send window, budget, message size, typing) set the conversation settings of its users.
//!
//! Module map:
//!
//! | module | holds |
//! |---|---|
//! | [`engine`] | the session engine's public API ([`Engine`]) |
//! | [`driver`] | the per-chat task, one kind per desk |
//! | [`registry`] | one driver per chat |
//! | [`store`] | the typed [`Store`] trait (units of work), sled, PostgreSQL (feature `postgres`) and in-memory stores, the conformance suite; versioned bincode records |
//! | [`liveagent_client`] | the pooled HTTP/HTTPS Live Agent client |
//! | [`enhanced_client`] | the Enhanced Chat client: REST requests and event streams |
//! | [`desk_http`] | the pooled HTTP client under both: idle connections capped, small read buffer |
//! | [`identity`] | signing verified users' identity tokens for Enhanced Chat |
//! | [`bridge`] | routing to one owner task per conversation; webhooks; performing queued actions |
//! | [`http`] | the public (webhook) and admin listeners |
//! | [`channels`] | the channel registry: one factory per built-in channel type |
//! | [`config`] | the TOML configuration and its validation |
//! | [`app`] | everything assembled from a config, and its orderly shutdown |
//! | [`simulated`] | the configuration for running against the simulators (demo, tests) |
//! | [`metrics`] | traffic counters, delivery latency, Prometheus text |
//! | [`clock`] | the only place the engine reads the time for the core |
//! | [`gate`] | whether requests and actions for a shard may go out now (several instances) |
//! | `cluster` | several instances on one PostgreSQL database: holding shards, serving them, pushes for the others (feature `postgres`) |
//!
//! The `switchboard` binary (`src/bin/switchboard/`) adds the command line, logging and signals.

pub mod app;
pub mod bridge;
pub mod channels;
pub mod clock;
#[cfg(feature = "postgres")]
pub mod cluster;
pub mod config;
pub mod desk_http;
pub mod driver;
pub mod engine;
pub mod enhanced_client;
pub mod gate;
pub mod http;
pub mod identity;
pub mod liveagent_client;
pub mod metrics;
pub mod registry;
pub mod simulated;
pub mod store;

pub use engine::{Engine, EngineConfig, EngineError, EnhancedSettings};
pub use enhanced_client::{EnhancedClient, ScrtUrl};
pub use liveagent_client::{Endpoint, LiveAgentClient};
pub use metrics::MetricsSnapshot;
pub use store::{ChatId, MemoryStore, OutboxEntry, SledStore, Store, StoreError};
