//! The channel registry: an explicit list of the built-in channel types (one factory each,
//! behind its cargo feature). A factory owns its `[[channels]]` section — its fields, their
//! validation, the secrets it reads from the environment — and builds the adapter, whose
//! [`Capabilities`](switchboard_channels::Capabilities) then fit its users' conversations. The
//! configuration, the app and `switchboard check` ask the registry; none of them names a
//! channel type. A new channel is one folder under `channels/` (the adapter), one file here
//! (its section and factory) and one line in [`FACTORIES`].

#[cfg(feature = "telegram")]
mod telegram;
#[cfg(feature = "wechat")]
mod wechat;

use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use switchboard_channels::Channel;
use switchboard_core::conversation::Forwarding;

use crate::config::{ConfigError, Secrets};

/// One channel type.
pub trait ChannelFactory: Send + Sync {
    /// The `type` of its sections (`"wechat"`).
    fn kind(&self) -> &'static str;

    /// Checks a section (`field` names it in errors, e.g. `channels[0]`).
    fn validate(&self, section: &ChannelSection, field: &str) -> Result<(), ConfigError>;

    /// The secrets the section names: (field, environment variable).
    fn secrets(&self, section: &ChannelSection, field: &str) -> Vec<(String, String)>;

    /// Builds the adapter, reading its secrets.
    fn build(
        &self,
        section: &ChannelSection,
        field: &str,
        secrets: &dyn Secrets,
    ) -> Result<BuiltChannel, ConfigError>;
}

/// A configured channel, ready for the bridge.
#[derive(Clone)]
pub struct BuiltChannel {
    /// The adapter.
    pub adapter: Arc<dyn Channel>,
    /// Which of its non-message events become chat lines.
    pub forward: Forwarding,
}

impl std::fmt::Debug for BuiltChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltChannel")
            .field("kind", &self.adapter.kind())
            .field("forward", &self.forward)
            .finish()
    }
}

/// The built-in channel types, in the order `switchboard check` lists them.
pub static FACTORIES: &[&dyn ChannelFactory] = &[
    #[cfg(feature = "wechat")]
    &wechat::WeChatFactory,
    #[cfg(feature = "telegram")]
    &telegram::TelegramFactory,
];

/// The factory of `kind`, if this build has it.
pub fn factory(kind: &str) -> Option<&'static dyn ChannelFactory> {
    FACTORIES.iter().copied().find(|f| f.kind() == kind)
}

/// Checks that an `api_base` field is a scheme and host (`example` shows the real one).
#[cfg(any(feature = "wechat", feature = "telegram"))]
pub(crate) fn check_api_base(field: &str, value: &str, example: &str) -> Result<(), ConfigError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field: format!("{field}.api_base"),
            message: format!("must be a scheme and host, e.g. {example}"),
        })
    }
}

/// One `[[channels]]` entry as written: its `type`, its `id`, and the rest for its factory.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ChannelSection(toml::Table);

impl ChannelSection {
    /// The `type` (empty when missing).
    pub fn kind(&self) -> &str {
        self.0
            .get("type")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    }

    /// The id in the webhook path `/channels/{id}` (empty when missing).
    pub fn id(&self) -> &str {
        self.0
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    }

    /// The section as the factory's own type, without `type` and `id` (unknown fields are
    /// errors there).
    pub fn parse<T: DeserializeOwned>(&self, field: &str) -> Result<T, ConfigError> {
        let mut table = self.0.clone();
        table.remove("type");
        table.remove("id");
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                field: field.to_owned(),
                message: e.message().to_owned(),
            })
    }

    /// The factory of this section's type.
    pub fn factory(&self, field: &str) -> Result<&'static dyn ChannelFactory, ConfigError> {
        factory(self.kind()).ok_or_else(|| {
            let known: Vec<&str> = FACTORIES.iter().map(|f| f.kind()).collect();
            ConfigError::Invalid {
                field: format!("{field}.type"),
                message: format!(
                    "unknown channel type {:?}; this build has: {}",
                    self.kind(),
                    known.join(", ")
                ),
            }
        })
    }
}
