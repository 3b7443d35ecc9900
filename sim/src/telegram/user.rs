//! A simulated Telegram user in a private chat with the bot, and the Telegram server pushing
//! what they do to the bot's webhook. Builders ([`TelegramUser::text`], …) make one
//! [`Update`] each, with the bot's next `update_id` and the chat's next `message_id`, without
//! sending anything; [`TelegramUser::webhook_post`] gives the exact headers and body of its
//! delivery, for calling an adapter directly. The `send_*` methods build and push through the
//! webhook with Telegram's retries (see [`delivery`](super::delivery)).

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde_json::json;

use super::delivery::{Delivery, PushError, deliver};
use super::state::{ChatEntryKind, Hub, now_secs};
use super::update::{self, Content, Sender, Update};

/// The header Telegram puts the webhook's secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The headers and body of one webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPost {
    /// `Content-Type: application/json`, and the secret header when a secret is set.
    pub headers: HeaderMap,
    /// The update's JSON.
    pub body: Bytes,
}

/// A user of the bot: one private chat.
#[derive(Debug, Clone)]
pub struct TelegramUser {
    hub: Hub,
    chat_id: i64,
    first_name: String,
}

impl TelegramUser {
    pub(super) fn new(hub: Hub, chat_id: i64, first_name: &str) -> Self {
        // A known chat takes the name given now (users rename themselves).
        hub.lock().chat_entry(chat_id, Some(first_name)).first_name = first_name.to_owned();
        Self {
            hub,
            chat_id,
            first_name: first_name.to_owned(),
        }
    }

    /// The chat id (the user's id).
    pub fn chat_id(&self) -> i64 {
        self.chat_id
    }

    /// The user's first name.
    pub fn first_name(&self) -> &str {
        &self.first_name
    }

    fn sender(&self) -> Sender<'_> {
        Sender {
            chat_id: self.chat_id,
            first_name: &self.first_name,
        }
    }

    /// A new message carrying `content`.
    pub fn message(&self, content: &Content) -> Update {
        let mut s = self.hub.lock();
        // A photo arrives in two sizes; the thumbnail is a file of its own.
        let thumb = match content {
            Content::Photo { file_id, .. } => s.files.get(file_id).cloned().map(|f| {
                let ct = f.content_type.clone();
                s.add_file(f.data, &ct)
            }),
            _ => None,
        };
        let fields = update::content_fields(content, &s.files, thumb.as_deref());
        let update_id = s.next_update_id();
        let message_id = s.next_message_id(self.chat_id);
        update::message(update_id, message_id, now_secs(), self.sender(), fields)
    }

    /// The user writes `text`.
    pub fn text(&self, text: &str) -> Update {
        self.message(&Content::Text(text.to_owned()))
    }

    /// The user taps Start: `/start`, or `/start <payload>` from a deep link.
    pub fn start(&self, payload: Option<&str>) -> Update {
        let text = match payload {
            Some(p) => format!("/start {p}"),
            None => "/start".to_owned(),
        };
        self.text(&text)
    }

    /// The user sends the photo stored under `file_id`.
    pub fn photo(&self, file_id: &str) -> Update {
        self.message(&Content::Photo {
            file_id: file_id.to_owned(),
            caption: None,
        })
    }

    /// The user sends a file as a document.
    pub fn document(&self, file_id: &str, file_name: &str, mime_type: &str) -> Update {
        self.message(&Content::Document {
            file_id: file_id.to_owned(),
            file_name: file_name.to_owned(),
            mime_type: mime_type.to_owned(),
        })
    }

    /// The user records a voice note.
    pub fn voice(&self, file_id: &str, duration: u32) -> Update {
        self.message(&Content::Voice {
            file_id: file_id.to_owned(),
            duration,
        })
    }

    /// The user shares a location.
    pub fn location(&self, latitude: f64, longitude: f64) -> Update {
        self.message(&Content::Location {
            latitude,
            longitude,
        })
    }

    /// The user shares a contact.
    pub fn contact(&self, phone_number: &str, first_name: &str) -> Update {
        self.message(&Content::Contact {
            phone_number: phone_number.to_owned(),
            first_name: first_name.to_owned(),
        })
    }

    /// The user sends a sticker.
    pub fn sticker(&self, emoji: &str) -> Update {
        self.message(&Content::Sticker {
            file_id: "CAACAgIAAxkBAAIBsimSticker".to_owned(),
            emoji: emoji.to_owned(),
        })
    }

    /// The user edits their message `message_id` to read `text`.
    pub fn edit(&self, message_id: i64, text: &str) -> Update {
        let mut s = self.hub.lock();
        let fields = update::content_fields(&Content::Text(text.to_owned()), &s.files, None);
        let update_id = s.next_update_id();
        let now = now_secs();
        update::edited_message(
            update_id,
            message_id,
            now.saturating_sub(60),
            now,
            self.sender(),
            fields,
        )
    }

    /// A message whose only content is a field the adapter does not model (`"giveaway"`).
    pub fn unmodelled(&self, field: &str) -> Update {
        self.message(&Content::Unmodelled {
            field: field.to_owned(),
            value: json!({"chats": [], "winners_selection_date": now_secs() + 86_400, "winner_count": 1}),
        })
    }

    /// An update of a type that concerns no chat: a poll the bot sent changed.
    pub fn poll(&self) -> Update {
        let update_id = self.hub.lock().next_update_id();
        update::poll(update_id, &format!("{update_id}"), "Was this helpful?")
    }

    fn member_update(&self, old_status: &str, new_status: &str) -> Update {
        let mut s = self.hub.lock();
        let bot = json!({
            "id": s.config.bot_id(),
            "is_bot": true,
            "first_name": s.config.bot_first_name,
            "username": s.config.bot_username,
        });
        let update_id = s.next_update_id();
        update::my_chat_member(
            update_id,
            now_secs(),
            self.sender(),
            bot,
            old_status,
            new_status,
        )
    }

    /// The `my_chat_member` update of the user blocking the bot (builds only; see
    /// [`block`](Self::block)).
    pub fn blocked_update(&self) -> Update {
        self.member_update("member", "kicked")
    }

    /// The headers and body Telegram sends `update` with, under the current webhook settings.
    pub fn webhook_post(&self, update: &Update) -> WebhookPost {
        let secret = self
            .hub
            .lock()
            .webhook
            .as_ref()
            .and_then(|w| w.secret.clone());
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(value) = secret.and_then(|s| HeaderValue::from_str(&s).ok()) {
            headers.insert(SECRET_HEADER, value);
        }
        WebhookPost {
            headers,
            body: update.body.clone(),
        }
    }

    /// Pushes `update` through the webhook, with retries; resolves once it was acknowledged
    /// or given up.
    pub async fn push(&self, update: Update) -> Result<Delivery, PushError> {
        deliver(&self.hub, update).await
    }

    /// The user writes `text`, and Telegram delivers it.
    pub async fn send_text(&self, text: &str) -> Result<Delivery, PushError> {
        self.hub
            .lock()
            .record(self.chat_id, ChatEntryKind::UserText(text.to_owned()));
        self.push(self.text(text)).await
    }

    /// The user sends the stored photo `file_id`, and Telegram delivers it.
    pub async fn send_photo(&self, file_id: &str) -> Result<Delivery, PushError> {
        self.push(self.photo(file_id)).await
    }

    /// The user taps Start, and Telegram delivers `/start`.
    pub async fn send_start(&self, payload: Option<&str>) -> Result<Delivery, PushError> {
        self.push(self.start(payload)).await
    }

    /// The user blocks the bot: from now on sends to the chat are refused with 403, and the
    /// `my_chat_member` update (new status `kicked`) is delivered.
    pub async fn block(&self) -> Result<Delivery, PushError> {
        self.hub.lock().chat_entry(self.chat_id, None).blocked = true;
        self.push(self.blocked_update()).await
    }

    /// The user unblocks the bot (restarts it): sends work again, and the `my_chat_member`
    /// update (new status `member`) is delivered.
    pub async fn unblock(&self) -> Result<Delivery, PushError> {
        self.hub.lock().chat_entry(self.chat_id, None).blocked = false;
        self.push(self.member_update("kicked", "member")).await
    }
}
