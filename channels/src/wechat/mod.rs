//! The WeChat Official Account (公众号) adapter, following `spec/wechat.md` §1–§5.
//!
//! Inbound: [`WeChatChannel::parse_webhook`](crate::Channel::parse_webhook) answers URL
//! verification (`GET`, `echostr` verbatim) and verifies, decrypts and parses pushes in
//! plaintext, compatible and safe mode (with an EncodingAESKey configured, plaintext pushes are
//! refused unless [`WeChatConfig::accept_plaintext`] is set); unknown message and event types
//! are kept and acknowledged. Outbound: customer-service `custom/send` (text split at 2048 bytes, images
//! uploaded first), throttled `custom/typing`, and `media/get` for inbound media, all with an
//! access token from `stable_token` shared through a [`TokenStore`]. The adapter keeps no
//! per-user window: each user's conversation counts the sends of the 48-hour window (from
//! [`Capabilities::send_window`](crate::Capabilities)), and the API's refusals (45015, 45047,
//! 43004) come back as [`DeliveryError::GiveUp`] with their reason.
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | [`WeChatConfig`], the [`WindowPolicy`] given to the conversation |
//! | [`signature`] | SHA-1 signatures, constant-time comparison |
//! | [`crypto`] | the WXBizMsgCrypt AES scheme and its error codes |
//! | [`xml`] | strict XML reader (no DTD, size cap) and CDATA writer |
//! | [`message`] | typed messages and events |
//! | [`dedupe`] | dedupe keys per §4.3 |
//! | [`push`] | the webhook endpoint: verification, modes, replies |
//! | [`reply`] | encrypted passive replies (§3.4) |
//! | [`api`] | the HTTP client (shared by the adapters: `crate::api`) |
//! | [`errcode`] | API error codes mapped onto [`DeliveryError`] |
//! | [`token`] | access tokens: store, single-flight refresh, compare-and-refresh |
//! | [`send`] | `custom/send`, `custom/typing`, media upload and download |

pub use crate::api;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dedupe;
pub mod errcode;
pub mod message;
pub mod multipart;
pub mod push;
pub mod reply;
pub use crate::secret;
pub mod send;
pub mod signature;
pub mod token;
pub mod xml;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::capabilities::{Capabilities, SendWindow};
use crate::channel::{Channel, ChannelKind, UserId};
use crate::delivery::DeliveryError;
use crate::outbound::{Delivered, Media, Outbound};
use crate::webhook::{MediaRef, Webhook, WebhookError, WebhookRequest};

pub use clock::{Clock, SystemClock};
pub use config::WeChatConfig;
pub use config::WindowPolicy;
pub use crypto::{AesKey, CryptoError};
pub use secret::Secret;
pub use token::{AccessToken, MemoryTokenStore, TokenStore};

use api::ApiClient;
use message::MessageKind;
use push::{Handled, PushVerifier};
use token::{StableTokenFetcher, TokenSource};

/// Longest text in one customer-service message, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 2048;

/// The configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The EncodingAESKey is not 43 base64 characters decoding to 32 bytes.
    #[error("invalid EncodingAESKey: {0}")]
    AesKey(#[from] CryptoError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] api::ApiError),
}

/// The WeChat Official Account channel.
#[derive(Debug)]
pub struct WeChatChannel {
    config: WeChatConfig,
    aes_key: Option<AesKey>,
    api: ApiClient,
    tokens: TokenSource,
    clock: Arc<dyn Clock>,
    /// When a typing indicator was last shown to each user (unix seconds).
    typing: Mutex<HashMap<UserId, u64>>,
}

impl WeChatChannel {
    /// A channel with an in-memory token store and the system clock.
    pub fn new(config: WeChatConfig) -> Result<Self, ConfigError> {
        Self::with_parts(
            config,
            Arc::new(MemoryTokenStore::default()),
            Arc::new(SystemClock),
        )
    }

    /// A channel sharing `store` (e.g. with other instances) and reading time from `clock`.
    pub fn with_parts(
        config: WeChatConfig,
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let aes_key = config
            .encoding_aes_key
            .as_ref()
            .map(|k| AesKey::from_encoding_aes_key(k.expose()))
            .transpose()?;
        let max_response = config.max_media.max(64 * 1024);
        let api = ApiClient::new(&config.api_base, config.http_timeout, max_response)?;
        let fetcher = StableTokenFetcher::new(
            api.clone(),
            config.app_id.clone(),
            config.app_secret.clone(),
            config.token_margin,
        );
        let tokens = TokenSource::new(store, Arc::new(fetcher), clock.clone());
        Ok(Self {
            config,
            aes_key,
            api,
            tokens,
            clock,
            typing: Mutex::new(HashMap::new()),
        })
    }

    fn verifier(&self) -> PushVerifier<'_> {
        PushVerifier {
            token: self.config.token.expose(),
            aes_key: self.aes_key.as_ref(),
            app_id: &self.config.app_id,
            accept_plaintext: self.config.accept_plaintext,
            max_body: self.config.max_body,
        }
    }

    fn note_unknown(handled: &Handled) {
        if let Handled::Push(push) = handled
            && let MessageKind::Unknown { msg_type } = &push.message.kind
        {
            tracing::info!(msg_type = %msg_type, "acknowledging a WeChat push of unknown type");
        }
    }
}

#[async_trait]
impl Channel for WeChatChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WeChat
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_text_bytes: MAX_TEXT_BYTES,
            typing: true,
            send_images: true,
            fetch_media: true,
            send_window: Some(SendWindow {
                duration: self.config.window.message_window,
                messages_per_interaction: Some(self.config.window.message_quota),
            }),
            name: "WeChat".into(),
            user_id_label: "WeChat OpenID".into(),
        }
    }

    fn parse_webhook(&self, req: &WebhookRequest) -> Result<Webhook, WebhookError> {
        let handled = self.verifier().handle(req)?;
        Self::note_unknown(&handled);
        Ok(handled.into_webhook())
    }

    async fn deliver(&self, to: &UserId, msg: &Outbound) -> Result<Delivered, DeliveryError> {
        match msg {
            Outbound::Text(text) => self.send_text(to, text).await,
            Outbound::Image(source) => self.send_image(to, source).await,
            Outbound::Typing(state) => self.send_typing(to, *state).await,
        }
    }

    async fn fetch_media(&self, media: &MediaRef) -> Result<Media, DeliveryError> {
        self.download_media(&media.id).await
    }
}

impl WeChatChannel {
    fn typing_interval(&self) -> Duration {
        self.config.typing_interval
    }
}
