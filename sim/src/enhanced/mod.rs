//! The Salesforce Enhanced Chat (MIAW) simulator: the pure reference server of
//! `switchboard-core` (feature `model`, `model::enhanced`) served over HTTP/1.1 — REST under
//! `/iamessage/api/v2` and a real Server-Sent Events stream per subject at
//! `/eventrouter/v1/sse` with `ping`s, replay after `Last-Event-Id` and fault injection —
//! plus the agent's side as a Rust handle ([`EnhancedAgent`]) and as JSON under `/__sim/`, with
//! the same web console for people as the Live Agent simulator at `GET /console`.
//!
//! Every protocol rule is the reference server's; this module parses HTTP into its requests,
//! streams its event logs, runs its timed work (routing after a delay) and cuts or stalls
//! streams on request.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use switchboard_sim::enhanced::{EnhancedChatSim, EnhancedSimConfig};
//!
//! let sim = EnhancedChatSim::start(EnhancedSimConfig::default()).await?;
//! let agent = sim.agent();
//! // … point a client at sim.base_url(); it gets a token, opens SSE, creates a conversation …
//! if let Some(waiting) = agent.wait_for_waiting(Duration::from_secs(5)).await {
//!     agent.accept(&waiting.conversation_id, "Li Wei").ok();
//!     agent.send_text(&waiting.conversation_id, "Hello, how can I help?").ok();
//! }
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | [`EnhancedSimConfig`] |
//! | `server` | [`EnhancedChatSim`]: listener, connection tasks, routing ticker, shutdown |
//! | `http` | reading one request, handing it to the model, answering or streaming |
//! | `sse` | one stream: replay, live events, pings, drops and stalls |
//! | [`agent`] | [`EnhancedAgent`], [`ConversationView`], [`WaitingConversation`], [`StreamView`] |
//! | `control_http` | the JSON control API under `/__sim/` |
//! | `console_http` | the agent console's adapter: conversations as chats under `/__sim/chats` |
//! | [`identity`] | [`IdentityIssuer`]: signs verified users' identity tokens for tests |
//! | `state` | what the tasks share: the model, open streams, change signals; [`DropMode`] |
//! | `clock` | model time: Unix milliseconds plus test skips |

pub mod agent;
mod clock;
pub mod config;
mod console_http;
mod control_http;
mod http;
pub mod identity;
mod server;
mod sse;
mod state;

pub use agent::{AgentError, ConversationView, EnhancedAgent, StreamView, WaitingConversation};
pub use config::EnhancedSimConfig;
pub use http::MAX_BODY;
pub use identity::{IdentityIssuer, SignError};
pub use server::EnhancedChatSim;
pub use state::DropMode;
pub use switchboard_core::model::enhanced::{
    Acknowledgement, ControlError, DuplicateMessage, ExpiredStreamShape, IdentityKeyset, Knobs,
    ListPayload, Recorded, Replay, RoutingOutcome, RoutingStatus, SessionState, SseEvent,
    UnverifiedIdentity,
};
