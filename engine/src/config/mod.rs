//! The configuration file (TOML), documented field by field in `docs/config.md`. Secrets are
//! never in the file: it names the environment variables that hold them. [`Config::load`]
//! validates everything at start and names the offending field in its error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use switchboard_core::session::SessionConfig;
use thiserror::Error;

use crate::channels::ChannelSection;
use crate::liveagent_client::Endpoint;

mod desk;
mod store;

pub use desk::{AgentDeskConfig, DeskType, EnhancedChatConfig};
pub use store::{StoreChoice, StoreConfig, StoreType};

/// A configuration problem, naming the field.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said (it names the field and line).
        message: String,
    },
    /// A field has a value that cannot work.
    #[error("{field}: {message}")]
    Invalid {
        /// Dotted path of the field, e.g. `live_agent.endpoint`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An environment variable named by the file is not set.
    #[error("{field}: environment variable {var} is not set")]
    MissingSecret {
        /// The field naming the variable.
        field: String,
        /// The variable.
        var: String,
    },
}

fn invalid(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Public listener for channel webhooks (`POST /channels/{id}`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the sled database lives (`[store] type = "sled"`, the default).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Which store holds durable state.
    #[serde(default)]
    pub store: StoreConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Timeouts and connection limits of both listeners.
    #[serde(default)]
    pub http: HttpConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Which agent desk new chats go to.
    #[serde(default)]
    pub agent_desk: AgentDeskConfig,
    /// The Live Agent (Legacy Chat) deployment; required when it is the desk.
    #[serde(default)]
    pub live_agent: Option<LiveAgentConfig>,
    /// The Enhanced Chat deployment; required when it is the desk.
    #[serde(default)]
    pub enhanced_chat: Option<EnhancedChatConfig>,
    /// What users are told and how chats start and end.
    #[serde(default)]
    pub conversation: ConversationSection,
    /// The channel adapters, in an explicit list.
    pub channels: Vec<ChannelSection>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8080))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("switchboard-data")
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Admin listener; keep it off the public interface.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// Environment variable holding the bearer token the admin API requires.
    #[serde(default = "default_admin_token_env")]
    pub token_env: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: default_admin_listen(),
            token_env: default_admin_token_env(),
        }
    }
}

fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}

fn default_admin_token_env() -> String {
    "SWITCHBOARD_ADMIN_TOKEN".into()
}

/// `[http]`: how long the listeners wait for a client and how many connections they hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds from a connection's first byte (or its opening) to the end of the request head.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: f64,
    /// Seconds from the end of the head to the end of the body.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: f64,
    /// Seconds a kept-alive connection may sit between requests.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: f64,
    /// Most connections the public listener holds at once; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Open files kept for connections to the agent desk (one long poll per live chat), which
    /// inbound connections can never take. Default: three quarters of the open-file limit.
    #[serde(default)]
    pub reserved_fds: Option<u64>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout_secs: default_header_timeout(),
            body_timeout_secs: default_body_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            max_connections: default_max_connections(),
            reserved_fds: None,
        }
    }
}

fn default_header_timeout() -> f64 {
    5.0
}

fn default_body_timeout() -> f64 {
    2.0
}

fn default_idle_timeout() -> f64 {
    15.0
}

fn default_max_connections() -> usize {
    1024
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `switchboard_engine=debug,info`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn default_log_format() -> LogFormat {
    LogFormat::Text
}

fn default_log_level() -> String {
    "info".into()
}

/// `[live_agent]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveAgentConfig {
    /// "Chat API Endpoint" from Setup → Chat Settings, e.g. `https://d.la1-c2-frf.salesforceliveagent.com/chat/rest/`.
    pub endpoint: String,
    /// `X-LIVEAGENT-API-VERSION` (≥ 37 uses ReconnectSession).
    #[serde(default = "default_api_version")]
    pub api_version: u32,
    /// Org id (`00D…`).
    pub organization_id: String,
    /// Chat deployment id (`572…`).
    pub deployment_id: String,
    /// Chat button id (`573…`).
    pub button_id: String,
    /// Ordered routing targets overriding the button.
    #[serde(default)]
    pub button_overrides: Vec<String>,
    /// Seconds a POST or control request may take.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Seconds between retries of a failed request.
    #[serde(default = "default_retry_delay")]
    pub retry_delay_secs: f64,
}

fn default_api_version() -> u32 {
    52
}

fn default_request_timeout() -> u64 {
    15
}

fn default_retry_delay() -> f64 {
    2.0
}

/// `[conversation]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationSection {
    /// `en` or `zh-CN`: the language of the built-in texts.
    #[serde(default = "default_language")]
    pub language: String,
    /// Words (or menu keys) that start a chat; empty: any message does.
    #[serde(default)]
    pub start_keywords: Vec<String>,
    /// Words that end the chat.
    #[serde(default = "default_end_keywords")]
    pub end_keywords: Vec<String>,
    /// Agent lines arriving within this many milliseconds go out as one message.
    #[serde(default = "default_merge_window")]
    pub merge_window_ms: u64,
    /// At most one queue-position notice per this many seconds.
    #[serde(default = "default_queue_notice")]
    pub queue_notice_interval_secs: u64,
    /// Replacement texts by template name (see `docs/config.md`).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

impl Default for ConversationSection {
    fn default() -> Self {
        Self {
            language: default_language(),
            start_keywords: Vec::new(),
            end_keywords: default_end_keywords(),
            merge_window_ms: default_merge_window(),
            queue_notice_interval_secs: default_queue_notice(),
            templates: BTreeMap::new(),
        }
    }
}

fn default_language() -> String {
    "en".into()
}

fn default_end_keywords() -> Vec<String> {
    vec!["end".into(), "结束".into()]
}

fn default_merge_window() -> u64 {
    2_000
}

fn default_queue_notice() -> u64 {
    30
}

/// A kind of channel event that is not a message, for `forward_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardedEvent {
    /// Periodic location reports (WeChat's `LOCATION` event, every few seconds).
    LocationReports,
    /// Menu links opened (`VIEW`), codes scanned (`SCAN`, `scancode_*`).
    Navigation,
    /// Platform notifications (`TEMPLATESENDJOBFINISH`) and events the adapter does not model.
    Notifications,
}

/// The [`Forwarding`](switchboard_core::conversation::Forwarding) a `forward_events` list asks for.
pub fn forwarding(events: &[ForwardedEvent]) -> switchboard_core::conversation::Forwarding {
    switchboard_core::conversation::Forwarding {
        location_reports: events.contains(&ForwardedEvent::LocationReports),
        navigation: events.contains(&ForwardedEvent::Navigation),
        notifications: events.contains(&ForwardedEvent::Notifications),
    }
}

impl Config {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_desks()?;
        self.store.validate()?;
        for (field, value) in [
            ("http.header_timeout_secs", self.http.header_timeout_secs),
            ("http.body_timeout_secs", self.http.body_timeout_secs),
            ("http.idle_timeout_secs", self.http.idle_timeout_secs),
        ] {
            if !(value > 0.0 && value <= 3600.0) {
                return Err(invalid(field, "must be in (0, 3600]"));
            }
        }
        if self.http.max_connections == 0 {
            return Err(invalid("http.max_connections", "must be at least 1"));
        }
        if !["en", "zh-CN"].contains(&self.conversation.language.as_str()) {
            return Err(invalid(
                "conversation.language",
                "must be \"en\" or \"zh-CN\"",
            ));
        }
        if self.channels.is_empty() {
            return Err(invalid("channels", "at least one channel is needed"));
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, channel) in self.channels.iter().enumerate() {
            let id = channel.id();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(
                    &format!("channels[{i}].id"),
                    "use letters, digits, - and _",
                ));
            }
            if !ids.insert(id.to_owned()) {
                return Err(invalid(
                    &format!("channels[{i}].id"),
                    format!("{id:?} is used twice"),
                ));
            }
            let field = format!("channels[{i}]");
            channel.factory(&field)?.validate(channel, &field)?;
        }
        Ok(())
    }

    /// The Live Agent section, if it must be validated (and used).
    fn validate_live_agent(la: &LiveAgentConfig) -> Result<(), ConfigError> {
        Endpoint::parse(&la.endpoint).map_err(|e| invalid("live_agent.endpoint", e.to_string()))?;
        for (field, value) in [
            ("live_agent.organization_id", &la.organization_id),
            ("live_agent.deployment_id", &la.deployment_id),
            ("live_agent.button_id", &la.button_id),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(field, "must not be empty"));
            }
        }
        if !(29..=99).contains(&la.api_version) {
            return Err(invalid(
                "live_agent.api_version",
                "must be between 29 and 99",
            ));
        }
        if !(la.retry_delay_secs > 0.0 && la.retry_delay_secs <= 60.0) {
            return Err(invalid("live_agent.retry_delay_secs", "must be in (0, 60]"));
        }
        Ok(())
    }

    /// The session settings this file describes (defaults without a `[live_agent]` section).
    pub fn session_config(&self) -> SessionConfig {
        let Some(la) = &self.live_agent else {
            return SessionConfig::default();
        };
        SessionConfig {
            api_version: la.api_version,
            organization_id: la.organization_id.clone(),
            deployment_id: la.deployment_id.clone(),
            button_id: la.button_id.clone(),
            button_overrides: la.button_overrides.clone(),
            request_timeout: Duration::from_secs(la.request_timeout_secs.max(1)),
            retry_delay: Duration::from_secs_f64(la.retry_delay_secs),
            ..SessionConfig::default()
        }
    }

    /// The Live Agent endpoint (validated by `load`).
    pub fn endpoint(&self) -> Result<Option<Endpoint>, ConfigError> {
        self.live_agent
            .as_ref()
            .map(|la| {
                Endpoint::parse(&la.endpoint)
                    .map_err(|e| invalid("live_agent.endpoint", e.to_string()))
            })
            .transpose()
    }
}

/// Secrets, looked up by the environment-variable names the configuration gives.
pub trait Secrets: Send + Sync {
    /// The value of `var`, for `field`.
    fn get(&self, field: &str, var: &str) -> Result<String, ConfigError>;
}

/// Reads the secret an `*_env` field names.
pub fn secret_from_env(field: &str, var: &str) -> Result<String, ConfigError> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError::MissingSecret {
            field: field.to_owned(),
            var: var.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[live_agent]
endpoint = "https://d.la1-c2-frf.salesforceliveagent.com/chat/rest/"
organization_id = "00DD0000000JVXs"
deployment_id = "572D000000000J6"
button_id = "573D000000000OC"

[[channels]]
type = "wechat"
id = "main"
app_id = "wx5823bf96d3bd56c7"
app_secret_env = "WECHAT_APP_SECRET"
token_env = "WECHAT_TOKEN"
"#;

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        assert_eq!(config.listen, default_listen());
        assert_eq!(config.admin.listen, default_admin_listen());
        assert_eq!(
            config.live_agent.as_ref().map(|la| la.api_version),
            Some(52)
        );
        assert_eq!(config.conversation.end_keywords, vec!["end", "结束"]);
        assert_eq!(config.channels[0].id(), "main");
        assert_eq!(config.http.header_timeout_secs, 5.0);
        assert_eq!(config.http.body_timeout_secs, 2.0);
        assert_eq!(config.http.max_connections, 1024);
        assert_eq!(config.http.reserved_fds, None);
    }

    #[test]
    fn listener_limits_must_be_usable() {
        let bad = format!("{MINIMAL}\n[http]\nheader_timeout_secs = 0\n");
        let err = Config::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(err.starts_with("http.header_timeout_secs:"), "{err}");
        let bad = format!("{MINIMAL}\n[http]\nmax_connections = 0\n");
        let err = Config::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(err.starts_with("http.max_connections:"), "{err}");
    }

    #[test]
    fn a_postgres_store_needs_its_url_variable_and_sled_has_none() {
        let parse = |store: &str| Config::parse(&format!("{store}\n{MINIMAL}"), "t");
        let config = parse("[store]\ntype = \"postgres\"\nurl_env = \"DB_URL\"").unwrap();
        assert_eq!(config.store.kind, StoreType::Postgres);
        let secrets = BTreeMap::from([("DB_URL".to_owned(), "postgres://gw@db/sb".to_owned())]);
        assert_eq!(
            config.store.resolve(&secrets).unwrap(),
            StoreChoice::Postgres {
                url: "postgres://gw@db/sb".into()
            }
        );
        let err = parse("[store]\ntype = \"postgres\"")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("store.url_env:"), "{err}");
        let err = parse("[store]\nurl_env = \"DB_URL\"")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("store.url_env:"), "{err}");
        let err = parse("[store]\ntype = \"mysql\"").unwrap_err().to_string();
        assert!(err.contains("mysql"), "{err}");
        assert_eq!(parse("").unwrap().store.kind, StoreType::Sled);
    }

    #[test]
    fn a_telegram_channel_is_a_registry_type_with_its_own_fields() {
        let text = format!(
            "{MINIMAL}\n[[channels]]\ntype = \"telegram\"\nid = \"tg\"\nbot_token_env = \"TG_TOKEN\"\nsecret_token_env = \"TG_SECRET\"\n"
        );
        let config = Config::parse(&text, "t.toml").unwrap();
        assert_eq!(config.channels[1].kind(), "telegram");
        assert_eq!(config.channels[1].id(), "tg");
        let bad = text.replace("bot_token_env", "bot_token");
        let err = Config::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            err.starts_with("channels[1]:") && err.contains("bot_token"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let bad = MINIMAL.replace("https://d.la1", "ftp://d.la1");
        let err = Config::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(err.starts_with("live_agent.endpoint:"), "{err}");
        let bad = MINIMAL.replace("button_id = \"573D000000000OC\"", "button_id = \"\"");
        assert!(
            Config::parse(&bad, "t.toml")
                .unwrap_err()
                .to_string()
                .starts_with("live_agent.button_id")
        );
        let bad = MINIMAL.replace("app_id =", "app_idd =");
        let err = Config::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            err.starts_with("channels[0]:") && err.contains("app_idd"),
            "{err}"
        );
        let bad = MINIMAL.replace("type = \"wechat\"", "type = \"telegraph\"");
        let err = Config::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            err.starts_with("channels[0].type:")
                && err.contains("telegraph")
                && err.contains("wechat"),
            "an unknown channel type names the ones this build has: {err}"
        );
        let bad = format!("{MINIMAL}\n[conversation]\nlanguage = \"fr\"\n");
        assert!(
            Config::parse(&bad, "t.toml")
                .unwrap_err()
                .to_string()
                .starts_with("conversation.language")
        );
    }

    #[test]
    fn the_documented_example_file_parses() {
        let text = include_str!("../../../docs/switchboard.example.toml");
        let config = Config::parse(text, "docs/switchboard.example.toml").unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.conversation.language, "zh-CN");
    }

    #[test]
    fn missing_secrets_name_the_variable() {
        let err = secret_from_env("channels[0].app_secret_env", "SWITCHBOARD_TEST_UNSET_VAR")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "channels[0].app_secret_env: environment variable SWITCHBOARD_TEST_UNSET_VAR is not set"
        );
    }
}
