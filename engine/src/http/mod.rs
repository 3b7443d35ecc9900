//! The two HTTP listeners: the public one for channel webhooks, and the admin one (bearer
//! token, meant for a private interface) with health, metrics and conversation control; both
//! bounded by [`ListenerLimits`].

mod admin;
pub mod limits;
mod public;
mod serve;
mod watchdog;

pub use admin::{AdminState, admin_handler};
pub use limits::{ConnectionCounters, ListenerLimits};
pub use public::public_handler;
pub use serve::{MAX_REQUEST_BODY, Request, respond, serve};
