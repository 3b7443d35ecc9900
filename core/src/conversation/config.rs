//! What a conversation is configured with: when a chat starts and ends, how often the user hears
//! about the queue, how agent lines are batched, the channel's send window, and every text.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::retry::RetryPolicy;
use super::templates::Templates;

/// Settings shared by every conversation of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationConfig {
    /// Empty: any user message starts a chat. Otherwise only a text equal (trimmed,
    /// case-insensitive) to one of these, or a menu click whose key is one of these.
    pub start_keywords: Vec<String>,
    /// User text equal (trimmed, case-insensitive) to one of these ends the live chat; so does a
    /// menu click with one of these keys.
    pub end_keywords: Vec<String>,
    /// At most one queue notice per interval, and only when the position changed.
    pub queue_notice_interval: Duration,
    /// Agent lines arriving within this window of the first are merged into one message.
    pub merge_window: Duration,
    /// Sends the channel allows per user-message window (`u32::MAX`: no limit).
    pub window_budget: u32,
    /// How long the reply window stays open after a user message (a channel without a window:
    /// [`ConversationConfig::NO_WINDOW`]).
    pub window: Duration,
    /// Longest text one message to the user may carry, in UTF-8 bytes: longer agent text goes
    /// out as several messages, each one send of the window's budget.
    pub max_text_bytes: usize,
    /// Whether the channel can show the user that the agent is typing.
    pub typing: bool,
    /// The channel's name as the agent reads it, the first of the chat request's details
    /// (`Channel: WeChat`); empty: no such detail.
    pub channel_name: String,
    /// The label of the user's channel id in the chat request's details (`WeChat OpenID`).
    pub user_id_label: String,
    /// Tell the agent (once per window) when this many sends or fewer remain.
    pub budget_warning_at: u32,
    /// Agent lines written while the user cannot be reached are kept, oldest first, up to this
    /// many bytes (one message's worth), and sent when the user writes again; the rest are
    /// reported to the agent as lost.
    pub kept_max_bytes: usize,
    /// Which of the user's non-message events become chat lines for the agent.
    pub forward: Forwarding,
    /// When a send that failed for now is tried again, and when it is given up.
    pub retry: RetryPolicy,
    /// Every user- and agent-facing text.
    pub templates: Templates,
}

/// Channel events that are not messages, and whether each kind reaches the agent as a chat
/// line. None does by default: a periodic location report every few seconds, or a menu link
/// opened, is noise in an agent's console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Forwarding {
    /// Periodic location reports (the latest always goes with the chat request).
    pub location_reports: bool,
    /// Menu links opened, codes scanned.
    pub navigation: bool,
    /// Platform notifications and events the adapter does not model.
    pub notifications: bool,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            start_keywords: Vec::new(),
            end_keywords: vec!["end".to_owned(), "结束".to_owned()],
            queue_notice_interval: Duration::from_secs(30),
            merge_window: Duration::from_secs(2),
            window_budget: 5,
            window: Duration::from_secs(48 * 3600),
            max_text_bytes: 2048,
            typing: true,
            channel_name: String::new(),
            user_id_label: "User id".to_owned(),
            budget_warning_at: 1,
            kept_max_bytes: 1_800,
            forward: Forwarding::default(),
            retry: RetryPolicy::default(),
            templates: Templates::english(),
        }
    }
}

impl ConversationConfig {
    /// Fitted to a channel whose messages carry at most `max_text_bytes`: longer agent text is
    /// split, and what is kept while the window is closed fits in one message (nine tenths of
    /// it, leaving room for the line breaks that join the kept lines).
    pub fn with_message_size(self, max_text_bytes: usize) -> Self {
        ConversationConfig {
            max_text_bytes,
            kept_max_bytes: max_text_bytes / 10 * 9,
            ..self
        }
    }

    /// The window of a channel that has none: a century.
    pub const NO_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

    pub(crate) fn is_start_keyword(&self, text: &str) -> bool {
        matches_any(&self.start_keywords, text)
    }

    pub(crate) fn is_end_keyword(&self, text: &str) -> bool {
        matches_any(&self.end_keywords, text)
    }
}

/// Trimmed, case-insensitive equality with any keyword.
fn matches_any(keywords: &[String], text: &str) -> bool {
    let text = text.trim().to_lowercase();
    keywords
        .iter()
        .any(|k| !k.trim().is_empty() && k.trim().to_lowercase() == text)
}
