//! # switchboard-core
//!
//! The pure, I/O-free heart of Switchboard. Contract:
//!
//! - **No I/O, no clock.** Nothing here opens a socket, touches a disk or reads the time; every
//!   input carries a [`time::Timestamp`] and timers are returned as timestamps to wake up at.
//!   `cargo tree -p switchboard-core -e normal` lists no tokio, hyper, sled or mio.
//! - **Live Agent wire types** ([`liveagent`]): every request a visitor client sends and every
//!   response and event it receives (spec `live-agent.md` §4–§6). Lenient decoding, exact
//!   encoding.
//! - **The session machine** ([`session`]): `Init → Established → Polling ⇄ Resyncing → Ended`,
//!   driven quinn-proto style — `handle(input, now)`, then drain `poll_output()` and arm
//!   `poll_timeout()`. Requests carry ids; session-ending failures are events, not errors.
//!   Its [`session::Snapshot`] is serde, so a driver can persist it and resume after a crash.
//! - **The desk vocabulary** ([`desk`]): what a conversation needs from any agent desk and asks
//!   of one. Each desk machine translates at its edge (Live Agent: [`session::desk`]).
//! - **The conversation machine** ([`conversation`]): joins one channel user to at most one live
//!   chat at a time, speaking only the desk vocabulary — what starts and ends a chat, what the
//!   user is told, how agent lines are merged to fit the channel's send window, when a failed
//!   send is tried again or given up, and what the agent hears when the user cannot be reached. Same contract: `handle(input, now)`,
//!   `poll_output()`, `poll_timeout()`, and a serde [`conversation::Snapshot`].
//!
//! - **Several instances** ([`cluster`]): the shard of a conversation, and which shards an
//!   instance should take or give up given the leases and the instances alive.
//!
//! Module map: [`time`] (timestamps), [`liveagent`] (wire types), [`session`] (the Live Agent
//! machine), [`desk`] (the desk vocabulary), [`conversation`] (the user ⇄ desk rules),
//! [`enhanced`] (Enhanced Chat), [`cluster`] (shards and their fair share), and, with
//! the `model` feature, `model` (a reference Live Agent server and the model-test harness, shared
//! by the simulator, the tests and the fuzz targets).

pub mod cluster;
pub mod conversation;
pub mod desk;
pub mod enhanced;
pub mod liveagent;
#[cfg(feature = "model")]
pub mod model;
pub mod session;
pub mod time;
