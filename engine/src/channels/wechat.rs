//! `[[channels]] type = "wechat"`: a WeChat Official Account (`switchboard_channels::wechat`).

use std::sync::Arc;

use serde::Deserialize;
use switchboard_channels::wechat::{WeChatChannel, WeChatConfig};

use super::{BuiltChannel, ChannelFactory, ChannelSection};
use crate::config::{ConfigError, ForwardedEvent, Secrets, forwarding};

/// The section's own fields (`type` and `id` are the registry's).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeChatSection {
    /// The Official Account's AppID.
    pub app_id: String,
    /// Environment variable holding the AppSecret.
    pub app_secret_env: String,
    /// Environment variable holding the server-configuration Token.
    pub token_env: String,
    /// Environment variable holding the EncodingAESKey (omit for plaintext mode).
    #[serde(default)]
    pub encoding_aes_key_env: Option<String>,
    /// With an EncodingAESKey: also accept plaintext pushes. Only while switching the account
    /// from plaintext to compatible/safe mode (a plaintext push's signature does not cover it).
    #[serde(default)]
    pub accept_plaintext: bool,
    /// Scheme and host of the WeChat API, without `/cgi-bin/` (the simulator's URL in tests).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Events besides messages that reach the agent as chat lines.
    #[serde(default)]
    pub forward_events: Vec<ForwardedEvent>,
}

fn default_api_base() -> String {
    switchboard_channels::wechat::config::WECHAT_API_BASE.into()
}

/// Builds WeChat channels.
#[derive(Debug)]
pub struct WeChatFactory;

impl ChannelFactory for WeChatFactory {
    fn kind(&self) -> &'static str {
        "wechat"
    }

    fn validate(&self, section: &ChannelSection, field: &str) -> Result<(), ConfigError> {
        let w: WeChatSection = section.parse(field)?;
        super::check_api_base(field, &w.api_base, "https://api.weixin.qq.com")
    }

    fn secrets(&self, section: &ChannelSection, field: &str) -> Vec<(String, String)> {
        let Ok(w) = section.parse::<WeChatSection>(field) else {
            return Vec::new();
        };
        let mut vars = vec![
            (format!("{field}.app_secret_env"), w.app_secret_env),
            (format!("{field}.token_env"), w.token_env),
        ];
        if let Some(var) = w.encoding_aes_key_env {
            vars.push((format!("{field}.encoding_aes_key_env"), var));
        }
        vars
    }

    fn build(
        &self,
        section: &ChannelSection,
        field: &str,
        secrets: &dyn Secrets,
    ) -> Result<BuiltChannel, ConfigError> {
        let w: WeChatSection = section.parse(field)?;
        let name = |n: &str| format!("{field}.{n}");
        let app_secret = secrets.get(&name("app_secret_env"), &w.app_secret_env)?;
        let token = secrets.get(&name("token_env"), &w.token_env)?;
        let aes_key = match &w.encoding_aes_key_env {
            Some(var) => Some(secrets.get(&name("encoding_aes_key_env"), var)?),
            None => None,
        };
        let config = WeChatConfig::new(&w.app_id, app_secret, token, aes_key.as_deref())
            .with_api_base(&w.api_base)
            .with_accept_plaintext(w.accept_plaintext);
        let adapter = WeChatChannel::new(config).map_err(|e| ConfigError::Invalid {
            field: name("encoding_aes_key_env"),
            message: e.to_string(),
        })?;
        Ok(BuiltChannel {
            adapter: Arc::new(adapter),
            forward: forwarding(&w.forward_events),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use switchboard_core::conversation::Forwarding;

    use super::*;

    fn section(extra: &str) -> ChannelSection {
        let text = format!(
            "type = \"wechat\"\nid = \"main\"\napp_id = \"wx5823bf96d3bd56c7\"\n\
             app_secret_env = \"S\"\ntoken_env = \"T\"\n{extra}"
        );
        toml::from_str(&text).unwrap()
    }

    fn built(extra: &str) -> Result<BuiltChannel, ConfigError> {
        let secrets: BTreeMap<String, String> = [("S", "secret"), ("T", "token")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        WeChatFactory.build(&section(extra), "channels[0]", &secrets)
    }

    #[test]
    fn by_default_no_channel_event_becomes_a_chat_line() {
        assert_eq!(built("").unwrap().forward, Forwarding::default());
    }

    #[test]
    fn forward_events_chooses_the_events_that_become_chat_lines() {
        let forward = built("forward_events = [\"navigation\", \"notifications\"]")
            .unwrap()
            .forward;
        assert_eq!(
            forward,
            Forwarding {
                location_reports: false,
                navigation: true,
                notifications: true,
            }
        );
        let forward = built("forward_events = [\"location_reports\"]")
            .unwrap()
            .forward;
        assert!(forward.location_reports && !forward.navigation && !forward.notifications);
    }

    #[test]
    fn an_unknown_event_kind_is_refused_with_its_field() {
        let err = WeChatFactory
            .validate(
                &section("forward_events = [\"menu_clicks\"]"),
                "channels[0]",
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("channels[0]") && err.contains("menu_clicks"),
            "{err}"
        );
    }
}
