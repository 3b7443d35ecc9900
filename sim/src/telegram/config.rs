//! The simulator's knobs: the bot's identity, Telegram's rate limits and the webhook delivery
//! policy. Defaults follow Telegram's published guidance where there is one and the Bot API
//! server's behaviour where the guidance is silent; every value a test or demo may want to move
//! is a plain field.

use std::time::Duration;

/// How the simulated Bot API server behaves.
#[derive(Debug, Clone)]
pub struct BotSimConfig {
    /// The bot token (`<bot id>:<secret>`), the only one the server accepts.
    pub token: String,
    /// The bot's `first_name`, as `getMe` reports it.
    pub bot_first_name: String,
    /// The bot's `username` (without `@`).
    pub bot_username: String,
    /// Sends (`sendMessage`, `sendPhoto`) one chat may receive back to back before the pace
    /// applies. Telegram tolerates short bursts; 3 is a cautious reading of "briefly".
    pub per_chat_burst: u32,
    /// One more send per chat each `per_chat_interval` once the burst is spent (Telegram: about
    /// one message per second per chat). `Duration::ZERO` turns the per-chat limit off.
    pub per_chat_interval: Duration,
    /// Sends per rolling second across all chats (Telegram: about 30). 0 turns it off.
    pub global_per_second: u32,
    /// Longest text, in UTF-16 code units after trimming (4096).
    pub max_text_units: usize,
    /// Longest photo caption, in UTF-16 code units (1024).
    pub max_caption_units: usize,
    /// Strip leading and trailing whitespace from texts and captions, as the Bot API server does
    /// when it formats a message; a text that is only whitespace is then empty.
    pub trim_text: bool,
    /// Pause before each repeated webhook delivery: the first entry before the second attempt,
    /// and so on, so an update is tried `1 + len` times in all. A `Retry-After` header in the
    /// webhook's answer lengthens the pause. The Bot API server retries at once, then doubles a
    /// delay from 2 s up to about a minute and only drops an update after 24 hours; the default
    /// (0, 2, 4, 8, 16 s: six attempts over half a minute) keeps that shape but gives up sooner.
    pub webhook_retry_delays: Vec<Duration>,
    /// How long one webhook delivery may take before it counts as unanswered (UNCONFIRMED:
    /// Telegram does not document it).
    pub webhook_timeout: Duration,
    /// Refuse `setWebhook` URLs that are not `https`, as Telegram does. Off by default so the
    /// simulator can push to a loopback gateway over plain HTTP.
    pub https_only_webhooks: bool,
}

/// A token in the real format, for tests that do not care which.
pub const DEFAULT_TOKEN: &str = "7012345678:AAH-simulated_bot_token-0123456789ab";

impl BotSimConfig {
    /// Telegram's behaviour for the bot with `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            bot_first_name: "Switchboard Support".into(),
            bot_username: "switchboard_support_bot".into(),
            per_chat_burst: 3,
            per_chat_interval: Duration::from_secs(1),
            global_per_second: 30,
            max_text_units: 4096,
            max_caption_units: 1024,
            trim_text: true,
            webhook_retry_delays: [0, 2, 4, 8, 16].map(Duration::from_secs).to_vec(),
            webhook_timeout: Duration::from_secs(10),
            https_only_webhooks: false,
        }
    }

    /// The same server without rate limits (burst injection still works).
    #[must_use]
    pub fn without_rate_limits(mut self) -> Self {
        self.per_chat_interval = Duration::ZERO;
        self.global_per_second = 0;
        self
    }

    /// The same server retrying webhook deliveries `retries` times, `delay` apart.
    #[must_use]
    pub fn with_webhook_retries(mut self, retries: usize, delay: Duration) -> Self {
        self.webhook_retry_delays = vec![delay; retries];
        self
    }

    /// The bot's user id: the number before the token's `:` (1 when it is not a number).
    pub fn bot_id(&self) -> i64 {
        self.token
            .split_once(':')
            .and_then(|(id, _)| id.parse().ok())
            .unwrap_or(1)
    }
}

impl Default for BotSimConfig {
    fn default() -> Self {
        Self::new(DEFAULT_TOKEN)
    }
}
