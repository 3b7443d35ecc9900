//! The WeChat API simulator's state: tokens, followers and their send windows, recorded calls,
//! stored media, injected errors, and a clock that tests can move forward.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::crypto::random16;

/// The API endpoints the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /cgi-bin/token`.
    Token,
    /// `POST /cgi-bin/stable_token`.
    StableToken,
    /// `POST /cgi-bin/message/custom/send`.
    CustomSend,
    /// `POST /cgi-bin/message/custom/typing`.
    CustomTyping,
    /// `POST /cgi-bin/media/upload`.
    MediaUpload,
    /// `GET /cgi-bin/media/get`.
    MediaGet,
}

/// Knobs, including the spec's UNCONFIRMED behaviours.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The account's AppID.
    pub app_id: String,
    /// The account's AppSecret.
    pub app_secret: String,
    /// Token lifetime in seconds.
    pub token_ttl: u64,
    /// Enforce the 48-hour window and quotas (45015 / 45047).
    pub enforce_window: bool,
    /// Messages allowed per user message (5 in current docs, 20 observed historically).
    pub message_quota: u32,
    /// Window opened by a user message, in seconds.
    pub message_window: u64,
    /// Messages allowed after a follow / scan / click.
    pub event_quota: u32,
    /// Window opened by such an event, in seconds.
    pub event_window: u64,
    /// Longest text accepted, in bytes (45002 beyond).
    pub max_text_bytes: usize,
}

impl ApiConfig {
    /// Defaults for an account, with window enforcement on.
    pub fn new(app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret: app_secret.into(),
            token_ttl: 7200,
            enforce_window: true,
            message_quota: 5,
            message_window: 48 * 3600,
            event_quota: 3,
            event_window: 60,
            max_text_bytes: 2048,
        }
    }
}

/// One successful `custom/send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// Recipient OpenID.
    pub to: String,
    /// `msgtype`.
    pub msg_type: String,
    /// Text content, for `text`.
    pub text: Option<String>,
    /// Media id, for `image`.
    pub media_id: Option<String>,
}

/// What one user's phone shows, in order: messages and typing from the account, the user's own
/// texts, and notices from WeChat itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneEntry {
    /// Position in the simulator's timeline (shared by every user), from 1.
    pub seq: u64,
    /// Wall-clock milliseconds since the Unix epoch (moved by [`ApiConfig`]'s clock offset).
    pub at_ms: u64,
    /// The user.
    pub openid: String,
    /// What happened.
    pub kind: PhoneEntryKind,
}

/// The kinds of [`PhoneEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEntryKind {
    /// A `custom/send` text reached the user.
    Text(String),
    /// A `custom/send` image reached the user.
    Image {
        /// The media id it was sent with.
        media_id: String,
    },
    /// `custom/typing` `Typing`: the account shows as typing (for up to 15 s).
    Typing,
    /// `custom/typing` `CancelTyping`.
    CancelTyping,
    /// The user sent this text.
    UserText(String),
    /// WeChat told the user something (e.g. that the account cannot answer).
    Notice(String),
}

/// One received API request.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The `access_token` query value, if any.
    pub access_token: Option<String>,
    /// The raw body.
    pub body: Bytes,
    /// The `errcode` answered (0 for success).
    pub errcode: i64,
}

/// A stored media file.
#[derive(Debug, Clone)]
pub struct StoredMedia {
    /// `image`, `voice`, …
    pub kind: String,
    /// MIME type.
    pub content_type: String,
    /// File name.
    pub filename: String,
    /// Bytes.
    pub data: Bytes,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Grant {
    pub closes_at: u64,
    pub quota: u32,
    pub used: u32,
}

#[derive(Debug, Default)]
pub(super) struct Follower {
    pub following: bool,
    pub message: Option<Grant>,
    pub event: Option<Grant>,
    pub last_interaction: u64,
    pub typing_until: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    Stable,
    Classic,
}

#[derive(Debug)]
pub(super) struct State {
    pub config: ApiConfig,
    pub offset: Duration,
    /// Valid tokens and when they expire.
    pub tokens: HashMap<String, (TokenKind, u64)>,
    pub stable_current: Option<String>,
    pub classic_current: Option<String>,
    pub users: HashMap<String, Follower>,
    /// Per endpoint, what its next calls answer: an errcode, or `None` to be served normally.
    pub injected: HashMap<Endpoint, VecDeque<Option<i64>>>,
    pub calls: Vec<CallRecord>,
    pub sent: Vec<SentMessage>,
    pub typing: Vec<(String, String)>,
    pub timeline: Vec<PhoneEntry>,
    pub media: BTreeMap<String, StoredMedia>,
    pub files: HashMap<String, (String, Bytes)>,
    pub counter: u64,
}

impl State {
    pub fn new(config: ApiConfig) -> Self {
        Self {
            config,
            offset: Duration::ZERO,
            tokens: HashMap::new(),
            stable_current: None,
            classic_current: None,
            users: HashMap::new(),
            injected: HashMap::new(),
            calls: Vec::new(),
            sent: Vec::new(),
            typing: Vec::new(),
            timeline: Vec::new(),
            media: BTreeMap::new(),
            files: HashMap::new(),
            counter: 0,
        }
    }

    pub fn now(&self) -> u64 {
        (SystemTime::now() + self.offset)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// The current time in milliseconds since the Unix epoch, clock offset included.
    pub fn now_ms(&self) -> u64 {
        (SystemTime::now() + self.offset)
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// Appends to the phones' timeline.
    pub fn record(&mut self, openid: &str, kind: PhoneEntryKind) {
        let seq = self.timeline.len() as u64 + 1;
        let at_ms = self.now_ms();
        self.timeline.push(PhoneEntry {
            seq,
            at_ms,
            openid: openid.to_owned(),
            kind,
        });
    }

    pub fn fresh_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let r: String = random16()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{prefix}_{}_{r}", self.counter)
    }

    /// Issues a new token of `kind`, invalidating the previous one of that kind after `grace`.
    pub fn issue_token(&mut self, kind: TokenKind, grace: u64) -> String {
        let now = self.now();
        let token = self.fresh_id("ACCESS_TOKEN");
        let slot = match kind {
            TokenKind::Stable => &mut self.stable_current,
            TokenKind::Classic => &mut self.classic_current,
        };
        if let Some(old) = slot.replace(token.clone()) {
            if grace == 0 {
                // Superseded at once: WeChat answers 40001 "not latest", not "expired".
                self.tokens.remove(&old);
            } else if let Some((_, exp)) = self.tokens.get_mut(&old) {
                *exp = (*exp).min(now + grace);
            }
        }
        self.tokens
            .insert(token.clone(), (kind, now + self.config.token_ttl));
        token
    }

    /// 0 if `token` is valid now, else the errcode WeChat answers.
    pub fn check_token(&self, token: Option<&str>) -> i64 {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return 41001;
        };
        match self.tokens.get(token) {
            None => 40001,
            Some((_, exp)) if self.now() >= *exp => 42001,
            Some(_) => 0,
        }
    }

    pub fn grant(&mut self, openid: &str, by_message: bool) {
        let now = self.now();
        let (window, quota) = if by_message {
            (self.config.message_window, self.config.message_quota)
        } else {
            (self.config.event_window, self.config.event_quota)
        };
        let user = self.users.entry(openid.to_owned()).or_default();
        user.following = true;
        user.last_interaction = now;
        let grant = Some(Grant {
            closes_at: now + window,
            quota,
            used: 0,
        });
        if by_message {
            user.message = grant;
        } else {
            user.event = grant;
        }
    }

    /// 0 if a message may be sent to `openid` now (and counts it), else the errcode.
    pub fn admit_message(&mut self, openid: &str) -> i64 {
        let now = self.now();
        let enforce = self.config.enforce_window;
        let Some(user) = self.users.get_mut(openid) else {
            return 40003;
        };
        if !user.following {
            return 43004;
        }
        if !enforce {
            return 0;
        }
        let mut open: Vec<&mut Grant> = [user.event.as_mut(), user.message.as_mut()]
            .into_iter()
            .flatten()
            .filter(|g| now < g.closes_at)
            .collect();
        if open.is_empty() {
            return 45015;
        }
        open.sort_by_key(|g| g.closes_at);
        match open.into_iter().find(|g| g.used < g.quota) {
            Some(g) => {
                g.used += 1;
                user.typing_until = 0;
                0
            }
            None => 45047,
        }
    }
}
