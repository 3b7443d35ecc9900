//! `[[channels]] type = "telegram"`: a Telegram bot (`switchboard_channels::telegram`).

use std::sync::Arc;

use serde::Deserialize;
use switchboard_channels::telegram::{TELEGRAM_API_BASE, TelegramChannel, TelegramConfig};

use super::{BuiltChannel, ChannelFactory, ChannelSection};
use crate::config::{ConfigError, ForwardedEvent, Secrets, forwarding};

/// The section's own fields (`type` and `id` are the registry's).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSection {
    /// Environment variable holding the bot token from @BotFather.
    pub bot_token_env: String,
    /// Environment variable holding the webhook secret given to `setWebhook`.
    pub secret_token_env: String,
    /// Scheme and host of the Bot API (the simulator's URL in tests).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Events besides messages that reach the agent as chat lines.
    #[serde(default)]
    pub forward_events: Vec<ForwardedEvent>,
}

fn default_api_base() -> String {
    TELEGRAM_API_BASE.into()
}

/// Builds Telegram channels.
#[derive(Debug)]
pub struct TelegramFactory;

impl ChannelFactory for TelegramFactory {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    fn validate(&self, section: &ChannelSection, field: &str) -> Result<(), ConfigError> {
        let t: TelegramSection = section.parse(field)?;
        super::check_api_base(field, &t.api_base, TELEGRAM_API_BASE)
    }

    fn secrets(&self, section: &ChannelSection, field: &str) -> Vec<(String, String)> {
        match section.parse::<TelegramSection>(field) {
            Ok(t) => vec![
                (format!("{field}.bot_token_env"), t.bot_token_env),
                (format!("{field}.secret_token_env"), t.secret_token_env),
            ],
            Err(_) => Vec::new(),
        }
    }

    fn build(
        &self,
        section: &ChannelSection,
        field: &str,
        secrets: &dyn Secrets,
    ) -> Result<BuiltChannel, ConfigError> {
        let t: TelegramSection = section.parse(field)?;
        let name = |n: &str| format!("{field}.{n}");
        let bot_token = secrets.get(&name("bot_token_env"), &t.bot_token_env)?;
        let secret = secrets.get(&name("secret_token_env"), &t.secret_token_env)?;
        let config = TelegramConfig::new(bot_token, secret).with_api_base(&t.api_base);
        let adapter = TelegramChannel::new(config).map_err(|e| ConfigError::Invalid {
            field: name("secret_token_env"),
            message: e.to_string(),
        })?;
        Ok(BuiltChannel {
            adapter: Arc::new(adapter),
            forward: forwarding(&t.forward_events),
        })
    }
}
