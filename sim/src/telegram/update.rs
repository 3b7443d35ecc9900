//! Bot API `Update` objects as Telegram sends them to a webhook: a message (text with its
//! `bot_command` entity, photo sizes, document, voice, video, location, contact, sticker, or a
//! field from a newer Bot API), an edited message, the user blocking or unblocking the bot
//! (`my_chat_member`), and an update that concerns no chat (`poll`). Each carries the global
//! `update_id` that Telegram keeps across redeliveries; the body is serialized once, so a
//! redelivery is byte for byte the same.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::state::StoredFile;

/// One update, ready to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The update's id, increasing across the bot's updates.
    pub update_id: i64,
    /// The private chat it belongs to (`None` for a poll): one chat's updates are delivered in
    /// order.
    pub chat_id: Option<i64>,
    /// Its type, the top-level field beside `update_id` (`message`, `my_chat_member`, …), as
    /// `allowed_updates` names it.
    pub kind: String,
    /// The JSON body.
    pub body: Bytes,
}

impl Update {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What a user's message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A text; a leading `/command` gets its `bot_command` entity.
    Text(String),
    /// A photo stored under `file_id` (see [`TelegramBotSim::add_file`](super::TelegramBotSim::add_file)),
    /// sent as Telegram does: a thumbnail size and the full size, the full one last.
    Photo {
        /// The full size's file id.
        file_id: String,
        /// The caption, if any.
        caption: Option<String>,
    },
    /// A file sent as a document.
    Document {
        /// Its file id.
        file_id: String,
        /// Its name.
        file_name: String,
        /// Its MIME type.
        mime_type: String,
    },
    /// A voice note.
    Voice {
        /// Its file id.
        file_id: String,
        /// Length in seconds.
        duration: u32,
    },
    /// A video.
    Video {
        /// Its file id.
        file_id: String,
        /// Length in seconds.
        duration: u32,
    },
    /// A shared location.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
    },
    /// A shared contact.
    Contact {
        /// Phone number.
        phone_number: String,
        /// The contact's first name.
        first_name: String,
    },
    /// A sticker.
    Sticker {
        /// Its file id.
        file_id: String,
        /// The emoji it stands for.
        emoji: String,
    },
    /// A message whose content is one field the adapter does not know (a newer Bot API's, say
    /// `"giveaway"` or `"paid_media"`).
    Unmodelled {
        /// The field's name.
        field: String,
        /// Its value.
        value: Value,
    },
}

/// The user an update is from, who is also the private chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender<'a> {
    /// The chat id (equal to the user id in a private chat).
    pub chat_id: i64,
    /// The user's first name.
    pub first_name: &'a str,
}

impl Sender<'_> {
    fn user(&self) -> Value {
        json!({
            "id": self.chat_id,
            "is_bot": false,
            "first_name": self.first_name,
            "language_code": "en",
        })
    }

    fn chat(&self) -> Value {
        json!({"id": self.chat_id, "first_name": self.first_name, "type": "private"})
    }
}

fn serialize(update_id: i64, chat_id: Option<i64>, kind: &str, value: Value) -> Update {
    let body = json!({ "update_id": update_id, kind: value });
    Update {
        update_id,
        chat_id,
        kind: kind.to_owned(),
        body: Bytes::from(body.to_string()),
    }
}

fn file_fields(files: &HashMap<String, StoredFile>, file_id: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("file_id".into(), json!(file_id));
    match files.get(file_id) {
        Some(f) => {
            m.insert("file_unique_id".into(), json!(f.file_unique_id));
            m.insert("file_size".into(), json!(f.data.len()));
        }
        None => {
            m.insert("file_unique_id".into(), json!(format!("AQAD-{file_id}")));
        }
    }
    m
}

fn with(mut m: Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

/// The `bot_command` entity of a text that starts with `/command`.
fn command_entity(text: &str) -> Option<Value> {
    let rest = text.strip_prefix('/')?;
    let len = rest
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(rest.len(), |(i, _)| i);
    let command = &text[..=len];
    (len > 0).then(
        || json!({"offset": 0, "length": command.encode_utf16().count(), "type": "bot_command"}),
    )
}

/// The message fields `content` contributes. `thumb_id` names the photo's small size.
pub(super) fn content_fields(
    content: &Content,
    files: &HashMap<String, StoredFile>,
    thumb_id: Option<&str>,
) -> Map<String, Value> {
    let mut m = Map::new();
    match content {
        Content::Text(text) => {
            m.insert("text".into(), json!(text));
            if let Some(entity) = command_entity(text) {
                m.insert("entities".into(), json!([entity]));
            }
        }
        Content::Photo { file_id, caption } => {
            let mut sizes = Vec::new();
            if let Some(thumb) = thumb_id {
                sizes.push(with(
                    file_fields(files, thumb),
                    json!({"width": 90, "height": 68}),
                ));
            }
            sizes.push(with(
                file_fields(files, file_id),
                json!({"width": 1280, "height": 960}),
            ));
            m.insert("photo".into(), Value::Array(sizes));
            if let Some(c) = caption {
                m.insert("caption".into(), json!(c));
            }
        }
        Content::Document {
            file_id,
            file_name,
            mime_type,
        } => {
            m.insert(
                "document".into(),
                with(
                    file_fields(files, file_id),
                    json!({"file_name": file_name, "mime_type": mime_type}),
                ),
            );
        }
        Content::Voice { file_id, duration } => {
            m.insert(
                "voice".into(),
                with(
                    file_fields(files, file_id),
                    json!({"duration": duration, "mime_type": "audio/ogg"}),
                ),
            );
        }
        Content::Video { file_id, duration } => {
            m.insert(
                "video".into(),
                with(
                    file_fields(files, file_id),
                    json!({"duration": duration, "width": 1280, "height": 720, "mime_type": "video/mp4"}),
                ),
            );
        }
        Content::Location {
            latitude,
            longitude,
        } => {
            m.insert(
                "location".into(),
                json!({"latitude": latitude, "longitude": longitude}),
            );
        }
        Content::Contact {
            phone_number,
            first_name,
        } => {
            m.insert(
                "contact".into(),
                json!({"phone_number": phone_number, "first_name": first_name}),
            );
        }
        Content::Sticker { file_id, emoji } => {
            m.insert(
                "sticker".into(),
                with(
                    file_fields(files, file_id),
                    json!({"emoji": emoji, "width": 512, "height": 512, "is_animated": false, "is_video": false, "type": "regular"}),
                ),
            );
        }
        Content::Unmodelled { field, value } => {
            m.insert(field.clone(), value.clone());
        }
    }
    m
}

/// A `message` update.
pub fn message(
    update_id: i64,
    message_id: i64,
    date: u64,
    from: Sender<'_>,
    fields: Map<String, Value>,
) -> Update {
    let mut m = Map::new();
    m.insert("message_id".into(), json!(message_id));
    m.insert("from".into(), from.user());
    m.insert("chat".into(), from.chat());
    m.insert("date".into(), json!(date));
    m.extend(fields);
    serialize(update_id, Some(from.chat_id), "message", Value::Object(m))
}

/// An `edited_message` update: message `message_id`, sent at `date`, now reading `fields`.
pub fn edited_message(
    update_id: i64,
    message_id: i64,
    date: u64,
    edit_date: u64,
    from: Sender<'_>,
    fields: Map<String, Value>,
) -> Update {
    let mut m = Map::new();
    m.insert("message_id".into(), json!(message_id));
    m.insert("from".into(), from.user());
    m.insert("chat".into(), from.chat());
    m.insert("date".into(), json!(date));
    m.insert("edit_date".into(), json!(edit_date));
    m.extend(fields);
    serialize(
        update_id,
        Some(from.chat_id),
        "edited_message",
        Value::Object(m),
    )
}

/// A `my_chat_member` update: the user moved the bot from `old_status` to `new_status`
/// (`kicked` when they block it, `member` when they unblock it).
pub fn my_chat_member(
    update_id: i64,
    date: u64,
    from: Sender<'_>,
    bot: Value,
    old_status: &str,
    new_status: &str,
) -> Update {
    let member = |status: &str| {
        let mut m = json!({"user": bot, "status": status});
        if status == "kicked" {
            m["until_date"] = json!(0);
        }
        m
    };
    let value = json!({
        "chat": from.chat(),
        "from": from.user(),
        "date": date,
        "old_chat_member": member(old_status),
        "new_chat_member": member(new_status),
    });
    serialize(update_id, Some(from.chat_id), "my_chat_member", value)
}

/// A `poll` update (a poll the bot sent changed): it belongs to no chat.
pub fn poll(update_id: i64, poll_id: &str, question: &str) -> Update {
    let value = json!({
        "id": poll_id,
        "question": question,
        "options": [
            {"text": "Yes", "voter_count": 1},
            {"text": "No", "voter_count": 0},
        ],
        "total_voter_count": 1,
        "is_closed": false,
        "is_anonymous": true,
        "type": "regular",
        "allows_multiple_answers": false,
    });
    serialize(update_id, None, "poll", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_gets_a_bot_command_entity_counted_in_utf16_units() {
        let fields = content_fields(&Content::Text("/start promo".into()), &HashMap::new(), None);
        assert_eq!(
            fields["entities"],
            json!([{"offset": 0, "length": 6, "type": "bot_command"}])
        );
        let plain = content_fields(&Content::Text("hello /start".into()), &HashMap::new(), None);
        assert!(!plain.contains_key("entities"));
        let bare = content_fields(&Content::Text("/".into()), &HashMap::new(), None);
        assert!(!bare.contains_key("entities"));
    }

    #[test]
    fn a_message_update_names_its_chat_and_keeps_its_body() {
        let from = Sender {
            chat_id: 42,
            first_name: "Wei",
        };
        let u = message(
            7,
            3,
            1_700_000_000,
            from,
            content_fields(&Content::Text("hi".into()), &HashMap::new(), None),
        );
        let v = u.json();
        assert_eq!(v["update_id"], 7);
        assert_eq!(v["message"]["chat"]["id"], 42);
        assert_eq!(v["message"]["chat"]["type"], "private");
        assert_eq!(v["message"]["from"]["is_bot"], false);
        assert_eq!(v["message"]["text"], "hi");
        assert_eq!((u.chat_id, u.kind.as_str()), (Some(42), "message"));
    }
}
