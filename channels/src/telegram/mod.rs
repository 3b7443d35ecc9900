//! The Telegram bot adapter (feature `telegram`): Bot API webhooks in, Bot API methods out.
//!
//! Inbound: `POST /channels/{id}` with the `X-Telegram-Bot-Api-Secret-Token` header that
//! `setWebhook` was given, compared in constant time (missing or wrong: 401, nothing stored);
//! the JSON update, size-capped, becomes at most one [`InboundEvent`](crate::InboundEvent) keyed
//! by its `update_id` (`update.rs`). Outbound: `sendMessage`, `sendChatAction`, `sendPhoto`
//! (`send.rs`). Telegram has no reply window; its limit is a rate, answered with 429 and
//! `retry_after`. The bot token is in every URL and so in no log line or error.
//!
//! | module | holds |
//! |---|---|
//! | `update.rs` | updates → inbound events |
//! | [`send`] | outbound calls, splitting, error mapping |

pub mod send;
mod update;

use std::time::Duration;

use async_trait::async_trait;
use http::Method;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::api::{ApiClient, ApiError};
use crate::capabilities::Capabilities;
use crate::channel::{Channel, ChannelKind, UserId};
use crate::delivery::DeliveryError;
use crate::outbound::{Delivered, Outbound};
use crate::secret::Secret;
use crate::webhook::{HttpReply, Webhook, WebhookError, WebhookRequest};

/// The real Bot API.
pub const TELEGRAM_API_BASE: &str = "https://api.telegram.org";
/// The header Telegram sends the webhook secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Largest update body accepted.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// One bot.
#[derive(Debug, Clone, Deserialize)]
pub struct TelegramConfig {
    /// The bot token from @BotFather (`123456:ABC…`).
    pub bot_token: Secret,
    /// The `secret_token` given to `setWebhook` (1–256 of `A-Z a-z 0-9 _ -`).
    pub secret_token: Secret,
    /// API base URL; a simulator's in tests.
    pub api_base: String,
    /// Largest update body accepted.
    pub max_body: usize,
    /// Timeout of one API call.
    pub http_timeout: Duration,
}

impl TelegramConfig {
    /// A bot against the real Bot API, with default limits.
    pub fn new(bot_token: impl Into<String>, secret_token: impl Into<String>) -> TelegramConfig {
        TelegramConfig {
            bot_token: Secret::new(bot_token),
            secret_token: Secret::new(secret_token),
            api_base: TELEGRAM_API_BASE.into(),
            max_body: DEFAULT_MAX_BODY,
            http_timeout: Duration::from_secs(10),
        }
    }

    /// The same bot against another API base URL.
    pub fn with_api_base(mut self, base: impl Into<String>) -> TelegramConfig {
        self.api_base = base.into();
        self
    }
}

/// Why a bot configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramConfigError {
    /// The webhook secret breaks Telegram's rules for `secret_token`.
    #[error("the webhook secret must be 1–256 characters of A-Z, a-z, 0-9, _ and -")]
    BadSecret,
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// A Telegram bot as a [`Channel`].
#[derive(Debug)]
pub struct TelegramChannel {
    config: TelegramConfig,
    api: ApiClient,
    api_base: String,
}

impl TelegramChannel {
    /// An adapter for `config`.
    pub fn new(config: TelegramConfig) -> Result<TelegramChannel, TelegramConfigError> {
        let secret = config.secret_token.expose();
        if secret.is_empty()
            || secret.len() > 256
            || !secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(TelegramConfigError::BadSecret);
        }
        let api = ApiClient::new(&config.api_base, config.http_timeout, 1024 * 1024)?;
        Ok(TelegramChannel {
            api_base: config.api_base.trim_end_matches('/').to_owned(),
            config,
            api,
        })
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), WebhookError> {
        if req.method != Method::POST {
            return Err(WebhookError::MethodNotAllowed);
        }
        let given = req
            .headers
            .get(SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let expected = self.config.secret_token.expose().as_bytes();
        if given.ct_eq(expected).into() {
            Ok(())
        } else {
            Err(WebhookError::BadSignature(
                "missing or wrong X-Telegram-Bot-Api-Secret-Token".into(),
            ))
        }
    }
}

#[async_trait]
impl Channel for TelegramChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // UTF-8 bytes never undercount UTF-16 units: 4,096 bytes fit one message.
            max_text_bytes: send::MAX_TEXT_UNITS,
            typing: true,
            send_images: true,
            fetch_media: false,
            send_window: None,
            name: "Telegram".into(),
            user_id_label: "Telegram chat id".into(),
        }
    }

    fn parse_webhook(&self, req: &WebhookRequest) -> Result<Webhook, WebhookError> {
        self.verify(req)?;
        if req.body.len() > self.config.max_body {
            return Err(WebhookError::TooLarge {
                size: req.body.len(),
                limit: self.config.max_body,
            });
        }
        Ok(Webhook {
            events: update::parse(&req.body)?,
            reply: HttpReply::empty(),
        })
    }

    async fn deliver(&self, to: &UserId, msg: &Outbound) -> Result<Delivered, DeliveryError> {
        match msg {
            Outbound::Text(text) => self.send_text(to, text).await,
            Outbound::Image(source) => self.send_image(to, source).await,
            Outbound::Typing(state) => self.send_typing(to, *state).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> TelegramChannel {
        TelegramChannel::new(
            TelegramConfig::new("123:token", "s3cret-token_1").with_api_base("http://127.0.0.1:9"),
        )
        .unwrap()
    }

    fn push(secret: Option<&str>, body: &str) -> WebhookRequest {
        let mut req = WebhookRequest::new(Method::POST, "", body.to_owned());
        if let Some(secret) = secret {
            req.headers.insert(SECRET_HEADER, secret.parse().unwrap());
        }
        req
    }

    const UPDATE: &str = r#"{"update_id":1,"message":{"chat":{"id":7},"date":1,"text":"hi"}}"#;

    #[test]
    fn an_update_with_the_secret_header_is_taken() {
        let webhook = channel()
            .parse_webhook(&push(Some("s3cret-token_1"), UPDATE))
            .unwrap();
        assert_eq!(webhook.events.len(), 1);
        assert_eq!(webhook.reply.status, http::StatusCode::OK);
    }

    #[test]
    fn a_missing_or_wrong_secret_is_401_and_nothing_is_parsed() {
        for secret in [None, Some("wrong"), Some("s3cret-token_")] {
            let err = channel().parse_webhook(&push(secret, UPDATE)).unwrap_err();
            assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED, "{secret:?}");
        }
        let get = WebhookRequest::new(Method::GET, "", "");
        assert_eq!(
            channel().parse_webhook(&get).unwrap_err().status(),
            http::StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn an_oversized_update_is_413() {
        let body = format!(
            r#"{{"update_id":1,"message":{{"chat":{{"id":7}},"date":1,"text":"{}"}}}}"#,
            "x".repeat(DEFAULT_MAX_BODY)
        );
        let err = channel()
            .parse_webhook(&push(Some("s3cret-token_1"), &body))
            .unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn a_webhook_secret_outside_telegrams_alphabet_is_refused() {
        let bad = TelegramChannel::new(TelegramConfig::new("1:t", "has space"));
        assert!(matches!(bad, Err(TelegramConfigError::BadSecret)));
    }
}
