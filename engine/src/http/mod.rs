//! The two HTTP listeners: the public one for channel webhooks, and the admin one (bearer
//! token, meant for a private interface) with health, metrics and conversation control.

mod admin;
mod public;
mod serve;

pub use admin::{AdminState, admin_handler};
pub use public::public_handler;
pub use serve::{MAX_REQUEST_BODY, Request, respond, serve};
