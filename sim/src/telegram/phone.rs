//! The phone page: a Telegram-like chat screen in plain HTML, CSS and JavaScript, compiled
//! into the binary and served at `GET /phone?chat_id=…` on the simulator's listener, with the
//! JSON it uses under `/__telegram/`:
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /__telegram/bot` | | `{"firstName","username","webhook":bool}` |
//! | `POST /__telegram/chats/{chat_id}/send` | `{"text":"hi","firstName"?:"Ann"}` | `{"updateId","delivered","attempts","error"?}` |
//! | `GET /__telegram/chats/{chat_id}/inbox` | | `{"nowMs","entries":[…]}`, oldest first |
//! | `GET /__telegram/files/{file_id}` | | the stored file (photos in the inbox) |
//!
//! Sending registers the chat if it is new and pushes a text update through the webhook set
//! with `setWebhook`, with Telegram's retries; the answer comes once the update was
//! acknowledged (200, `delivered: true`) or given up (502), or at once when no webhook is set
//! (503). A delivery that failed leaves a notice in the chat.
//!
//! Inbox entries are `{"seq","atMs","type","text"?,"src"?,"action"?}` with `type` one of
//! `text` and `photo` (from the bot; `src` is where the photo loads from), `action` (a chat
//! action such as `typing`), `userText` (the user's own) and `notice`.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use super::delivery::PushError;
use super::state::{ChatEntry, ChatEntryKind, Hub, now_ms};
use super::user::TelegramUser;
use crate::wechat::http::SimRequest;

const INDEX: &str = include_str!("phone/index.html");
const SCRIPT: &str = include_str!("phone/phone.js");
const STYLE: &str = include_str!("phone/phone.css");

/// Longest text the page accepts from its user, in bytes.
const MAX_USER_TEXT: usize = 16 * 1024;

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

/// The phone's routes (stateless: everything lives in the simulator's state).
#[derive(Debug)]
pub(super) struct Phone;

impl Phone {
    /// Whether `path` is the phone's.
    pub(super) fn serves(path: &str) -> bool {
        path == "/phone" || path.starts_with("/phone/") || path.starts_with("/__telegram/")
    }

    pub(super) async fn serve(hub: &Hub, req: SimRequest) -> Reply {
        let method = req.parts.method.clone();
        let path = req.parts.uri.path().to_owned();
        if method == Method::GET
            && let Some(page) = asset(&path)
        {
            return page;
        }
        let segments: Vec<&str> = path
            .trim_start_matches("/__telegram")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        match (&method, segments.as_slice()) {
            (&Method::GET, ["bot"]) => about(hub),
            (_, ["chats", chat, _]) if chat_id(chat).is_none() => refuse(400, "bad chat id"),
            (&Method::GET, ["chats", chat, "inbox"]) => inbox(hub, chat_id(chat).unwrap_or(0)),
            (&Method::POST, ["chats", chat, "send"]) => {
                send(hub, chat_id(chat).unwrap_or(0), &req.body).await
            }
            (&Method::GET, ["files", file_id]) => file(hub, file_id),
            (_, ["bot"] | ["chats", _, "inbox" | "send"] | ["files", _]) => {
                refuse(405, "method not allowed")
            }
            _ => refuse(404, "no such phone route"),
        }
    }
}

/// A private chat's id: a positive integer.
fn chat_id(segment: &str) -> Option<i64> {
    segment.parse::<i64>().ok().filter(|id| *id > 0)
}

fn about(hub: &Hub) -> Reply {
    let s = hub.lock();
    json_reply(
        200,
        &json!({
            "firstName": s.config.bot_first_name,
            "username": s.config.bot_username,
            "webhook": s.webhook.is_some(),
        }),
    )
}

fn inbox(hub: &Hub, chat_id: i64) -> Reply {
    let s = hub.lock();
    let entries: Vec<Value> = s
        .timeline
        .iter()
        .filter(|e| e.chat_id == chat_id)
        .map(entry_json)
        .collect();
    let first_name = s.chats.get(&chat_id).map(|c| c.first_name.clone());
    json_reply(
        200,
        &json!({ "nowMs": now_ms(), "firstName": first_name, "entries": entries }),
    )
}

fn file(hub: &Hub, file_id: &str) -> Reply {
    match hub.lock().files.get(file_id) {
        Some(f) => reply(200, &f.content_type, f.data.clone()),
        None => refuse(404, "no such file"),
    }
}

async fn send(hub: &Hub, chat_id: i64, body: &[u8]) -> Reply {
    let (text, first_name) = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v.get("text").and_then(Value::as_str) {
            Some(t) if !t.trim().is_empty() => (
                t.to_owned(),
                v.get("firstName")
                    .and_then(Value::as_str)
                    .filter(|n| !n.trim().is_empty() && n.len() <= 64)
                    .map(str::to_owned),
            ),
            _ => return refuse(400, "expected a non-empty string \"text\""),
        },
        Err(e) => return refuse(400, &format!("bad JSON: {e}")),
    };
    if text.len() > MAX_USER_TEXT {
        return refuse(413, "text too long");
    }
    let name = first_name.unwrap_or_else(|| {
        hub.lock()
            .chats
            .get(&chat_id)
            .map_or_else(|| format!("User {chat_id}"), |c| c.first_name.clone())
    });
    let user = TelegramUser::new(hub.clone(), chat_id, &name);
    // The delivery runs to its end even if the page stops waiting.
    let pushed = tokio::spawn(async move { user.send_text(&text).await }).await;
    let notice = |why: &str| {
        hub.lock().record(
            chat_id,
            ChatEntryKind::Notice(format!("Not delivered to the bot: {why}")),
        );
    };
    match pushed {
        Ok(Ok(d)) => json_reply(
            200,
            &json!({"updateId": d.update_id, "delivered": true, "attempts": d.attempts.len()}),
        ),
        Ok(Err(PushError::NoWebhook { update_id })) => {
            notice("no webhook is set");
            json_reply(
                503,
                &json!({"updateId": update_id, "delivered": false, "attempts": 0, "error": "no webhook is set (setWebhook)"}),
            )
        }
        Ok(Err(PushError::GaveUp(d))) => {
            let why = d
                .attempts
                .last()
                .and_then(|a| a.error.clone())
                .unwrap_or_default();
            notice(&why);
            json_reply(
                502,
                &json!({"updateId": d.update_id, "delivered": false, "attempts": d.attempts.len(), "error": why}),
            )
        }
        Ok(Err(e)) => {
            notice(&e.to_string());
            json_reply(502, &json!({"delivered": false, "error": e.to_string()}))
        }
        Err(_) => refuse(500, "the delivery task failed"),
    }
}

fn entry_json(entry: &ChatEntry) -> Value {
    let mut v = json!({ "seq": entry.seq, "atMs": entry.at_ms });
    match &entry.kind {
        ChatEntryKind::BotText(t) => {
            v["type"] = json!("text");
            v["text"] = json!(t);
        }
        ChatEntryKind::BotPhoto(photo) => {
            v["type"] = json!("photo");
            let lower = photo.to_ascii_lowercase();
            v["src"] = if lower.starts_with("http://") || lower.starts_with("https://") {
                json!(photo)
            } else {
                json!(format!("/__telegram/files/{photo}"))
            };
        }
        ChatEntryKind::Action(a) => {
            v["type"] = json!("action");
            v["action"] = json!(a);
        }
        ChatEntryKind::UserText(t) => {
            v["type"] = json!("userText");
            v["text"] = json!(t);
        }
        ChatEntryKind::Notice(t) => {
            v["type"] = json!("notice");
            v["text"] = json!(t);
        }
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
