//! Configuration of one WeChat Official Account.

use std::time::Duration;

use serde::Deserialize;

use super::secret::Secret;

/// The real API's base URL.
pub const WECHAT_API_BASE: &str = "https://api.weixin.qq.com";

/// One Official Account: credentials, server settings and limits.
#[derive(Debug, Clone, Deserialize)]
pub struct WeChatConfig {
    /// AppID (`wx…`).
    pub app_id: String,
    /// AppSecret, for access tokens.
    pub app_secret: Secret,
    /// The Token of the server settings, for signatures.
    pub token: Secret,
    /// The EncodingAESKey (43 characters), required for compatible and safe mode.
    #[serde(default)]
    pub encoding_aes_key: Option<Secret>,
    /// With an EncodingAESKey: also accept plaintext pushes (no `encrypt_type=aes`). Their
    /// `signature` covers only token, timestamp and nonce, not the body, so anyone who saw one
    /// push's query string could post any XML as any user. Keep it `false`; set it only while
    /// switching the account from plaintext to compatible/safe mode.
    #[serde(default)]
    pub accept_plaintext: bool,
    /// API base URL; a simulator's in tests.
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Largest webhook body accepted.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// Timeout of one API call.
    #[serde(default = "default_http_timeout")]
    pub http_timeout: Duration,
    /// Refresh tokens this long before they expire.
    #[serde(default = "default_token_margin")]
    pub token_margin: Duration,
    /// Largest media download (inbound media, outbound images by URL).
    #[serde(default = "default_max_media")]
    pub max_media: usize,
    /// What the customer-service API allows after a user message, for the conversation's
    /// window (the channel's [`Capabilities`](crate::Capabilities)).
    #[serde(default)]
    pub window: WindowPolicy,
    /// Minimum interval between two typing indicators to one user.
    #[serde(default = "default_typing_interval")]
    pub typing_interval: Duration,
}

fn default_api_base() -> String {
    WECHAT_API_BASE.to_owned()
}
fn default_max_body() -> usize {
    super::xml::DEFAULT_MAX_BODY
}
fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_token_margin() -> Duration {
    Duration::from_secs(300)
}
fn default_max_media() -> usize {
    10 * 1024 * 1024
}
fn default_typing_interval() -> Duration {
    Duration::from_secs(15)
}

impl WeChatConfig {
    /// A configuration with default limits against the real API.
    pub fn new(
        app_id: impl Into<String>,
        app_secret: impl Into<String>,
        token: impl Into<String>,
        encoding_aes_key: Option<&str>,
    ) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret: Secret::new(app_secret),
            token: Secret::new(token),
            encoding_aes_key: encoding_aes_key.map(Secret::new),
            accept_plaintext: false,
            api_base: default_api_base(),
            max_body: default_max_body(),
            http_timeout: default_http_timeout(),
            token_margin: default_token_margin(),
            max_media: default_max_media(),
            window: WindowPolicy::default(),
            typing_interval: default_typing_interval(),
        }
    }

    /// The same configuration against another API base URL.
    pub fn with_api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into();
        self
    }

    /// The same configuration, accepting plaintext pushes despite an EncodingAESKey when
    /// `accept` is true (see [`WeChatConfig::accept_plaintext`]: only during a migration).
    pub fn with_accept_plaintext(mut self, accept: bool) -> Self {
        self.accept_plaintext = accept;
        self
    }
}

/// The customer-service window a user message opens (§5.1): the conversation of each user keeps
/// the count, from the channel's capabilities; the API stays the authority (45015, 45047).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct WindowPolicy {
    /// How long a user message keeps the window open.
    pub message_window: Duration,
    /// Messages allowed per user message.
    pub message_quota: u32,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        Self {
            message_window: Duration::from_secs(48 * 3600),
            message_quota: 5,
        }
    }
}
