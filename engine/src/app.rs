//! The whole gateway assembled from a [`Config`]: store, engine, channels, bridge and the two
//! HTTP listeners; and its orderly shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_channels::{Capabilities, Channel};
use switchboard_core::conversation::{ConversationConfig, Forwarding, Templates};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::bridge::{Bridge, BridgeChannel, BridgeError, Intake};
pub use crate::config::Secrets;
use crate::config::{Config, ConfigError, StoreChoice, secret_from_env};
use crate::engine::{Engine, EngineConfig, EngineError};
use crate::http::limits::{ADMIN_MAX_CONNECTIONS, inbound_cap};
use crate::http::{
    AdminState, ConnectionCounters, ListenerLimits, admin_handler, public_handler, serve,
};
use crate::metrics::WebhookCounters;
use crate::store::push_log::PushLog;
use crate::store::{SledStore, Store};

/// Why the gateway did not start.
#[derive(Debug, Error)]
pub enum AppError {
    /// The configuration (or a secret it names) is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine or its store failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The bridge failed.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The Enhanced Chat settings, with the identity signer when verified users are configured
/// (its key is a secret).
pub fn enhanced_settings(
    config: &Config,
    secrets: &dyn Secrets,
) -> Result<Option<crate::engine::EnhancedSettings>, ConfigError> {
    let Some(mut settings) = config.enhanced_settings()? else {
        return Ok(None);
    };
    if let Some(ec) = &config.enhanced_chat
        && let (Some(issuer), Some(var)) = (&ec.identity_issuer, &ec.identity_key_env)
    {
        let field = "enhanced_chat.identity_key_env";
        let key = secrets.get(field, var)?;
        let signer = crate::identity::IdentitySigner::from_key_text(&key, issuer).map_err(|e| {
            ConfigError::Invalid {
                field: field.to_owned(),
                message: e.to_string(),
            }
        })?;
        settings.identity = Some(Arc::new(signer));
    }
    Ok(Some(settings))
}

/// Secrets from the process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl Secrets for EnvSecrets {
    fn get(&self, field: &str, var: &str) -> Result<String, ConfigError> {
        secret_from_env(field, var)
    }
}

/// Secrets given directly (the demo and tests).
impl Secrets for BTreeMap<String, String> {
    fn get(&self, field: &str, var: &str) -> Result<String, ConfigError> {
        self.get(var)
            .cloned()
            .ok_or_else(|| ConfigError::MissingSecret {
                field: field.to_owned(),
                var: var.to_owned(),
            })
    }
}

/// The running gateway.
#[derive(Debug)]
pub struct App {
    engine: Engine,
    bridge: Bridge,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
    /// Several instances: the task holding this one's shards.
    #[cfg(feature = "postgres")]
    cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl App {
    /// Validates secrets, opens the store, resumes sessions and conversations, and starts
    /// listening.
    pub async fn start(config: &Config, secrets: &dyn Secrets) -> Result<App, AppError> {
        let channels = build_channels(config, &conversation_config(config)?, secrets)?;
        let admin_token = secrets.get("admin.token_env", &config.admin.token_env)?;
        let inbound = inbound_connections(config)?;
        let opened = open_store(config, secrets).await?;
        let engine = Engine::with_store(
            opened.store.clone(),
            EngineConfig {
                data_dir: config.data_dir.clone(),
                live_agent: config.endpoint()?,
                session: config.session_config(),
                enhanced: enhanced_settings(config, secrets)?,
            },
        )
        .await?;
        #[cfg(feature = "postgres")]
        let (bridge, cluster) = match opened.shared {
            None => (
                Bridge::start_with(engine.clone(), opened.store, channels, opened.intake)?,
                None,
            ),
            Some((pg, settings)) => {
                let forwarder = Arc::new(crate::cluster::ClusterForwarder::new(&pg));
                engine.set_gate(forwarder.clone());
                let bridge = Bridge::start_with(
                    engine.clone(),
                    opened.store,
                    channels,
                    Intake::Shared(forwarder.clone()),
                )?;
                let cluster = crate::cluster::Cluster::start(
                    settings,
                    pg,
                    &forwarder,
                    engine.clone(),
                    bridge.clone(),
                )
                .await
                .map_err(EngineError::from)?;
                (bridge, Some(Arc::new(cluster)))
            }
        };
        #[cfg(not(feature = "postgres"))]
        let bridge = Bridge::start_with(engine.clone(), opened.store, channels, opened.intake)?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::Listen { addr, source })
        };
        let public = bind(config.listen).await?;
        let admin = bind(config.admin.listen).await?;
        let public_addr = public.local_addr().map_err(|source| AppError::Listen {
            addr: config.listen,
            source,
        })?;
        let admin_addr = admin.local_addr().map_err(|source| AppError::Listen {
            addr: config.admin.listen,
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let webhooks = Arc::new(WebhookCounters::default());
        let connections = [
            Arc::new(ConnectionCounters::default()),
            Arc::new(ConnectionCounters::default()),
        ];
        let public_bridge = bridge.clone();
        let public_counters = webhooks.clone();
        let public_task = tokio::spawn(serve(
            public,
            ListenerLimits::new(&config.http, inbound),
            connections[0].clone(),
            move |request| public_handler(public_bridge.clone(), public_counters.clone(), request),
            stopped.clone(),
        ));
        let state = AdminState {
            engine: engine.clone(),
            bridge: bridge.clone(),
            webhooks,
            connections: connections.clone(),
            token: Arc::new(admin_token),
            #[cfg(feature = "postgres")]
            cluster: cluster.clone(),
        };
        let admin_task = tokio::spawn(serve(
            admin,
            ListenerLimits::new(&config.http, ADMIN_MAX_CONNECTIONS),
            connections[1].clone(),
            move |request| admin_handler(state.clone(), request),
            stopped,
        ));
        info!(%public_addr, %admin_addr, "switchboard listening");
        Ok(App {
            engine,
            bridge,
            public_addr,
            admin_addr,
            stop,
            listeners: vec![public_task, admin_task],
            #[cfg(feature = "postgres")]
            cluster,
        })
    }

    /// Where webhooks are served.
    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    /// Where the admin API is served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The bridge.
    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// Stops accepting, lets in-flight persistence finish, flushes and returns. Sessions stay
    /// alive in Salesforce and resume on the next start.
    pub async fn shutdown(self) -> Result<(), AppError> {
        let _ = self.stop.send(true);
        for listener in self.listeners {
            let _ = listener.await;
        }
        // Hand every shard over first: the next owners take them at once.
        #[cfg(feature = "postgres")]
        if let Some(cluster) = &self.cluster {
            cluster.shutdown().await;
        }
        self.bridge.shutdown().await;
        self.engine.shutdown().await?;
        Ok(())
    }
}

/// The public listener's connection bound within this process's open-file limit.
fn inbound_connections(config: &Config) -> Result<usize, ConfigError> {
    let (nofile, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, 1024));
    let cap = inbound_cap(
        config.http.max_connections,
        nofile,
        config.http.reserved_fds,
    )?;
    info!(
        max_connections = cap,
        open_file_limit = nofile,
        "inbound connections bounded"
    );
    Ok(cap)
}

fn build_channels(
    config: &Config,
    conversation: &ConversationConfig,
    secrets: &dyn Secrets,
) -> Result<BTreeMap<String, BridgeChannel>, AppError> {
    let mut channels = BTreeMap::new();
    for (i, section) in config.channels.iter().enumerate() {
        let field = format!("channels[{i}]");
        let built = section.factory(&field)?.build(section, &field, secrets)?;
        let conversation = for_channel(conversation, &built.adapter.capabilities(), built.forward);
        channels.insert(
            section.id().to_owned(),
            BridgeChannel {
                adapter: built.adapter,
                conversation,
            },
        );
    }
    Ok(channels)
}

/// The store, and, when several instances share it, its PostgreSQL handle and how to hold
/// shards.
struct Opened {
    store: Arc<dyn Store>,
    /// How pushes are made durable (the push log beside the embedded store).
    intake: Intake,
    #[cfg(feature = "postgres")]
    shared: Option<(crate::store::PgStore, crate::cluster::ClusterSettings)>,
}

/// A default instance id: the host's name, the process id and a random suffix.
#[cfg(feature = "postgres")]
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".to_owned());
    let mut random = [0u8; 3];
    let _ = getrandom::fill(&mut random);
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}-{}-{suffix}", std::process::id())
}

/// The push log's directory under `data_dir`.
pub const PUSH_LOG_DIR: &str = "push-log";

/// The configured store, opened.
async fn open_store(config: &Config, secrets: &dyn Secrets) -> Result<Opened, AppError> {
    match config.store.resolve(secrets)? {
        StoreChoice::Sled => {
            // The store's lock first: a second process stops there, before the log.
            let store = Arc::new(SledStore::open(&config.data_dir).map_err(EngineError::from)?);
            let (log, recovered) =
                PushLog::open(&config.data_dir.join(PUSH_LOG_DIR)).map_err(EngineError::from)?;
            Ok(Opened {
                store,
                intake: Intake::Logged { log, recovered },
                #[cfg(feature = "postgres")]
                shared: None,
            })
        }
        #[cfg(feature = "postgres")]
        StoreChoice::Postgres { url } if config.store.shared => {
            let settings = crate::cluster::ClusterSettings {
                instance: config.store.instance_id.clone().unwrap_or_else(instance_id),
                lease: Duration::from_secs_f64(config.store.lease_secs),
                takeover_wait: Duration::from_secs_f64(config.store.takeover_wait_secs),
            };
            let pg = crate::store::PgStore::open_shared(&url, &settings.instance)
                .await
                .map_err(EngineError::from)?;
            info!(instance = %settings.instance, "sharing the PostgreSQL store with other instances");
            Ok(Opened {
                store: Arc::new(pg.clone()),
                // Replaced by the cluster's forwarder.
                intake: Intake::Committed,
                shared: Some((pg, settings)),
            })
        }
        #[cfg(feature = "postgres")]
        StoreChoice::Postgres { url } => Ok(Opened {
            store: Arc::new(
                crate::store::PgStore::open(&url)
                    .await
                    .map_err(EngineError::from)?,
            ),
            // A commit is durable in the database: no local log (the disk may not last).
            intake: Intake::Committed,
            shared: None,
        }),
        #[cfg(not(feature = "postgres"))]
        StoreChoice::Postgres { .. } => Err(AppError::Config(ConfigError::Invalid {
            field: "store.type".into(),
            message: "this build has no PostgreSQL store (feature \"postgres\")".into(),
        })),
    }
}

/// `base` fitted to one channel: its send window and budget, message size and typing come from
/// its capabilities, what it forwards from its section.
fn for_channel(
    base: &ConversationConfig,
    capabilities: &Capabilities,
    forward: Forwarding,
) -> ConversationConfig {
    let (window, window_budget) = match &capabilities.send_window {
        Some(window) => (
            window.duration,
            window.messages_per_interaction.unwrap_or(u32::MAX),
        ),
        None => (ConversationConfig::NO_WINDOW, u32::MAX),
    };
    ConversationConfig {
        window,
        window_budget,
        typing: capabilities.typing,
        channel_name: capabilities.name.clone(),
        user_id_label: capabilities.user_id_label.clone(),
        forward,
        ..base.clone()
    }
    .with_message_size(capabilities.max_text_bytes)
}

/// The conversation settings: built-in texts in the configured language, overridden by name.
pub fn conversation_config(config: &Config) -> Result<ConversationConfig, ConfigError> {
    let section = &config.conversation;
    let base = if section.language == "zh-CN" {
        Templates::simplified_chinese()
    } else {
        Templates::english()
    };
    let templates = if section.templates.is_empty() {
        base
    } else {
        let mut value = serde_json::to_value(&base).map_err(|e| ConfigError::Invalid {
            field: "conversation.templates".into(),
            message: e.to_string(),
        })?;
        for (name, text) in &section.templates {
            match value.get_mut(name.as_str()) {
                Some(slot) if name != "language" => *slot = serde_json::Value::String(text.clone()),
                Some(_) | None => {
                    return Err(ConfigError::Invalid {
                        field: format!("conversation.templates.{name}"),
                        message: "no template has this name (see docs/config.md)".into(),
                    });
                }
            }
        }
        serde_json::from_value(value).map_err(|e| ConfigError::Invalid {
            field: "conversation.templates".into(),
            message: e.to_string(),
        })?
    };
    Ok(ConversationConfig {
        start_keywords: section.start_keywords.clone(),
        end_keywords: section.end_keywords.clone(),
        merge_window: Duration::from_millis(section.merge_window_ms),
        queue_notice_interval: Duration::from_secs(section.queue_notice_interval_secs),
        templates,
        ..ConversationConfig::default()
    })
}
