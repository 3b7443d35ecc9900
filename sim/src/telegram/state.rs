//! What the simulated Bot API server remembers: the bot's chats and whether each blocked the
//! bot, what the bot sent (messages, photos, chat actions), stored files, the webhook settings
//! and delivery health, injected errors, and every call received. The server, the webhook
//! dispatcher, the simulated users and the phone page all share one state behind a mutex.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use super::config::BotSimConfig;
use super::limits::RateLimiter;

/// The Bot API methods the simulator serves. Any other method name is answered 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BotMethod {
    /// `getMe`.
    GetMe,
    /// `sendMessage`.
    SendMessage,
    /// `sendChatAction`.
    SendChatAction,
    /// `sendPhoto`.
    SendPhoto,
    /// `getFile`.
    GetFile,
    /// `setWebhook`.
    SetWebhook,
    /// `deleteWebhook`.
    DeleteWebhook,
    /// `getWebhookInfo`.
    GetWebhookInfo,
}

impl BotMethod {
    /// Every method served.
    pub const ALL: [BotMethod; 8] = [
        Self::GetMe,
        Self::SendMessage,
        Self::SendChatAction,
        Self::SendPhoto,
        Self::GetFile,
        Self::SetWebhook,
        Self::DeleteWebhook,
        Self::GetWebhookInfo,
    ];

    /// The method's name as the Bot API documents it (`sendMessage`).
    pub fn name(self) -> &'static str {
        match self {
            Self::GetMe => "getMe",
            Self::SendMessage => "sendMessage",
            Self::SendChatAction => "sendChatAction",
            Self::SendPhoto => "sendPhoto",
            Self::GetFile => "getFile",
            Self::SetWebhook => "setWebhook",
            Self::DeleteWebhook => "deleteWebhook",
            Self::GetWebhookInfo => "getWebhookInfo",
        }
    }

    /// The method called `name`, ignoring case as Telegram does.
    pub fn parse(name: &str) -> Option<BotMethod> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// What the next call of a method answers instead of its normal result (see
/// [`TelegramBotSim::inject`](super::TelegramBotSim::inject)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    /// `{"ok":false,"error_code":code,"description":…}` with HTTP status `code` and the Bot API's
    /// usual description for it (`Internal Server Error`, `Bad Gateway`, …).
    Status {
        /// The HTTP status and `error_code`.
        code: u16,
    },
    /// An error with this code and description.
    Error {
        /// The HTTP status and `error_code`.
        code: u16,
        /// The `description`.
        description: String,
    },
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after = N`.
    RetryAfter(u64),
    /// 403 `Forbidden: bot was blocked by the user`, once (the chat stays unblocked).
    Blocked,
    /// 400 `Bad Request: chat not found`, once.
    ChatNotFound,
    /// The HTML page Telegram's front proxy answers when the Bot API behind it is down: 502, not
    /// JSON.
    BadGatewayHtml,
    /// The call is served normally, after this pause (slow answers, client timeouts).
    Delay(Duration),
}

/// What one successful `sendMessage` or `sendPhoto` carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentKind {
    /// A text, as the chat shows it (trimmed when [`BotSimConfig::trim_text`] is on).
    Text(String),
    /// A photo: the file id or URL it was sent with.
    Photo(String),
}

/// One message the bot sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The chat.
    pub chat_id: i64,
    /// The message's id in that chat.
    pub message_id: i64,
    /// Unix seconds.
    pub date: u64,
    /// What it carried.
    pub kind: SentKind,
}

/// A file the server stores (sent by a user, or added by a test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// The id bots use in `getFile` and `sendPhoto`.
    pub file_id: String,
    /// The id that stays the same for the same file across bots.
    pub file_unique_id: String,
    /// Where `GET /file/bot<token>/<file_path>` serves it (`photos/file_3.jpg`).
    pub file_path: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub data: Bytes,
}

/// One request to `/bot<token>/<method>`, as received and answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// The method, when it is one the simulator serves.
    pub method: Option<BotMethod>,
    /// The method name as it appeared in the URL.
    pub name: String,
    /// The parameters, merged from the query string and the body.
    pub params: Map<String, Value>,
    /// The HTTP status answered.
    pub status: u16,
    /// The error `description`, for failures.
    pub description: Option<String>,
}

/// What `getWebhookInfo` reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookInfo {
    /// The webhook URL, empty when none is set.
    pub url: String,
    /// Updates created but not yet acknowledged or given up.
    pub pending_update_count: u64,
    /// `max_connections` of the current webhook (40 unless set).
    pub max_connections: Option<u32>,
    /// Unix seconds of the last failed delivery.
    pub last_error_date: Option<u64>,
    /// Why it failed (`Wrong response from the webhook: 500 Internal Server Error`).
    pub last_error_message: Option<String>,
    /// The `allowed_updates` filter, when one was given.
    pub allowed_updates: Option<Vec<String>>,
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The update delivered.
    pub update_id: i64,
    /// The HTTP status answered, `None` when there was no answer (refused, reset, timeout).
    pub status: Option<u16>,
    /// Why the attempt failed, in the words `getWebhookInfo` uses; `None` for a 2xx.
    pub error: Option<String>,
}

impl Attempt {
    /// Whether the webhook acknowledged the update (2xx).
    pub fn acknowledged(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What a chat's screen shows, in order (see [`TelegramBotSim::timeline`](super::TelegramBotSim::timeline)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEntry {
    /// Position in the simulator's timeline (shared by every chat), from 1.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The chat.
    pub chat_id: i64,
    /// What happened.
    pub kind: ChatEntryKind,
}

/// The kinds of [`ChatEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEntryKind {
    /// The bot sent this text.
    BotText(String),
    /// The bot sent a photo (a file id or a URL).
    BotPhoto(String),
    /// The bot sent a chat action (`typing`), shown for up to 5 s or until its next message.
    Action(String),
    /// The user wrote this text.
    UserText(String),
    /// The app told the user something (an update that could not be delivered).
    Notice(String),
}

#[derive(Debug, Clone)]
pub(super) struct Chat {
    pub first_name: String,
    pub blocked: bool,
    pub last_message_id: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    pub max_connections: u32,
    pub allowed_updates: Option<Vec<String>>,
}

#[derive(Debug)]
pub(super) struct State {
    pub config: BotSimConfig,
    pub chats: BTreeMap<i64, Chat>,
    pub sent: Vec<SentMessage>,
    pub actions: Vec<(i64, String)>,
    pub files: HashMap<String, StoredFile>,
    pub webhook: Option<Webhook>,
    pub last_error: Option<(u64, String)>,
    /// Deliveries of one webhook in flight at once (`max_connections`).
    pub connections: Arc<Semaphore>,
    pub pending_updates: u64,
    /// Bumped by `drop_pending_updates`: updates created before are dropped.
    pub generation: u64,
    pub last_update_id: i64,
    pub injected: HashMap<BotMethod, VecDeque<Option<Injected>>>,
    pub limiter: RateLimiter,
    pub rate_limited: u64,
    pub calls: Vec<CallRecord>,
    pub attempts: Vec<Attempt>,
    pub timeline: Vec<ChatEntry>,
    pub file_counter: u64,
}

/// The default of `max_connections`.
pub(super) const DEFAULT_MAX_CONNECTIONS: u32 = 40;

impl State {
    pub fn new(config: BotSimConfig) -> Self {
        Self {
            config,
            chats: BTreeMap::new(),
            sent: Vec::new(),
            actions: Vec::new(),
            files: HashMap::new(),
            webhook: None,
            last_error: None,
            connections: Arc::new(Semaphore::new(DEFAULT_MAX_CONNECTIONS as usize)),
            pending_updates: 0,
            generation: 0,
            // Real update ids start at an arbitrary large number.
            last_update_id: 815_000_000,
            injected: HashMap::new(),
            limiter: RateLimiter::default(),
            rate_limited: 0,
            calls: Vec::new(),
            attempts: Vec::new(),
            timeline: Vec::new(),
            file_counter: 0,
        }
    }

    pub fn record(&mut self, chat_id: i64, kind: ChatEntryKind) {
        let seq = self.timeline.len() as u64 + 1;
        self.timeline.push(ChatEntry {
            seq,
            at_ms: now_ms(),
            chat_id,
            kind,
        });
    }

    /// The chat's next message id (bot and user messages share one sequence per chat).
    pub fn next_message_id(&mut self, chat_id: i64) -> i64 {
        let chat = self.chat_entry(chat_id, None);
        chat.last_message_id += 1;
        chat.last_message_id
    }

    /// The chat, registered with `first_name` (or a placeholder) if new.
    pub fn chat_entry(&mut self, chat_id: i64, first_name: Option<&str>) -> &mut Chat {
        self.chats.entry(chat_id).or_insert_with(|| Chat {
            first_name: first_name.map_or_else(|| format!("User {chat_id}"), str::to_owned),
            blocked: false,
            last_message_id: 0,
        })
    }

    pub fn next_update_id(&mut self) -> i64 {
        self.last_update_id += 1;
        self.last_update_id
    }

    /// Stores `data`; returns the new file's id.
    pub fn add_file(&mut self, data: Bytes, content_type: &str) -> String {
        self.file_counter += 1;
        let n = self.file_counter;
        let (folder, ext) = folder_for(content_type);
        let file_id = format!("AgACAgIAAxkBAAIB{n:06}{}", id_suffix(n));
        let file = StoredFile {
            file_unique_id: format!("AQAD{n:06}"),
            file_path: format!("{folder}/file_{n}.{ext}"),
            content_type: content_type.to_owned(),
            data,
            file_id: file_id.clone(),
        };
        self.files.insert(file_id.clone(), file);
        file_id
    }

    pub fn webhook_info(&self) -> WebhookInfo {
        let (date, message) = match &self.last_error {
            Some((d, m)) => (Some(*d), Some(m.clone())),
            None => (None, None),
        };
        WebhookInfo {
            url: self
                .webhook
                .as_ref()
                .map(|w| w.url.clone())
                .unwrap_or_default(),
            pending_update_count: self.pending_updates,
            max_connections: self.webhook.as_ref().map(|w| w.max_connections),
            last_error_date: date,
            last_error_message: message,
            allowed_updates: self
                .webhook
                .as_ref()
                .and_then(|w| w.allowed_updates.clone()),
        }
    }
}

/// A few characters that make file ids look less sequential.
fn id_suffix(n: u64) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..12)
        .map(|i| {
            let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i * 5);
            alphabet[(x % 64) as usize] as char
        })
        .collect()
}

/// Where Telegram files a file of this type, and its extension.
fn folder_for(content_type: &str) -> (&'static str, &'static str) {
    match content_type {
        "image/jpeg" | "image/jpg" => ("photos", "jpg"),
        "image/png" => ("photos", "png"),
        "image/webp" => ("stickers", "webp"),
        "audio/ogg" => ("voice", "oga"),
        "video/mp4" => ("videos", "mp4"),
        "application/pdf" => ("documents", "pdf"),
        t if t.starts_with("image/") => ("photos", "jpg"),
        _ => ("documents", "bin"),
    }
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Everything the server, the dispatcher, the users and the phone share.
#[derive(Debug)]
pub(super) struct Shared {
    pub state: Mutex<State>,
    /// One queue per chat (and one for updates without a chat): a chat's updates are delivered
    /// one at a time, in order.
    pub lanes: Mutex<HashMap<Option<i64>, Arc<tokio::sync::Mutex<()>>>>,
}

pub(super) type Hub = Arc<Shared>;

impl Shared {
    pub fn new(config: BotSimConfig) -> Hub {
        Arc::new(Shared {
            state: Mutex::new(State::new(config)),
            lanes: Mutex::new(HashMap::new()),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn lane(&self, chat_id: Option<i64>) -> Arc<tokio::sync::Mutex<()>> {
        self.lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(chat_id)
            .or_default()
            .clone()
    }
}
