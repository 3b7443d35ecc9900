//! The Telegram Bot API simulator: the server a bot adapter calls ([`TelegramBotSim`]) and the
//! users whose updates Telegram pushes to the bot's webhook ([`TelegramUser`]).
//!
//! Calls are `/bot<token>/<method>`, GET or POST, with parameters in the query string, an
//! `application/x-www-form-urlencoded` body or an `application/json` body; method names are
//! case-insensitive. Every answer is JSON: `{"ok":true,"result":…}` with 200, or
//! `{"ok":false,"error_code":N,"description":…}` with status N (and `parameters.retry_after`
//! plus a `Retry-After` header on 429). What each endpoint refuses, with Telegram's wording:
//!
//! | endpoint | refuses |
//! |---|---|
//! | any | a malformed token: 401 `Unauthorized: invalid token specified`; another bot's: 401 `Unauthorized`; an unknown method: 404 `Not Found`; a JSON body that is not an object: 400 |
//! | `sendMessage` | 400 `message text is empty` (after trimming), `message is too long` (> 4096 UTF-16 units), `chat_id is empty`, `chat not found`; 403 `bot was blocked by the user`; 429 `Too Many Requests: retry after N` |
//! | `sendPhoto` | 400 `there is no photo in the request`, `message caption is too long`, the chat errors, `wrong file identifier/HTTP URL specified`, `can't use file of type Document as Photo`; 403; 429 |
//! | `sendChatAction` | 400 `wrong parameter action in request`, the chat errors; 403 |
//! | `getFile` | 400 `file_id not specified`, `invalid file_id` |
//! | `setWebhook` | 400 `invalid webhook URL specified`, `secret token is too long`, `secret token contains unallowed characters` (1–256 of `A-Z a-z 0-9 _ -`), and with [`BotSimConfig::https_only_webhooks`] `bad webhook: …` for HTTP or a port outside 80/88/443/8443 |
//! | `deleteWebhook`, `getWebhookInfo`, `getMe` | nothing but a bad token |
//! | `GET /file/bot<token>/<file_path>` | an unknown path: 404 |
//!
//! Rate limits (per chat and overall) apply to `sendMessage` and `sendPhoto`; any method's next
//! call can be made to fail ([`TelegramBotSim::inject`]). Updates get increasing `update_id`s
//! and are delivered to the webhook one chat at a time, in order, with retries
//! ([`delivery`]). The simulator's own limitations: no `getUpdates` queue, no file uploads
//! (files go by `file_id` or URL, and URLs are not fetched), private chats only, and a method
//! call in a webhook's answer is ignored.
//!
//! | module | holds |
//! |---|---|
//! | [`server`] | the server and its control methods |
//! | [`config`] | the knobs ([`BotSimConfig`]) |
//! | [`state`] | chats, records, files, webhook settings, injections ([`Injected`]) |
//! | `methods` | the Bot API methods |
//! | `limits` | per-chat and global rate limits, burst injection |
//! | `params` | reading parameters from the query, a form or JSON |
//! | `reply` | the answer envelope |
//! | [`update`] | `Update` JSON |
//! | [`user`] | the simulated user |
//! | [`delivery`] | webhook delivery with retries |
//! | [`phone`] | the chat page (`GET /phone`) and its JSON under `/__telegram/` |

pub mod config;
pub mod delivery;
mod limits;
mod methods;
mod params;
pub mod phone;
mod reply;
pub mod server;
pub mod state;
pub mod update;
pub mod user;

pub use config::{BotSimConfig, DEFAULT_TOKEN};
pub use delivery::{Delivery, PushError};
pub use server::TelegramBotSim;
pub use state::{
    Attempt, BotMethod, CallRecord, ChatEntry, ChatEntryKind, Injected, SentKind, SentMessage,
    StoredFile, WebhookInfo,
};
pub use update::{Content, Sender, Update};
pub use user::{SECRET_HEADER, TelegramUser, WebhookPost};
