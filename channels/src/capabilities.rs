//! What a channel can carry and the limits it imposes on sending.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a channel can carry; the engine adapts what it asks for to these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Longest text, in UTF-8 bytes, that one platform message is sure to carry (a platform that
    /// counts other units may carry more: 4,096 UTF-16 code units on Telegram). The conversation
    /// splits longer agent text into messages of at most this many bytes; an adapter given longer
    /// text splits it at the platform's own limit.
    pub max_text_bytes: usize,
    /// Whether a typing indicator can be shown to the user.
    pub typing: bool,
    /// Whether images can be sent to the user.
    pub send_images: bool,
    /// Whether media the user sent (images, voice) can be downloaded.
    pub fetch_media: bool,
    /// The platform's window for agent-initiated messages, if it has one.
    pub send_window: Option<SendWindow>,
    /// The platform's name as the agent reads it (`WeChat`).
    pub name: String,
    /// What the platform calls a user's id, as the agent reads it (`WeChat OpenID`).
    pub user_id_label: String,
}

/// A platform rule that limits sending to a period after the user's last interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWindow {
    /// How long after the user's last message sending stays allowed.
    pub duration: Duration,
    /// How many messages may be sent per user message inside the window, if limited.
    pub messages_per_interaction: Option<u32>,
}
