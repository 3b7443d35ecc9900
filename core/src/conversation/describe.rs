//! The user's messages as text for the agent: Live Agent carries only text, so pictures,
//! voice notes, places and links become a line the agent can act on. Whether a kind is a chat
//! line at all is [`Conversation::is_chat_line`](super::Conversation)'s call.

use super::input::UserMessage;
use super::templates::{Notice, Templates};

/// The text to forward for `message`; `None` for pushes that are commands, not content (menu
/// clicks, follow and unfollow). `answers_request`: the agent asked for a picture.
pub(crate) fn describe(
    templates: &Templates,
    message: &UserMessage,
    answers_request: bool,
) -> Option<String> {
    let notice = match message {
        UserMessage::Text(text) => return Some(text.clone()),
        UserMessage::Image { url, .. } => Notice::Image {
            url: url.as_deref(),
            requested: answers_request,
        },
        UserMessage::Voice { recognition, .. } => Notice::Voice {
            recognition: recognition.as_deref().filter(|t| !t.trim().is_empty()),
        },
        UserMessage::Video { .. } => Notice::Video,
        UserMessage::Location {
            latitude,
            longitude,
            label,
        } => Notice::Location {
            latitude: *latitude,
            longitude: *longitude,
            label,
        },
        UserMessage::Link { title, url } => Notice::Link { title, url },
        UserMessage::Other { kind } => Notice::Other { kind },
        UserMessage::UnreadableLocation { label } => Notice::UnreadableLocation { label },
        UserMessage::LocationReport {
            latitude,
            longitude,
        } => Notice::LocationReport {
            latitude: *latitude,
            longitude: *longitude,
        },
        UserMessage::Navigation { kind, target } => Notice::Event {
            kind,
            target: target.as_deref(),
        },
        UserMessage::Notification { kind } => Notice::Event { kind, target: None },
        UserMessage::MenuClick { .. } | UserMessage::Subscribe | UserMessage::Unsubscribe => {
            return None;
        }
    };
    Some(templates.render(&notice))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_text_messages_become_useful_text() {
        let t = Templates::english();
        let cases = [
            (
                UserMessage::Image {
                    media_id: "m".into(),
                    url: Some("http://mmbiz.qpic.cn/x".into()),
                },
                "[Picture] http://mmbiz.qpic.cn/x",
            ),
            (
                UserMessage::Voice {
                    media_id: "m".into(),
                    recognition: Some("where is my parcel".into()),
                },
                "[Voice message] where is my parcel",
            ),
            (
                UserMessage::Location {
                    latitude: 23.134521,
                    longitude: 113.358803,
                    label: "Tianhe, Guangzhou".into(),
                },
                "[Location] Tianhe, Guangzhou (23.134521, 113.358803)",
            ),
            (
                UserMessage::Link {
                    title: "Order 42".into(),
                    url: "https://shop.example/42".into(),
                },
                "[Link] Order 42 https://shop.example/42",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(describe(&t, &message, false).as_deref(), Some(expected));
        }
        let click = UserMessage::MenuClick { key: "k".into() };
        assert_eq!(describe(&t, &click, false), None);
    }
}
