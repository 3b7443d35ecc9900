//! # switchboard-sim
//!
//! Faithful simulators of the servers Switchboard talks to, for tests, benchmarks and the demo:
//! a Live Agent visitor-API server with an agent control API, a Salesforce Enhanced Chat server
//! (REST plus Server-Sent Events) with the same, a WeChat API server, a WeChat "user" that
//! pushes signed or encrypted webhooks, and a Telegram Bot API server that pushes its users'
//! updates to a webhook.
//!
//! Contract: a simulator rejects what the real server rejects (status codes, envelopes, sequence
//! rules, failover) and exposes every UNCONFIRMED behaviour of the specs as a knob. It depends on
//! `switchboard-core` wire types only; the WeChat push crypto is implemented here a second time,
//! independently of the adapter's, so that the two check each other.
//!
//! Modules:
//! - [`wechat`]: the WeChat API simulator ([`wechat::WeChatApiSim`]: tokens, `custom/send`,
//!   `custom/typing`, media upload and download, window and quota enforcement, errcode injection)
//!   and the simulated user ([`wechat::WeChatUser`]: signed or encrypted pushes, retries).
//! - [`telegram`]: the Telegram Bot API simulator ([`telegram::TelegramBotSim`]: `sendMessage`,
//!   `sendChatAction`, `sendPhoto`, `getFile` and downloads, webhook settings, per-chat and
//!   global rate limits answered with 429 and `retry_after`, error injection) and its users
//!   ([`telegram::TelegramUser`]: updates pushed to the webhook in order, with Telegram's
//!   retries and secret header), with a chat page at `GET /phone`.
//! - [`liveagent`]: the Live Agent visitor-API server ([`liveagent::LiveAgentSim`]): the
//!   reference server of `switchboard-core` served over HTTP with real long-poll holds, and the
//!   agent's side as a Rust handle ([`liveagent::AgentControl`]: accept, reject, text, typing,
//!   transfer, file request, end, failover, expiry, recorded requests) and as JSON under `/__sim/`.
//! - [`enhanced`]: the Enhanced Chat (MIAW) server ([`enhanced::EnhancedChatSim`]): the
//!   `model::enhanced` reference server of `switchboard-core` served over HTTP, with a real SSE
//!   stream per subject (pings, `Last-Event-Id` replay, drops mid-frame, stalls, 401/5xx on
//!   connect), and the agent's side as a Rust handle ([`enhanced::EnhancedAgent`]: accept, text,
//!   typing, receipts, transfer, end session, stream and token faults, recorded requests) and
//!   as JSON under `/__sim/`.
//! - `console` (private): the agent console page both desk simulators serve at `GET /console`,
//!   each over its own `/__sim/chats` adapter.

mod console;
pub mod enhanced;
mod listen;
pub mod liveagent;
pub mod telegram;
pub mod wechat;
