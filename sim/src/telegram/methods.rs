//! The Bot API methods, one function each, checking what the Bot API server checks in the
//! order it checks it (so that a call with two faults gets the same error as from Telegram):
//!
//! - `sendMessage`: text (empty after trimming → `message text is empty`, over the limit →
//!   `message is too long`), then the chat (`chat_id is empty`, `chat not found`), then a block
//!   (403), then the rate limits (429).
//! - `sendPhoto`: `there is no photo in the request`, the caption's length, the chat, a block,
//!   the photo itself (a stored photo's file id or an http(s) URL, else `wrong file
//!   identifier/HTTP URL specified`), the rate limits.
//! - `sendChatAction`: the action (`wrong parameter action in request`), the chat, a block.
//! - `getFile`: `file_id not specified`, `invalid file_id`.
//! - `setWebhook` / `deleteWebhook` / `getWebhookInfo` / `getMe`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::params::Params;
use super::reply::Reply;
use super::state::{
    BotMethod, ChatEntryKind, DEFAULT_MAX_CONNECTIONS, SentKind, SentMessage, State, Webhook,
    now_secs,
};

/// The chat actions Telegram accepts (lower-cased), the documented ones and the aliases the
/// Bot API server also takes.
const ACTIONS: [&str; 15] = [
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
    "record_audio",
    "upload_audio",
    "pick_up_location",
    "cancel",
];

/// Update types a webhook receives unless `allowed_updates` says otherwise, and those it may
/// name.
const UPDATE_TYPES: [&str; 12] = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "inline_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
];

/// Answers one call of `method`.
pub(super) fn answer(s: &mut State, method: BotMethod, p: &Params, now: Instant) -> Reply {
    match method {
        BotMethod::GetMe => Reply::ok(bot_user(s, true)),
        BotMethod::SendMessage => send_message(s, p, now),
        BotMethod::SendPhoto => send_photo(s, p, now),
        BotMethod::SendChatAction => send_chat_action(s, p),
        BotMethod::GetFile => get_file(s, p),
        BotMethod::SetWebhook => set_webhook(s, p),
        BotMethod::DeleteWebhook => delete_webhook(s, p),
        BotMethod::GetWebhookInfo => Reply::ok(webhook_info_json(s)),
    }
}

fn bot_user(s: &State, full: bool) -> Value {
    let mut user = json!({
        "id": s.config.bot_id(),
        "is_bot": true,
        "first_name": s.config.bot_first_name,
        "username": s.config.bot_username,
    });
    if full {
        user["can_join_groups"] = json!(true);
        user["can_read_all_group_messages"] = json!(false);
        user["supports_inline_queries"] = json!(false);
    }
    user
}

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

fn clean(s: &State, text: String) -> String {
    if s.config.trim_text {
        text.trim().to_owned()
    } else {
        text
    }
}

/// The chat `chat_id` names, if it may be written to.
fn writable_chat(s: &State, p: &Params) -> Result<i64, Reply> {
    let chat_id = p.chat_id()?;
    match s.chats.get(&chat_id) {
        None => Err(Reply::bad_request("chat not found")),
        Some(chat) if chat.blocked => Err(Reply::blocked()),
        Some(_) => Ok(chat_id),
    }
}

fn admit(s: &mut State, chat_id: i64, now: Instant) -> Result<(), Reply> {
    let config = s.config.clone();
    s.limiter.admit(&config, chat_id, now).map_err(|secs| {
        s.rate_limited += 1;
        Reply::retry_after(secs)
    })
}

/// A Message object for what the bot just sent to `chat_id`.
fn message(s: &mut State, chat_id: i64, kind: SentKind, content: Value) -> Value {
    let message_id = s.next_message_id(chat_id);
    let date = now_secs();
    let first_name = s
        .chats
        .get(&chat_id)
        .map(|c| c.first_name.clone())
        .unwrap_or_default();
    let mut msg = json!({
        "message_id": message_id,
        "from": bot_user(s, false),
        "chat": {"id": chat_id, "first_name": first_name, "type": "private"},
        "date": date,
    });
    if let (Value::Object(m), Value::Object(c)) = (&mut msg, content) {
        m.extend(c);
    }
    let entry = match &kind {
        SentKind::Text(t) => ChatEntryKind::BotText(t.clone()),
        SentKind::Photo(p) => ChatEntryKind::BotPhoto(p.clone()),
    };
    s.record(chat_id, entry);
    s.sent.push(SentMessage {
        chat_id,
        message_id,
        date,
        kind,
    });
    msg
}

fn send_message(s: &mut State, p: &Params, now: Instant) -> Reply {
    let text = clean(s, p.text("text").unwrap_or_default());
    if text.is_empty() {
        return Reply::bad_request("message text is empty");
    }
    if units(&text) > s.config.max_text_units {
        return Reply::bad_request("message is too long");
    }
    let chat_id = match writable_chat(s, p) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    if let Err(reply) = admit(s, chat_id, now) {
        return reply;
    }
    let content = json!({ "text": text });
    Reply::ok(message(s, chat_id, SentKind::Text(text), content))
}

fn send_photo(s: &mut State, p: &Params, now: Instant) -> Reply {
    let Some(photo) = p.text("photo") else {
        return Reply::bad_request("there is no photo in the request");
    };
    let caption = p.text("caption").map(|c| clean(s, c));
    if caption
        .as_deref()
        .is_some_and(|c| units(c) > s.config.max_caption_units)
    {
        return Reply::bad_request("message caption is too long");
    }
    let chat_id = match writable_chat(s, p) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let stored = match s.files.get(&photo) {
        Some(f) if f.content_type.starts_with("image/") => Some(f.clone()),
        Some(_) => return Reply::bad_request("can't use file of type Document as Photo"),
        None if is_http_url(&photo) => None,
        None => return Reply::bad_request("wrong file identifier/HTTP URL specified"),
    };
    if let Err(reply) = admit(s, chat_id, now) {
        return reply;
    }
    // A photo sent by URL becomes a file of the bot's, like any other.
    let file = match stored {
        Some(f) => f,
        None => {
            let id = s.add_file(bytes::Bytes::new(), "image/jpeg");
            match s.files.get(&id) {
                Some(f) => f.clone(),
                None => return Reply::fail(500, "Internal Server Error".into()),
            }
        }
    };
    let mut content = json!({
        "photo": [{
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.data.len(),
            "width": 1280,
            "height": 960,
        }],
    });
    if let Some(c) = caption.filter(|c| !c.is_empty()) {
        content["caption"] = json!(c);
    }
    Reply::ok(message(s, chat_id, SentKind::Photo(photo), content))
}

fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    ["http://", "https://"]
        .iter()
        .any(|p| lower.starts_with(p) && lower.len() > p.len())
}

fn send_chat_action(s: &mut State, p: &Params) -> Reply {
    let action = p.text("action").unwrap_or_default().to_ascii_lowercase();
    if !ACTIONS.contains(&action.as_str()) {
        return Reply::bad_request("wrong parameter action in request");
    }
    let chat_id = match writable_chat(s, p) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    s.actions.push((chat_id, action.clone()));
    s.record(chat_id, ChatEntryKind::Action(action));
    Reply::ok(json!(true))
}

fn get_file(s: &State, p: &Params) -> Reply {
    let Some(file_id) = p.text("file_id") else {
        return Reply::bad_request("file_id not specified");
    };
    match s.files.get(file_id.trim()) {
        Some(f) => Reply::ok(json!({
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "file_size": f.data.len(),
            "file_path": f.file_path,
        })),
        None => Reply::bad_request("invalid file_id"),
    }
}

fn drop_pending(s: &mut State, p: &Params) {
    if p.flag("drop_pending_updates") {
        s.generation += 1;
    }
}

fn delete_webhook(s: &mut State, p: &Params) -> Reply {
    drop_pending(s, p);
    let was_set = s.webhook.take().is_some();
    let said = if was_set {
        "Webhook was deleted"
    } else {
        "Webhook is already deleted"
    };
    Reply::ok_described(json!(true), said)
}

/// Why `url` cannot be a webhook, in Telegram's words.
fn bad_webhook_url(s: &State, url: &str) -> Option<&'static str> {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return Some("invalid webhook URL specified");
    };
    let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
    if uri.host().is_none_or(str::is_empty) || !matches!(scheme.as_deref(), Some("http" | "https"))
    {
        return Some("invalid webhook URL specified");
    }
    if s.config.https_only_webhooks {
        if scheme.as_deref() != Some("https") {
            return Some("bad webhook: An HTTPS URL must be provided for webhook");
        }
        if !matches!(uri.port_u16().unwrap_or(443), 80 | 88 | 443 | 8443) {
            return Some("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443");
        }
    }
    None
}

fn set_webhook(s: &mut State, p: &Params) -> Reply {
    let url = p.text("url").unwrap_or_default();
    if url.is_empty() {
        return delete_webhook(s, p);
    }
    if let Some(why) = bad_webhook_url(s, &url) {
        return Reply::bad_request(why);
    }
    let secret = p.text("secret_token");
    if let Some(secret) = &secret {
        if secret.len() > 256 {
            return Reply::bad_request("secret token is too long");
        }
        if !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Reply::bad_request("secret token contains unallowed characters");
        }
    }
    let max_connections = match p.text("max_connections") {
        None => DEFAULT_MAX_CONNECTIONS,
        Some(n) => n.trim().parse::<i64>().unwrap_or(0).clamp(1, 100) as u32,
    };
    let allowed_updates = match p.list("allowed_updates") {
        // Unreadable or absent: the filter in place stays.
        None | Some(Err(())) => s.webhook.as_ref().and_then(|w| w.allowed_updates.clone()),
        Some(Ok(names)) => {
            let known: Vec<String> = names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .filter(|n| UPDATE_TYPES.contains(&n.as_str()))
                .collect();
            (!known.is_empty()).then_some(known)
        }
    };
    drop_pending(s, p);
    let webhook = Webhook {
        url,
        secret,
        max_connections,
        allowed_updates,
    };
    let unchanged = s.webhook.as_ref().is_some_and(|w| {
        w.url == webhook.url
            && w.secret == webhook.secret
            && w.max_connections == webhook.max_connections
            && w.allowed_updates == webhook.allowed_updates
    });
    if s.webhook.as_ref().map(|w| w.max_connections) != Some(max_connections) {
        s.connections = Arc::new(Semaphore::new(max_connections as usize));
    }
    s.webhook = Some(webhook);
    if unchanged {
        Reply::ok_described(json!(true), "Webhook is already set")
    } else {
        Reply::ok_described(json!(true), "Webhook was set")
    }
}

/// Whether the current webhook receives updates of `kind`.
pub(super) fn allowed(s: &State, kind: &str) -> bool {
    match s.webhook.as_ref().and_then(|w| w.allowed_updates.as_ref()) {
        Some(list) => list.iter().any(|k| k == kind),
        // By default every type but chat_member and reactions.
        None => !matches!(
            kind,
            "chat_member" | "message_reaction" | "message_reaction_count"
        ),
    }
}

fn webhook_info_json(s: &State) -> Value {
    let info = s.webhook_info();
    let mut v = json!({
        "url": info.url,
        "has_custom_certificate": false,
        "pending_update_count": info.pending_update_count,
    });
    if let Some(n) = info.max_connections {
        v["max_connections"] = json!(n);
    }
    if let Some(d) = info.last_error_date {
        v["last_error_date"] = json!(d);
    }
    if let Some(m) = info.last_error_message {
        v["last_error_message"] = json!(m);
    }
    if let Some(list) = info.allowed_updates {
        v["allowed_updates"] = json!(list);
    }
    v
}
