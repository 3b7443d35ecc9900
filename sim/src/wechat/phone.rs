//! The phone page: a WeChat chat screen in plain HTML, CSS and JavaScript, compiled into the
//! binary and served at `GET /phone?openid=…` on the API simulator's listener, with the JSON it
//! uses under `/__wechat/`:
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /__wechat/phone` | | `{"configured":bool,"account":…,"name":…}` |
//! | `POST /__wechat/users/{openid}/send` | `{"text":"你好"}` | the gateway's answer: `{"status","body","deliveries"}` |
//! | `GET /__wechat/users/{openid}/inbox` | | `{"nowMs":…,"entries":[…]}`, oldest first |
//! | `GET /__wechat/media/{media_id}` | | the stored file (images in the inbox) |
//!
//! Sending makes the simulated user ([`WeChatUser`]) push a `text` message to the configured
//! webhook, signed or encrypted in the account's mode, the way WeChat delivers: a delivery
//! not answered within [`PhoneConfig::answer_timeout`] (5 s on WeChat) is sent again, same
//! payload, up to [`PhoneConfig::deliveries`] times in all. When the account never answers, or
//! answers with anything but `success`, an empty body or a reply XML, the user sees WeChat's
//! notice that the account cannot serve them right now.
//!
//! Inbox entries are `{"seq","atMs","type","text"?,"mediaId"?}` with `type` one of `text`,
//! `image`, `typing`, `cancelTyping` (from the account), `userText` (the user's own) and
//! `notice` (from WeChat).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use switchboard_core::liveagent::request::percent_decode;

use super::api::{ApiHandle, lock};
use super::http::{Answer, SimRequest};
use super::state::{PhoneEntry, PhoneEntryKind};
use super::user::{AccountSettings, WeChatUser};

const INDEX: &str = include_str!("phone/index.html");
const SCRIPT: &str = include_str!("phone/phone.js");
const STYLE: &str = include_str!("phone/phone.css");

/// What WeChat shows a user when the account's server fails them.
pub const UNAVAILABLE_NOTICE: &str = "该公众号暂时无法提供服务，请稍后再试";

/// Longest text the phone accepts from its user, in bytes.
const MAX_USER_TEXT: usize = 8 * 1024;

/// Longest OpenID accepted in a path.
const MAX_OPENID: usize = 128;

/// Where the phone's users push to, and how.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// The gateway's webhook URL (`http://127.0.0.1:PORT/channels/…`), without a query.
    pub webhook_url: String,
    /// The account's server settings: original id, AppID, Token, EncodingAESKey, mode.
    pub account: AccountSettings,
    /// The account's name as the page shows it.
    pub display_name: String,
    /// How long WeChat waits for an answer before delivering again (5 s on WeChat).
    pub answer_timeout: Duration,
    /// Deliveries of one push in all, the first included (WeChat retries three times).
    pub deliveries: usize,
}

impl PhoneConfig {
    /// WeChat's delivery behaviour for `account` pushing to `webhook_url`.
    pub fn new(webhook_url: impl Into<String>, account: AccountSettings) -> Self {
        Self {
            webhook_url: webhook_url.into(),
            display_name: account.account.clone(),
            account,
            answer_timeout: Duration::from_secs(5),
            deliveries: 4,
        }
    }
}

/// The phone desk of one API simulator: its settings and its users.
#[derive(Debug)]
pub(super) struct Phone {
    api: ApiHandle,
    inner: Mutex<Desk>,
}

#[derive(Debug, Default)]
struct Desk {
    config: Option<PhoneConfig>,
    users: HashMap<String, Arc<WeChatUser>>,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: u16, content_type: &str, body: Bytes) -> Reply {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Full::new(body))
        .unwrap_or_default()
}

fn json_reply(status: u16, value: &Value) -> Reply {
    reply(
        status,
        "application/json; charset=utf-8",
        Bytes::from(value.to_string()),
    )
}

fn refuse(status: u16, message: &str) -> Reply {
    json_reply(status, &json!({ "error": message }))
}

/// MsgIds for a new user: above `i64::MAX` like real ones, and distinct per user and run.
fn first_msg_id(user_number: u64) -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    9_300_000_000_000_000_000u64
        .wrapping_add(ms.wrapping_mul(1_000))
        .wrapping_add(user_number.wrapping_mul(1_000_000_000_000_000))
}

/// Whether the gateway accepted a push the way WeChat expects.
fn accepted(answer: &Answer) -> bool {
    if answer.status != 200 {
        return false;
    }
    let body = String::from_utf8_lossy(&answer.body);
    let body = body.trim();
    body.is_empty() || body == "success" || body.starts_with("<xml")
}

impl Phone {
    pub(super) fn new(api: ApiHandle) -> Self {
        Self {
            api,
            inner: Mutex::new(Desk::default()),
        }
    }

    fn desk(&self) -> MutexGuard<'_, Desk> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn configure(&self, config: PhoneConfig) {
        let mut desk = self.desk();
        desk.config = Some(config);
        desk.users.clear();
    }

    /// Whether `path` is the phone's.
    pub(super) fn serves(path: &str) -> bool {
        path == "/phone" || path.starts_with("/phone/") || path.starts_with("/__wechat/")
    }

    pub(super) async fn serve(&self, req: SimRequest) -> Reply {
        let method = req.parts.method.clone();
        let path = req.parts.uri.path().to_owned();
        if method == Method::GET
            && let Some(page) = asset(&path)
        {
            return page;
        }
        let segments: Vec<String> = path
            .trim_start_matches("/__wechat")
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (&method, segments.as_slice()) {
            (&Method::GET, ["phone"]) => self.about(),
            (_, ["users", openid, _]) if !plausible_openid(openid) => refuse(400, "bad openid"),
            (&Method::GET, ["users", openid, "inbox"]) => self.inbox(openid),
            (&Method::POST, ["users", openid, "send"]) => self.send(openid, &req.body).await,
            (&Method::GET, ["media", media_id]) => self.media(media_id),
            (_, ["phone"] | ["users", _, "inbox" | "send"] | ["media", _]) => {
                refuse(405, "method not allowed")
            }
            _ => refuse(404, "no such phone route"),
        }
    }

    fn about(&self) -> Reply {
        let desk = self.desk();
        let value = match &desk.config {
            Some(c) => json!({
                "configured": true,
                "account": c.account.account,
                "name": c.display_name,
            }),
            None => json!({ "configured": false, "account": null, "name": null }),
        };
        json_reply(200, &value)
    }

    fn inbox(&self, openid: &str) -> Reply {
        let s = lock(&self.api.state);
        let entries: Vec<Value> = s
            .timeline
            .iter()
            .filter(|e| e.openid == openid)
            .map(entry_json)
            .collect();
        json_reply(200, &json!({ "nowMs": s.now_ms(), "entries": entries }))
    }

    fn media(&self, media_id: &str) -> Reply {
        let s = lock(&self.api.state);
        match s.media.get(media_id) {
            Some(m) => reply(200, &m.content_type, m.data.clone()),
            None => refuse(404, "no such media"),
        }
    }

    /// The user with this OpenID under the current settings, created on first use.
    fn user(&self, openid: &str) -> Option<(Arc<WeChatUser>, PhoneConfig)> {
        let mut desk = self.desk();
        let config = desk.config.clone()?;
        let number = desk.users.len() as u64;
        let user = desk
            .users
            .entry(openid.to_owned())
            .or_insert_with(|| {
                Arc::new(
                    WeChatUser::new(config.account.clone(), openid, Some(self.api.clone()))
                        .with_first_msg_id(first_msg_id(number)),
                )
            })
            .clone();
        Some((user, config))
    }

    fn note(&self, openid: &str, kind: PhoneEntryKind) {
        lock(&self.api.state).record(openid, kind);
    }

    async fn send(&self, openid: &str, body: &[u8]) -> Reply {
        let text = match serde_json::from_slice::<Value>(body) {
            Ok(v) => match v.get("text").and_then(Value::as_str) {
                Some(t) if !t.trim().is_empty() => t.to_owned(),
                _ => return refuse(400, "expected a non-empty string \"text\""),
            },
            Err(e) => return refuse(400, &format!("bad JSON: {e}")),
        };
        if text.len() > MAX_USER_TEXT {
            return refuse(413, "text too long");
        }
        let Some((user, config)) = self.user(openid) else {
            return refuse(
                503,
                "the phone has no gateway configured (WeChatApiSim::set_phone)",
            );
        };
        self.note(openid, PhoneEntryKind::UserText(text.clone()));
        // Opens the user's 48-hour window, as WeChat does when a user writes.
        let push = user.text(&text);
        let mut deliveries = 0;
        let mut last_failure = String::new();
        let mut answer = None;
        while deliveries < config.deliveries.max(1) {
            deliveries += 1;
            match tokio::time::timeout(config.answer_timeout, push.send_to(&config.webhook_url))
                .await
            {
                Ok(Ok(a)) => {
                    answer = Some(a);
                    break;
                }
                Ok(Err(e)) => last_failure = e.to_string(),
                Err(_) => last_failure = "no answer in time".to_owned(),
            }
        }
        match answer {
            Some(a) => {
                if !accepted(&a) {
                    self.note(
                        openid,
                        PhoneEntryKind::Notice(UNAVAILABLE_NOTICE.to_owned()),
                    );
                }
                json_reply(
                    200,
                    &json!({
                        "status": a.status,
                        "body": String::from_utf8_lossy(&a.body),
                        "deliveries": deliveries,
                    }),
                )
            }
            None => {
                self.note(
                    openid,
                    PhoneEntryKind::Notice(UNAVAILABLE_NOTICE.to_owned()),
                );
                json_reply(
                    502,
                    &json!({ "error": last_failure, "deliveries": deliveries }),
                )
            }
        }
    }
}

fn plausible_openid(openid: &str) -> bool {
    !openid.is_empty() && openid.len() <= MAX_OPENID && !openid.chars().any(char::is_control)
}

fn entry_json(entry: &PhoneEntry) -> Value {
    let mut v = json!({ "seq": entry.seq, "atMs": entry.at_ms });
    let (kind, text, media_id) = match &entry.kind {
        PhoneEntryKind::Text(t) => ("text", Some(t), None),
        PhoneEntryKind::Image { media_id } => ("image", None, Some(media_id)),
        PhoneEntryKind::Typing => ("typing", None, None),
        PhoneEntryKind::CancelTyping => ("cancelTyping", None, None),
        PhoneEntryKind::UserText(t) => ("userText", Some(t), None),
        PhoneEntryKind::Notice(t) => ("notice", Some(t), None),
    };
    v["type"] = json!(kind);
    if let Some(t) = text {
        v["text"] = json!(t);
    }
    if let Some(m) = media_id {
        v["mediaId"] = json!(m);
    }
    v
}

/// The page's files by path.
fn asset(path: &str) -> Option<Reply> {
    let (body, content_type) = match path {
        "/phone" | "/phone/" | "/phone/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/phone/phone.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/phone/phone.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return None,
    };
    Some(reply(
        200,
        content_type,
        Bytes::from_static(body.as_bytes()),
    ))
}
