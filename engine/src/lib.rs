//! # switchboard-engine
//!
//! The thin I/O shell around the pure core: one tokio task per live session owns its
//! `switchboard_core::session::Session`, feeds it HTTP responses and timer expiries, persists its
//! snapshot in sled, and performs the requests it asks for. No protocol decision is made here.
//!
//! Status: the driver, the Live Agent HTTP client and the sled store land with the engine work;
//! until then the `switchboard` binary only says so.
