//! `[agent_desk]` and `[enhanced_chat]`: which Salesforce desk new chats go to, and the
//! Enhanced Chat deployment. `[live_agent]` stays where it was (`mod.rs`) and keeps its fields.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use switchboard_core::enhanced::chat::EnhancedConfig;
use switchboard_core::enhanced::wire::Deployment;

use super::{Config, ConfigError, invalid};
use crate::engine::EnhancedSettings;
use crate::enhanced_client::ScrtUrl;

/// `[agent_desk]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDeskConfig {
    /// The desk new chats start at. Chats already running at the other one finish there.
    #[serde(rename = "type", default)]
    pub kind: DeskType,
}

/// The desks Switchboard speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskType {
    /// Salesforce Legacy Chat (Live Agent), `[live_agent]`.
    #[default]
    LiveAgent,
    /// Salesforce Enhanced Chat (Messaging for In-App and Web), `[enhanced_chat]`.
    EnhancedChat,
}

/// `[enhanced_chat]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnhancedChatConfig {
    /// The deployment's SCRT URL (`https://{MyDomain}.my.salesforce-scrt.com`).
    pub url: String,
    /// Org id (`00D…`, 15 or 18 characters).
    pub org_id: String,
    /// The Custom Client deployment's API name (`esDeveloperName`).
    pub deployment: String,
    /// Routing attributes every conversation is created with (pre-chat field → value).
    #[serde(default)]
    pub routing_attributes: BTreeMap<String, String>,
    /// The pre-chat field that gets the visitor's name.
    #[serde(default)]
    pub name_field: Option<String>,
    /// Pre-chat field per visitor detail (`"WeChat OpenID" = "WeChat_OpenId"`).
    #[serde(default)]
    pub detail_fields: BTreeMap<String, String>,
    /// Token lifetime when the token does not say (Setup's setting; 1 hour by default).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    /// Close an anonymous chat this long before its token expires.
    #[serde(default = "default_renew_margin")]
    pub renew_margin_secs: u64,
    /// Seconds one REST request may take.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// The chat ends as unreachable after failing this long.
    #[serde(default = "default_unreachable_after")]
    pub unreachable_after_secs: u64,
    /// The event stream is reopened after this long without an event or keep-alive.
    #[serde(default = "default_stream_silence")]
    pub stream_silence_secs: u64,
    /// Verified users: the keyset's issuer (`iss`); with `identity_key_env`, every user is a
    /// verified end user whose token the gateway renews.
    #[serde(default)]
    pub identity_issuer: Option<String>,
    /// Environment variable holding the keyset's RSA private key (PKCS#8, PEM or base64 DER).
    #[serde(default)]
    pub identity_key_env: Option<String>,
}

fn default_token_lifetime() -> u64 {
    3600
}
fn default_renew_margin() -> u64 {
    300
}
fn default_request_timeout() -> u64 {
    30
}
fn default_unreachable_after() -> u64 {
    600
}
fn default_stream_silence() -> u64 {
    90
}

impl Config {
    pub(super) fn validate_desks(&self) -> Result<(), ConfigError> {
        match (self.agent_desk.kind, &self.live_agent, &self.enhanced_chat) {
            (DeskType::LiveAgent, None, _) => {
                return Err(invalid(
                    "live_agent",
                    "the section is required when agent_desk.type is \"live_agent\" (the default)",
                ));
            }
            (DeskType::EnhancedChat, _, None) => {
                return Err(invalid(
                    "enhanced_chat",
                    "the section is required when agent_desk.type is \"enhanced_chat\"",
                ));
            }
            _ => {}
        }
        if let Some(la) = &self.live_agent {
            Config::validate_live_agent(la)?;
        }
        if let Some(ec) = &self.enhanced_chat {
            ScrtUrl::parse(&ec.url).map_err(|e| invalid("enhanced_chat.url", e.to_string()))?;
            let org = ec.org_id.trim();
            if !org.starts_with("00D") || !(org.len() == 15 || org.len() == 18) {
                return Err(invalid(
                    "enhanced_chat.org_id",
                    "must be the 15- or 18-character org id (00D…)",
                ));
            }
            if ec.deployment.trim().is_empty() {
                return Err(invalid("enhanced_chat.deployment", "must not be empty"));
            }
            for (field, value) in [
                ("enhanced_chat.token_lifetime_secs", ec.token_lifetime_secs),
                (
                    "enhanced_chat.request_timeout_secs",
                    ec.request_timeout_secs,
                ),
                (
                    "enhanced_chat.unreachable_after_secs",
                    ec.unreachable_after_secs,
                ),
                ("enhanced_chat.stream_silence_secs", ec.stream_silence_secs),
            ] {
                if value == 0 {
                    return Err(invalid(field, "must be at least 1"));
                }
            }
            if ec.identity_issuer.is_some() != ec.identity_key_env.is_some() {
                return Err(invalid(
                    "enhanced_chat.identity_issuer",
                    "identity_issuer and identity_key_env go together (verified users need both)",
                ));
            }
            if ec.renew_margin_secs >= ec.token_lifetime_secs {
                return Err(invalid(
                    "enhanced_chat.renew_margin_secs",
                    "must be shorter than token_lifetime_secs",
                ));
            }
        }
        Ok(())
    }

    /// The Enhanced Chat settings, when it is the desk new chats start at.
    pub fn enhanced_settings(&self) -> Result<Option<EnhancedSettings>, ConfigError> {
        let (DeskType::EnhancedChat, Some(ec)) = (self.agent_desk.kind, &self.enhanced_chat) else {
            return Ok(None);
        };
        let url =
            ScrtUrl::parse(&ec.url).map_err(|e| invalid("enhanced_chat.url", e.to_string()))?;
        let secs = Duration::from_secs;
        let chat = EnhancedConfig {
            token_lifetime: secs(ec.token_lifetime_secs),
            renew_margin: secs(ec.renew_margin_secs),
            request_timeout: secs(ec.request_timeout_secs),
            unreachable_after: secs(ec.unreachable_after_secs),
            stream_silence: secs(ec.stream_silence_secs),
            ..EnhancedConfig::new(Deployment {
                org_id: ec.org_id.trim().to_owned(),
                es_developer_name: ec.deployment.trim().to_owned(),
                client_version: env!("CARGO_PKG_VERSION").to_owned(),
            })
        };
        Ok(Some(EnhancedSettings {
            url,
            chat,
            fixed_attributes: ec.routing_attributes.clone(),
            name_field: ec.name_field.clone(),
            detail_fields: ec.detail_fields.clone(),
            identity: None,
        }))
    }
}
