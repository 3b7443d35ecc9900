//! The bridge: joins channel users to agent-desk chats through the pure
//! [`switchboard_core::conversation::Conversation`] machine. It routes; each conversation's
//! owner task (`owner.rs`) decides.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the router: one owner per conversation, started on load or on a new user |
//! | `inbound.rs` | webhooks: parse through the channel, make each event durable, answer |
//! | `logged.rs` | webhooks on the push log: append, answer, hand to the owner in log order; repeats in flight |
//! | `owner.rs` | the owner task: mailbox, timer, one unit of work per step, then act |
//! | `lanes.rs` | performing one queued action (desk request, or one delivery attempt) for an owner |
//! | `session_events.rs` | the engine's outbox changes, routed to the owners |
//! | `shards.rs` | several instances: taking up and giving up a shard's conversations; pushes for shards held elsewhere |
//! | `lifecycle.rs` | one `info` line per chat step |
//!
//! Everything that crosses it is durable first: a webhook's events are stored with their
//! dedupe keys before the platform gets its reply; a conversation's outputs become actions in
//! a durable queue (one lane towards the agent, one towards the user) before any is performed;
//! desk events are taken from the engine's outbox and acknowledged only after the conversation
//! has stored what they caused.

mod inbound;
mod lanes;
mod lifecycle;
mod logged;
mod owner;
mod session_events;
mod shards;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_channels::Channel;
use switchboard_core::conversation::ConversationConfig;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::warn;

use crate::clock;
use crate::engine::Engine;
use crate::store::push_log::{PushLog, Recovered};
use crate::store::{ConversationId, Store, StoreError};
use owner::{Command, Mailbox, Owner};
pub use shards::{ForwardedPush, Forwarder};

pub use inbound::WebhookOutcome;

/// The bridge could not do something.
#[derive(Debug, Clone, Error)]
pub enum BridgeError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No channel with this id is configured.
    #[error("no channel {0:?} is configured")]
    UnknownChannel(String),
    /// No such conversation.
    #[error("no conversation {0:?}")]
    UnknownConversation(String),
    /// The conversation has no live chat to end.
    #[error("conversation {0:?} has no live chat")]
    NoLiveChat(String),
    /// The bridge is stopping.
    #[error("the gateway is stopping")]
    Stopped,
    /// The conversation's shard is served by another instance (several instances).
    #[error("conversation {0} is served by another instance")]
    ServedElsewhere(String),
}

/// A conversation as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConversationSummary {
    /// `{channel}:{user}`.
    pub id: String,
    /// Channel id.
    pub channel: String,
    /// The chat the conversation is in, if any.
    pub live_chat: Option<String>,
    /// Whether a chat is live.
    pub chatting: bool,
    /// Chats started so far.
    pub chats: u64,
    /// Actions waiting towards the agent and towards the user.
    pub pending: (usize, usize),
}

/// How a webhook's pushes are made durable before the platform hears that they are safe.
pub enum Intake {
    /// Each push's owner commits and flushes the step it causes first.
    Committed,
    /// The push log holds them first (one `fdatasync` for many pushes); each owner takes its
    /// pushes in afterwards, in log order. `recovered` are the pushes a previous run logged,
    /// taken in again at start.
    Logged {
        /// The log.
        log: PushLog,
        /// What the log held at open.
        recovered: Vec<Recovered>,
    },
    /// Several instances: as `Committed` for the shards this instance serves; pushes for the
    /// others go to the forwarder, which says which shards are served here.
    Shared(Arc<dyn Forwarder>),
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Intake::Committed => "Committed",
            Intake::Logged { .. } => "Logged",
            Intake::Shared(_) => "Shared",
        })
    }
}

/// One configured channel: its adapter and the conversation settings of its users.
#[derive(Clone)]
pub struct BridgeChannel {
    /// The adapter.
    pub adapter: Arc<dyn Channel>,
    /// Settings for this channel's conversations.
    pub conversation: ConversationConfig,
}

impl std::fmt::Debug for BridgeChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeChannel")
            .field("kind", &self.adapter.kind())
            .finish_non_exhaustive()
    }
}

/// The running bridge. Cheap to clone.
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    engine: Engine,
    store: Arc<dyn Store>,
    channels: BTreeMap<String, BridgeChannel>,
    /// Each conversation's owner: its mailbox and its task.
    owners: Mutex<HashMap<String, (Mailbox, JoinHandle<()>)>>,
    stopping: tokio::sync::watch::Sender<bool>,
    latency: crate::metrics::DeliveryLatency,
    background: Mutex<Vec<JoinHandle<()>>>,
    /// Several instances: which shards this one serves, and where other shards' pushes go.
    forwarder: Option<Arc<dyn Forwarder>>,
    /// One instance on the embedded store: where pushes are made durable first.
    push_log: Option<PushLog>,
    /// Logged pushes their owners have not taken in yet.
    in_flight: logged::InFlight,
}

impl Bridge {
    /// Loads every stored conversation and gives each its owner (which resumes its pending
    /// actions and timers), then starts routing the engine's session events.
    pub fn start(
        engine: Engine,
        store: Arc<dyn Store>,
        channels: BTreeMap<String, BridgeChannel>,
    ) -> Result<Bridge, BridgeError> {
        Self::start_with(engine, store, channels, Intake::Committed)
    }

    /// As [`Bridge::start`], with pushes made durable as `intake` says. With
    /// [`Intake::Shared`] (one of several instances), conversations of the shards the forwarder
    /// says this instance holds are served here (the rest are adopted shard by shard,
    /// [`Bridge::adopt_shard`]). With [`Intake::Logged`], the recovered pushes go to their
    /// owners before anything else.
    pub fn start_with(
        engine: Engine,
        store: Arc<dyn Store>,
        channels: BTreeMap<String, BridgeChannel>,
        intake: Intake,
    ) -> Result<Bridge, BridgeError> {
        let (forwarder, push_log, recovered) = match intake {
            Intake::Committed => (None, None, Vec::new()),
            Intake::Logged { log, recovered } => (None, Some(log), recovered),
            Intake::Shared(forwarder) => (Some(forwarder), None, Vec::new()),
        };
        let (stopping, _) = tokio::sync::watch::channel(false);
        let bridge = Bridge {
            inner: Arc::new(Inner {
                engine,
                store,
                channels,
                owners: Mutex::new(HashMap::new()),
                stopping,
                latency: crate::metrics::DeliveryLatency::default(),
                background: Mutex::new(Vec::new()),
                forwarder,
                push_log,
                in_flight: logged::InFlight::default(),
            }),
        };
        for (id, record) in bridge.inner.store.load_conversations()? {
            let mut owners = lock(&bridge.inner.owners);
            let (mailbox, commands) = mpsc::unbounded_channel();
            let owner = Owner::restored(bridge.clone(), id.clone(), record);
            let task = tokio::spawn(owner.run(commands));
            owners.insert(id.0, (mailbox, task));
        }
        bridge.take_recovered(recovered);
        bridge.spawn_background();
        Ok(bridge)
    }

    /// Every conversation, sorted by id.
    pub async fn conversations(&self) -> Vec<ConversationSummary> {
        let mailboxes: Vec<Mailbox> = lock(&self.inner.owners)
            .values()
            .map(|(mailbox, _)| mailbox.clone())
            .collect();
        let mut out = Vec::with_capacity(mailboxes.len());
        for mailbox in mailboxes {
            let (reply, summary) = oneshot::channel();
            if mailbox.send(Command::Summary { reply }).is_ok()
                && let Ok(summary) = summary.await
            {
                out.push(summary);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Ends the conversation's live chat, as if the user had asked.
    pub async fn end_conversation(&self, id: &str) -> Result<(), BridgeError> {
        let mailbox = self
            .mailbox(id)
            .ok_or_else(|| BridgeError::UnknownConversation(id.to_owned()))?;
        let (reply, done) = oneshot::channel();
        mailbox
            .send(Command::End { reply })
            .map_err(|_| BridgeError::Stopped)?;
        done.await.map_err(|_| BridgeError::Stopped)?
    }

    /// Delivery latency to users, as Prometheus text.
    pub fn delivery_latency(&self) -> String {
        self.inner.latency.render()
    }

    /// Stops the owners and the background tasks, waiting (up to 10 s) for each owner to finish
    /// the step it is on. Pending actions stay stored and resume on the next start.
    pub async fn shutdown(&self) {
        let _ = self.inner.stopping.send(true);
        let background = std::mem::take(&mut *lock(&self.inner.background));
        for task in background {
            let _ = task.await;
        }
        let owners: Vec<JoinHandle<()>> = lock(&self.inner.owners)
            .drain()
            .map(|(_, (_, task))| task)
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for task in owners {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
        if let Some(log) = &self.inner.push_log {
            // Every push logged so far reached its owner, which stored it or kept it pinned:
            // what is applied goes, so a clean stop leaves nothing to read again.
            log.close().await;
            if let Err(e) = log.prune_done(self.inner.store.as_ref()).await {
                warn!(error = %e, "push log not pruned at shutdown");
            }
        }
    }

    /// The conversation settings of `channel` (the defaults for a channel no longer configured).
    pub(crate) fn config_for(&self, channel: &str) -> ConversationConfig {
        self.inner
            .channels
            .get(channel)
            .map(|c| c.conversation.clone())
            .unwrap_or_default()
    }

    /// The channel's kind as a word (`wechat`), for the conversation's user record.
    pub(crate) fn channel_kind(&self, channel: &str) -> String {
        self.inner.channels.get(channel).map_or_else(
            || "channel".to_owned(),
            |c| format!("{:?}", c.adapter.kind()).to_lowercase(),
        )
    }

    fn mailbox(&self, id: &str) -> Option<Mailbox> {
        lock(&self.inner.owners)
            .get(id)
            .map(|(mailbox, _)| mailbox.clone())
    }

    /// The owner of `channel`'s user `user`, started if the conversation is new (the user then
    /// named `name`, when the platform gave one).
    fn mailbox_or_new(
        &self,
        channel: &str,
        user: &str,
        name: Option<&str>,
    ) -> Result<Mailbox, BridgeError> {
        if *self.inner.stopping.borrow() {
            return Err(BridgeError::Stopped);
        }
        let id = ConversationId::of(channel, user);
        let mut owners = lock(&self.inner.owners);
        if let Some((mailbox, _)) = owners.get(&id.0) {
            return Ok(mailbox.clone());
        }
        // Several instances: a conversation of a shard not served here (any more, or not yet)
        // is not started afresh here; its push goes to the shard's owner.
        if self.served_elsewhere(&id) {
            return Err(BridgeError::ServedElsewhere(id.0));
        }
        let (mailbox, commands) = mpsc::unbounded_channel();
        let owner = Owner::new(self.clone(), id.clone(), channel, user, name);
        let task = tokio::spawn(owner.run(commands));
        owners.insert(id.0, (mailbox.clone(), task));
        Ok(mailbox)
    }

    fn spawn_background(&self) {
        let (a, b, c) = (self.clone(), self.clone(), self.clone());
        let mut tasks = vec![
            tokio::spawn(async move { a.route_desk_events().await }),
            tokio::spawn(async move { b.prune_dedupe_keys().await }),
        ];
        if self.inner.push_log.is_some() {
            tasks.push(tokio::spawn(async move { c.prune_push_log().await }));
        }
        lock(&self.inner.background).extend(tasks);
    }

    /// Deletes the push log's segments once their pushes are all stored.
    async fn prune_push_log(&self) {
        let Some(log) = &self.inner.push_log else {
            return;
        };
        let mut stopping = self.inner.stopping.subscribe();
        loop {
            tokio::select! {
                () = log.ready() => {
                    if let Err(e) = log.prune_done(self.inner.store.as_ref()).await {
                        warn!(error = %e, "push log not pruned");
                    }
                }
                _ = stopping.changed() => return,
            }
        }
    }

    /// WeChat retries a push within seconds; dedupe keys older than [`DEDUPE_KEEP`] are
    /// dropped hourly so the store does not grow without bound.
    async fn prune_dedupe_keys(&self) {
        let mut stopping = self.inner.stopping.subscribe();
        loop {
            let cutoff = clock::now()
                .as_millis()
                .saturating_sub(DEDUPE_KEEP.as_millis() as u64);
            match self.inner.store.prune_webhook_keys(cutoff) {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "old dedupe keys pruned"),
                Err(e) => warn!(error = %e, "old dedupe keys not pruned"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = stopping.changed() => return,
            }
        }
    }
}

/// How long a webhook's dedupe key is kept.
pub const DEDUPE_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
