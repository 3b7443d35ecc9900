//! The gateway's configuration for running against the simulators (the demo and the tests):
//! loopback listeners on free ports, short retry timings, one WeChat channel `wechat` and,
//! when asked, a Telegram bot `telegram` beside it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, ConfigError};

/// Environment-variable names the simulated configuration uses for its secrets.
pub const ADMIN_TOKEN_ENV: &str = "SIM_ADMIN_TOKEN";
/// AppSecret variable.
pub const APP_SECRET_ENV: &str = "SIM_WECHAT_APP_SECRET";
/// Token variable.
pub const TOKEN_ENV: &str = "SIM_WECHAT_TOKEN";
/// EncodingAESKey variable.
pub const AES_KEY_ENV: &str = "SIM_WECHAT_AES_KEY";
/// The PostgreSQL store's URL variable, with [`Simulated::on_postgres`].
pub const STORE_URL_ENV: &str = "SIM_STORE_URL";
/// The Telegram bot token variable.
pub const TELEGRAM_BOT_TOKEN_ENV: &str = "SIM_TELEGRAM_BOT_TOKEN";
/// The Telegram webhook secret variable.
pub const TELEGRAM_SECRET_ENV: &str = "SIM_TELEGRAM_SECRET";

/// Where the simulators are and how the account is set up.
#[derive(Debug, Clone)]
pub struct Simulated {
    /// The Live Agent simulator's base URL.
    pub live_agent_url: String,
    /// Org, deployment and button ids the simulator expects.
    pub organization_id: String,
    /// Deployment id.
    pub deployment_id: String,
    /// Button id.
    pub button_id: String,
    /// The WeChat API simulator's base URL.
    pub wechat_api_url: String,
    /// The Official Account's AppID.
    pub app_id: String,
    /// Pushes are encrypted (an EncodingAESKey is configured).
    pub encrypted: bool,
    /// The sled directory.
    pub data_dir: PathBuf,
    /// `en` or `zh-CN`.
    pub language: String,
    /// Agent-line merge window.
    pub merge_window_ms: u64,
    /// New chats go to this Enhanced Chat simulator instead of Live Agent.
    pub enhanced_chat: Option<SimulatedEnhanced>,
    /// A Telegram channel `telegram` against this Bot API simulator's base URL, beside WeChat.
    pub telegram_api_url: Option<String>,
    /// State goes to the PostgreSQL database whose URL is in [`STORE_URL_ENV`], not sled.
    pub postgres: bool,
    /// With `postgres`: several instances share it, with this lease and takeover wait
    /// (seconds).
    pub shared: Option<(f64, f64)>,
}

/// An Enhanced Chat simulator as the gateway sees it.
#[derive(Debug, Clone)]
pub struct SimulatedEnhanced {
    /// Its base URL (the SCRT URL).
    pub url: String,
    /// The org id it expects.
    pub org_id: String,
    /// The deployment name it expects.
    pub deployment: String,
    /// Verified users: the keyset issuer it trusts (the key is the secret
    /// [`IDENTITY_KEY_ENV`]); `None`: anonymous end users.
    pub identity_issuer: Option<String>,
}

/// The variable of the verified users' signing key, when [`SimulatedEnhanced::identity_issuer`]
/// is set.
pub const IDENTITY_KEY_ENV: &str = "SIM_ENHANCED_IDENTITY_KEY";

impl Simulated {
    /// Pointed at these simulators, for `app_id`, storing in `data_dir`; encrypted pushes,
    /// English texts and a 200 ms merge window until changed.
    pub fn new(
        live_agent: &switchboard_sim::liveagent::LiveAgentSim,
        wechat: &switchboard_sim::wechat::WeChatApiSim,
        app_id: &str,
        data_dir: impl Into<PathBuf>,
    ) -> Simulated {
        let knobs = live_agent.control().knobs();
        Simulated {
            live_agent_url: live_agent.base_url(),
            organization_id: knobs.organization_id,
            deployment_id: knobs.deployment_id,
            button_id: knobs.button_id,
            wechat_api_url: wechat.base_url(),
            app_id: app_id.to_owned(),
            encrypted: true,
            data_dir: data_dir.into(),
            language: "en".into(),
            merge_window_ms: 200,
            enhanced_chat: None,
            telegram_api_url: None,
            postgres: false,
            shared: None,
        }
    }

    /// The same, with new chats going to the Enhanced Chat simulator `sim`.
    pub fn on_enhanced_chat(self, sim: &switchboard_sim::enhanced::EnhancedChatSim) -> Simulated {
        let knobs = sim.agent().knobs();
        Simulated {
            enhanced_chat: Some(SimulatedEnhanced {
                url: sim.base_url(),
                org_id: knobs.org_id,
                deployment: knobs.es_developer_name,
                identity_issuer: None,
            }),
            ..self
        }
    }

    /// The same, with a Telegram bot `telegram` on the Bot API simulator at `api_url` beside
    /// the WeChat channel.
    pub fn with_telegram(self, api_url: impl Into<String>) -> Simulated {
        Simulated {
            telegram_api_url: Some(api_url.into()),
            ..self
        }
    }

    /// The same, keeping state in the PostgreSQL database whose URL is the secret
    /// [`STORE_URL_ENV`].
    pub fn on_postgres(self) -> Simulated {
        Simulated {
            postgres: true,
            ..self
        }
    }

    /// The same, as one of several instances on that database, holding shards for
    /// `lease_secs` and letting a taken-over chat poll `takeover_wait_secs` after its previous
    /// owner let go.
    pub fn shared_postgres(self, lease_secs: f64, takeover_wait_secs: f64) -> Simulated {
        Simulated {
            postgres: true,
            shared: Some((lease_secs, takeover_wait_secs)),
            ..self
        }
    }

    /// The configuration file's text.
    pub fn toml(&self) -> String {
        let aes = if self.encrypted {
            format!("encoding_aes_key_env = \"{AES_KEY_ENV}\"\n")
        } else {
            String::new()
        };
        let desk = match &self.enhanced_chat {
            Some(ec) => format!(
                r#"
[agent_desk]
type = "enhanced_chat"

[enhanced_chat]
url = "{url}"
org_id = "{org}"
deployment = "{deployment}"
name_field = "Visitor_Name"
request_timeout_secs = 5
unreachable_after_secs = 120
stream_silence_secs = 30
{identity}
[enhanced_chat.detail_fields]
"Channel" = "Channel_Source"
"WeChat OpenID" = "WeChat_OpenId"
"Telegram chat id" = "Telegram_Chat_Id"
"#,
                url = ec.url,
                org = ec.org_id,
                deployment = ec.deployment,
                identity = match &ec.identity_issuer {
                    Some(issuer) => format!(
                        "identity_issuer = {issuer:?}\nidentity_key_env = \"{IDENTITY_KEY_ENV}\"\n"
                    ),
                    None => String::new(),
                },
            ),
            None => String::new(),
        };
        let telegram = match &self.telegram_api_url {
            Some(api_base) => format!(
                r#"
[[channels]]
type = "telegram"
id = "telegram"
bot_token_env = "{TELEGRAM_BOT_TOKEN_ENV}"
secret_token_env = "{TELEGRAM_SECRET_ENV}"
api_base = "{api_base}"
"#
            ),
            None => String::new(),
        };
        let store = match (self.postgres, self.shared) {
            (false, _) => String::new(),
            (true, None) => {
                format!("\n[store]\ntype = \"postgres\"\nurl_env = \"{STORE_URL_ENV}\"\n")
            }
            (true, Some((lease, wait))) => format!(
                "\n[store]\ntype = \"postgres\"\nurl_env = \"{STORE_URL_ENV}\"\nshared = true\n\
                 lease_secs = {lease:?}\ntakeover_wait_secs = {wait:?}\n"
            ),
        };
        format!(
            r#"listen = "127.0.0.1:0"
data_dir = {data_dir:?}
{store}
[admin]
listen = "127.0.0.1:0"
token_env = "{ADMIN_TOKEN_ENV}"

[live_agent]
endpoint = "{la}"
organization_id = "{org}"
deployment_id = "{dep}"
button_id = "{button}"
retry_delay_secs = 0.2

[conversation]
language = "{language}"
merge_window_ms = {merge}
queue_notice_interval_secs = 1

[[channels]]
type = "wechat"
id = "wechat"
app_id = "{app_id}"
app_secret_env = "{APP_SECRET_ENV}"
token_env = "{TOKEN_ENV}"
{aes}api_base = "{wx}"
{telegram}{desk}"#,
            data_dir = self.data_dir,
            la = self.live_agent_url,
            org = self.organization_id,
            dep = self.deployment_id,
            button = self.button_id,
            language = self.language,
            merge = self.merge_window_ms,
            app_id = self.app_id,
            wx = self.wechat_api_url,
        )
    }

    /// The configuration, validated like any file.
    pub fn config(&self) -> Result<Config, ConfigError> {
        Config::parse(&self.toml(), "the simulated configuration")
    }
}

/// The Telegram bot's secrets for [`App::start`](crate::app::App::start) in-process, to add to
/// [`secrets`] when the configuration has [`Simulated::with_telegram`].
pub fn telegram_secrets(bot_token: &str, secret_token: &str) -> BTreeMap<String, String> {
    [
        (TELEGRAM_BOT_TOKEN_ENV, bot_token),
        (TELEGRAM_SECRET_ENV, secret_token),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The secrets map for [`App::start`](crate::app::App::start) in-process.
pub fn secrets(
    admin_token: &str,
    app_secret: &str,
    token: &str,
    aes_key: &str,
) -> BTreeMap<String, String> {
    [
        (ADMIN_TOKEN_ENV, admin_token),
        (APP_SECRET_ENV, app_secret),
        (TOKEN_ENV, token),
        (AES_KEY_ENV, aes_key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
