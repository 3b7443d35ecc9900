//! Live Agent (Salesforce Legacy Chat) visitor REST API wire types, per `spec/live-agent.md`
//! §4–§6: requests with their headers, request bodies, response envelopes and events.
//!
//! Decoding is lenient where the real server is known to vary (numbers as strings, missing
//! booleans, unknown event types kept); encoding is exact.

pub mod bodies;
pub mod event;
pub mod headers;
mod lenient;
pub mod request;
pub mod responses;

pub use bodies::{ChasitorInit, CustomDetail, Entity, EntityFieldsMap};
pub use event::Event;
pub use request::{LiveAgentRequest, Method, Resource};
pub use responses::{MessagesResponse, OutOfSync, SessionIdResponse};
