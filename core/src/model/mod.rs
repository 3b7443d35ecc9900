//! Model-based testing support (feature `model`): a reference Live Agent server and a harness
//! that runs a [`Session`](crate::session::Session) against it through a network that loses,
//! delays and reorders, with crashes and restarts, checking the session invariants after every
//! step. The transition type is plain data, so proptest and a fuzzer can drive the same harness.
//!
//! [`enhanced`] is the second reference server: Salesforce Enhanced Chat (REST plus an SSE
//! event log per subject, `spec/enhanced-chat.md`), pure and clock-free like the first, and
//! the engine of the Enhanced Chat simulator in `switchboard-sim`.

pub mod enhanced;
pub mod harness;
pub mod server;
