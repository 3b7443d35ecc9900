//! Telegram updates (Bot API `Update` objects, JSON) as inbound events: the subset a support
//! chat needs — messages and edited messages with text, photos, documents, voice notes,
//! locations, contacts and stickers, `/start`, and the user blocking the bot — typed with serde;
//! any other kind is kept and described by name. The dedupe key is the `update_id`, which
//! Telegram keeps across its retries.

use serde::Deserialize;

use crate::channel::UserId;
use crate::dedupe::DedupeKey;
use crate::webhook::{InboundEvent, InboundKind, MediaRef, WebhookError};

#[derive(Debug, Deserialize)]
struct Update {
    update_id: i64,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    edited_message: Option<Message>,
    #[serde(default)]
    my_chat_member: Option<ChatMemberUpdated>,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

impl Chat {
    /// A private chat's name: the user's first and last name, as Telegram shows them.
    fn name(&self) -> Option<String> {
        let name = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(|part| part.trim())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        // A name is a label, not a message: keep it short.
        let name: String = name.chars().take(MAX_NAME_CHARS).collect();
        (!name.is_empty()).then_some(name)
    }
}

/// Longest visitor name taken from a chat, in characters (Telegram allows 64 + 64).
const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
struct Message {
    chat: Chat,
    date: u64,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    photo: Option<Vec<PhotoSize>>,
    #[serde(default)]
    document: Option<FileRef>,
    #[serde(default)]
    voice: Option<FileRef>,
    #[serde(default)]
    video: Option<FileRef>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    contact: Option<Contact>,
    #[serde(default)]
    sticker: Option<Sticker>,
}

#[derive(Debug, Deserialize)]
struct PhotoSize {
    file_id: String,
    #[serde(default)]
    width: u32,
    #[serde(default)]
    height: u32,
}

#[derive(Debug, Deserialize)]
struct FileRef {
    file_id: String,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
}

#[derive(Debug, Deserialize)]
struct Contact {
    phone_number: String,
    first_name: String,
}

#[derive(Debug, Deserialize)]
struct Sticker {
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChatMemberUpdated {
    chat: Chat,
    date: u64,
    new_chat_member: ChatMember,
}

#[derive(Debug, Deserialize)]
struct ChatMember {
    status: String,
}

/// The events of one update body (none for an update that concerns no user, such as a
/// channel post).
pub(crate) fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError> {
    let update: Update = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("not a Telegram update: {e}")))?;
    let key = DedupeKey(format!("telegram:{}", update.update_id));
    let event = |chat: &Chat, date: u64, kind: InboundKind| InboundEvent {
        dedupe_key: key.clone(),
        user: UserId::new(chat.id.to_string()),
        display_name: chat.name(),
        created_at: date,
        kind,
    };
    if let Some(message) = &update.message {
        return Ok(vec![event(
            &message.chat,
            message.date,
            message_kind(message, false),
        )]);
    }
    if let Some(message) = &update.edited_message {
        return Ok(vec![event(
            &message.chat,
            message.date,
            message_kind(message, true),
        )]);
    }
    if let Some(member) = &update.my_chat_member {
        let kind = match member.new_chat_member.status.as_str() {
            "kicked" | "left" => InboundKind::Unfollowed,
            "member" => InboundKind::Followed { key: None },
            other => InboundKind::Notification {
                kind: format!("my_chat_member:{other}"),
            },
        };
        return Ok(vec![event(&member.chat, member.date, kind)]);
    }
    // Kinds this adapter does not model (channel posts, polls, inline queries) carry no user
    // it could answer: acknowledged, nothing stored.
    Ok(Vec::new())
}

fn message_kind(message: &Message, edited: bool) -> InboundKind {
    let kind = if let Some(text) = &message.text {
        match text.strip_prefix("/start") {
            Some(rest) if !edited && (rest.is_empty() || rest.starts_with(' ')) => {
                let key = rest.trim();
                InboundKind::Followed {
                    key: (!key.is_empty()).then(|| key.to_owned()),
                }
            }
            _ => InboundKind::Text { text: text.clone() },
        }
    } else if let Some(sizes) = &message.photo {
        // The largest size is the one worth showing.
        match sizes
            .iter()
            .max_by_key(|p| u64::from(p.width) * u64::from(p.height))
        {
            Some(photo) => InboundKind::Image {
                media: media(&photo.file_id, Some("jpg")),
            },
            None => other("photo", []),
        }
    } else if let Some(voice) = &message.voice {
        InboundKind::Voice {
            media: media(&voice.file_id, voice.mime_type.as_deref()),
            recognition: None,
        }
    } else if let Some(video) = &message.video {
        InboundKind::Video {
            media: media(&video.file_id, video.mime_type.as_deref()),
        }
    } else if let Some(location) = &message.location {
        InboundKind::Location {
            latitude: location.latitude.to_string(),
            longitude: location.longitude.to_string(),
            label: None,
        }
    } else if let Some(document) = &message.document {
        other(
            "document",
            [("file_name", document.file_name.clone().unwrap_or_default())],
        )
    } else if let Some(contact) = &message.contact {
        other(
            "contact",
            [
                ("first_name", contact.first_name.clone()),
                ("phone_number", contact.phone_number.clone()),
            ],
        )
    } else if let Some(sticker) = &message.sticker {
        other(
            "sticker",
            [("emoji", sticker.emoji.clone().unwrap_or_default())],
        )
    } else {
        other("message", [])
    };
    match (edited, kind) {
        (true, InboundKind::Text { text }) => InboundKind::Text {
            text: format!("(edited) {text}"),
        },
        (_, kind) => kind,
    }
}

fn media(file_id: &str, format: Option<&str>) -> MediaRef {
    MediaRef {
        id: file_id.to_owned(),
        url: None,
        format: format.map(str::to_owned),
    }
}

fn other<const N: usize>(kind: &str, fields: [(&str, String); N]) -> InboundKind {
    InboundKind::Other {
        kind: kind.to_owned(),
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> InboundEvent {
        let mut events = parse(body.as_bytes()).expect("an update");
        assert_eq!(events.len(), 1, "{events:?}");
        events.remove(0)
    }

    #[test]
    fn a_text_message_is_a_text_from_its_chat_keyed_by_update_id() {
        let event = one(
            r#"{"update_id":10001,"message":{"message_id":5,"from":{"id":42,"is_bot":false,"first_name":"Wei"},"chat":{"id":42,"type":"private"},"date":1764000000,"text":"你好"}}"#,
        );
        assert_eq!(event.dedupe_key, DedupeKey("telegram:10001".into()));
        assert_eq!(event.user, UserId::new("42"));
        assert_eq!(event.created_at, 1_764_000_000);
        assert_eq!(
            event.kind,
            InboundKind::Text {
                text: "你好".into()
            }
        );
    }

    #[test]
    fn a_private_chat_names_its_user_and_a_nameless_one_does_not() {
        let named = one(
            r#"{"update_id":1,"message":{"chat":{"id":7,"type":"private","first_name":" Ana ","last_name":"Lima"},"date":1,"text":"hi"}}"#,
        );
        assert_eq!(named.display_name.as_deref(), Some("Ana Lima"));
        let long = format!(
            r#"{{"update_id":2,"message":{{"chat":{{"id":7,"first_name":"{}"}},"date":1,"text":"hi"}}}}"#,
            "名".repeat(100)
        );
        assert_eq!(one(&long).display_name.map(|n| n.chars().count()), Some(64));
        let nameless = one(
            r#"{"update_id":3,"message":{"chat":{"id":7,"first_name":"  "},"date":1,"text":"hi"}}"#,
        );
        assert_eq!(nameless.display_name, None);
    }

    #[test]
    fn start_with_a_payload_is_a_follow_and_an_edit_is_marked() {
        let start =
            one(r#"{"update_id":1,"message":{"chat":{"id":7},"date":1,"text":"/start promo-9"}}"#);
        assert_eq!(
            start.kind,
            InboundKind::Followed {
                key: Some("promo-9".into())
            }
        );
        let edit =
            one(r#"{"update_id":2,"edited_message":{"chat":{"id":7},"date":2,"text":"fixed"}}"#);
        assert_eq!(
            edit.kind,
            InboundKind::Text {
                text: "(edited) fixed".into()
            }
        );
        let command =
            one(r#"{"update_id":3,"message":{"chat":{"id":7},"date":3,"text":"/startle"}}"#);
        assert_eq!(
            command.kind,
            InboundKind::Text {
                text: "/startle".into()
            }
        );
    }

    #[test]
    fn photos_voice_locations_contacts_stickers_and_documents_are_typed() {
        let photo = one(
            r#"{"update_id":1,"message":{"chat":{"id":7},"date":1,"photo":[{"file_id":"small","width":90,"height":90},{"file_id":"big","width":800,"height":600}]}}"#,
        );
        assert!(matches!(photo.kind, InboundKind::Image { ref media } if media.id == "big"));
        let voice = one(
            r#"{"update_id":2,"message":{"chat":{"id":7},"date":1,"voice":{"file_id":"v1","mime_type":"audio/ogg"}}}"#,
        );
        assert!(matches!(voice.kind, InboundKind::Voice { ref media, .. } if media.id == "v1"));
        let place = one(
            r#"{"update_id":3,"message":{"chat":{"id":7},"date":1,"location":{"latitude":31.23,"longitude":121.47}}}"#,
        );
        assert_eq!(
            place.kind,
            InboundKind::Location {
                latitude: "31.23".into(),
                longitude: "121.47".into(),
                label: None
            }
        );
        let contact = one(
            r#"{"update_id":4,"message":{"chat":{"id":7},"date":1,"contact":{"phone_number":"+8613800000000","first_name":"Li"}}}"#,
        );
        assert!(
            matches!(&contact.kind, InboundKind::Other { kind, fields } if kind == "contact" && fields["phone_number"] == "+8613800000000")
        );
        let sticker = one(
            r#"{"update_id":5,"message":{"chat":{"id":7},"date":1,"sticker":{"file_id":"s","emoji":"👍"}}}"#,
        );
        assert!(matches!(&sticker.kind, InboundKind::Other { kind, .. } if kind == "sticker"));
        let document = one(
            r#"{"update_id":6,"message":{"chat":{"id":7},"date":1,"document":{"file_id":"d","file_name":"invoice.pdf"}}}"#,
        );
        assert!(
            matches!(&document.kind, InboundKind::Other { kind, fields } if kind == "document" && fields["file_name"] == "invoice.pdf")
        );
    }

    #[test]
    fn blocking_the_bot_is_an_unfollow_and_unmodelled_updates_carry_no_event() {
        let blocked = one(
            r#"{"update_id":9,"my_chat_member":{"chat":{"id":7},"date":5,"from":{"id":7},"old_chat_member":{"status":"member"},"new_chat_member":{"status":"kicked"}}}"#,
        );
        assert_eq!(blocked.kind, InboundKind::Unfollowed);
        let poll = parse(br#"{"update_id":10,"poll":{"id":"p"}}"#).unwrap();
        assert!(poll.is_empty());
    }

    #[test]
    fn a_body_that_is_not_an_update_is_malformed() {
        assert!(matches!(
            parse(b"not json"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse(br#"{"message":{}}"#),
            Err(WebhookError::Malformed(_))
        ));
    }
}
