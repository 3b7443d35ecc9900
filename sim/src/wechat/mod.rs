//! WeChat simulators: the API server the adapter calls ([`WeChatApiSim`]) and the user whose
//! pushes reach the adapter's webhook ([`WeChatUser`]).
//!
//! | module | holds |
//! |---|---|
//! | [`api`] | the API server and its control methods |
//! | [`state`] | tokens, followers, windows, records, knobs ([`ApiConfig`]) |
//! | [`user`] | the simulated user and WeChat's push delivery |
//! | [`phone`] | the phone page (`GET /phone`) and its JSON under `/__wechat/` ([`PhoneConfig`]) |
//! | [`crypto`] | signatures and push encryption, as WeChat applies them |
//! | [`multipart`] | reading `media/upload` forms |
//! | [`http`] | loopback server and client plumbing |

pub mod api;
pub mod crypto;
pub mod http;
pub mod multipart;
pub mod phone;
pub mod state;
pub mod user;

pub use api::{ApiHandle, WeChatApiSim};
pub use phone::PhoneConfig;
pub use state::{
    ApiConfig, CallRecord, Endpoint, PhoneEntry, PhoneEntryKind, SentMessage, StoredMedia,
};
pub use user::{AccountSettings, Push, PushMode, WeChatUser};
