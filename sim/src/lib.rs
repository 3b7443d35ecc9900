//! # switchboard-sim
//!
//! Faithful simulators of the servers Switchboard talks to, for tests, benchmarks and the demo:
//! a Live Agent visitor-API server with an agent control API, a WeChat API server, and a WeChat
//! "user" that pushes signed or encrypted webhooks.
//!
//! Contract: a simulator rejects what the real server rejects (status codes, envelopes, sequence
//! rules, failover) and exposes every UNCONFIRMED behaviour of the specs as a knob. It depends on
//! `switchboard-core` wire types only.
//!
//! Status: the simulators land with the engine and channel work.
