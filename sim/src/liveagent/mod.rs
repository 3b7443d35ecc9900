//! The Live Agent visitor-API simulator: the pure reference server of `switchboard-core`
//! (feature `model`) served over HTTP/1.1 with real long-poll holds, plus the agent's side as
//! a Rust handle ([`AgentControl`]) and as JSON under `/__sim/`, with a web console for people
//! at `GET /console` on the same listener.
//!
//! Every protocol rule — status codes, envelopes, sequence checks, failover, expiry — is the
//! reference server's; this module only parses HTTP into its requests, holds `Messages` polls
//! until the model has an answer, and runs the expiry sweep.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};
//!
//! let sim = LiveAgentSim::start(SimConfig::with_hold(Duration::from_millis(500))).await?;
//! let agent = sim.control();
//! // … point a client at sim.base_url(); it creates a session and requests a chat …
//! if let Some(chat) = agent.wait_for_waiting_chat(Duration::from_secs(5)).await {
//!     agent.accept(&chat.session_id, "Andy").ok();
//!     agent.send_text(&chat.session_id, "Hello, how can I help?").ok();
//! }
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | [`SimConfig`] |
//! | `server` | [`LiveAgentSim`]: listener, connection tasks, expiry sweep, shutdown |
//! | `http` | reading one request and routing it |
//! | `parse` | HTTP request → the model's `LiveAgentRequest` |
//! | `hold` | long-poll holds and their release on disconnect |
//! | [`control`] | [`AgentControl`], [`SessionView`], [`WaitingChat`], [`AgentError`] |
//! | `control_http` | the JSON control API under `/__sim/` |
//! | `console` | the ordered transcripts the agent console (`crate::console`) shows |
//! | `state` | what the tasks share: the model, held polls, change signals |
//! | `clock` | model time: milliseconds since start |

mod clock;
pub mod config;
mod console;
pub mod control;
mod control_http;
mod hold;
mod http;
mod parse;
mod server;
mod state;

pub use config::SimConfig;
pub use control::{AgentControl, AgentError, SessionView, WaitingChat};
pub use http::MAX_BODY;
pub use server::LiveAgentSim;
pub use switchboard_core::model::server::{
    ControlError, DuplicatePost, Knobs, Phase, PollTimeoutShape, Recorded,
};
