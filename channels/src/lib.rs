//! # switchboard-channels
//!
//! The plug-in side of Switchboard: the [`Channel`] trait that every messaging-app adapter
//! implements, and the adapters themselves, each behind a cargo feature and listed explicitly in
//! the engine's configuration (no linker magic).
//!
//! ## Contract
//!
//! - **Inbound.** [`Channel::parse_webhook`] turns one HTTP request from the platform into typed
//!   [`InboundEvent`]s, each with a [`DedupeKey`] that is identical across the platform's retries
//!   of the same push, plus the exact [`HttpReply`] the platform expects. The engine persists the
//!   events (dropping keys it has already seen) and only then sends the reply. A request the
//!   adapter cannot accept is a [`WebhookError`] that names its HTTP status (401/403 for a bad
//!   signature, 413 for an oversized body, 400 for malformed input); a push of a type the adapter
//!   does not know is *accepted* (kept as [`InboundKind::Other`], or
//!   [`InboundKind::Notification`] for an event), never answered with a 5xx. Events that are not
//!   messages have their own kinds (location reports, navigation, notifications), so the engine
//!   never reads a platform's field names.
//! - **Outbound.** [`Channel::deliver`] sends one [`Outbound`] (text, image, typing) to a user.
//!   The conversation splits text to [`Capabilities::max_text_bytes`] itself (one send per
//!   part) and counts the sends of the channel's [`Capabilities::send_window`]; an adapter
//!   splits anything longer on character boundaries as a last resort and keeps no window of its
//!   own. A failure is a [`DeliveryError`] whose [`DeliveryError::action`] tells the engine
//!   what to do: retry later, refresh credentials and retry once, give up and tell the agent, or
//!   alert the operators.
//! - **State.** Adapters hold caches (access tokens, typing throttles) but no conversation
//!   state; the engine persists everything that must survive a restart.
//! - **Conformance.** Every adapter runs the shared suite in [`conformance`] against its
//!   platform simulator.
//!
//! ## Module map
//!
//! | module | holds |
//! |---|---|
//! | [`channel`] | the [`Channel`] trait, [`ChannelKind`], [`UserId`] |
//! | [`capabilities`] | [`Capabilities`] and [`SendWindow`] |
//! | [`webhook`] | [`WebhookRequest`], [`Webhook`], [`HttpReply`], [`InboundEvent`], [`WebhookError`] |
//! | [`outbound`] | [`Outbound`], [`ImageSource`], [`Delivered`] |
//! | [`delivery`] | [`DeliveryError`] and the [`DeliveryAction`] it asks for |
//! | [`dedupe`] | [`DedupeKey`] and a small in-memory [`dedupe::RecentKeys`] set |
//! | [`text`] | splitting text at a byte limit on character boundaries |
//! | [`conformance`] | the shared adapter test suite |
//! | `wechat` (feature `wechat`) | the WeChat Official Account adapter |
//! | `telegram` (feature `telegram`) | the Telegram bot adapter |
//! | `api` (features `wechat`, `telegram`) | the pooled HTTPS client the adapters share |
//! | [`secret`] | strings whose `Debug` never shows them |
//!
//! ## Example
//!
//! ```
//! use switchboard_channels::text::split_at_byte_limit;
//! let parts = split_at_byte_limit("你好😀", 7);
//! assert_eq!(parts, ["你好", "😀"]);
//! ```

#[cfg(feature = "api")]
pub mod api;
pub mod capabilities;
pub mod channel;
pub mod conformance;
pub mod dedupe;
pub mod delivery;
pub mod outbound;
pub mod secret;
pub mod text;
pub mod webhook;

#[cfg(feature = "telegram")]
pub mod telegram;
#[cfg(feature = "wechat")]
pub mod wechat;

pub use capabilities::{Capabilities, SendWindow};
pub use channel::{Channel, ChannelKind, UserId};
pub use dedupe::DedupeKey;
pub use delivery::{DeliveryAction, DeliveryError, GiveUpReason};
pub use outbound::{Delivered, ImageSource, Media, Outbound, TypingState};
pub use webhook::{HttpReply, InboundEvent, InboundKind, Webhook, WebhookError, WebhookRequest};
