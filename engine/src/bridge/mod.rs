//! The bridge: joins channel users to Live Agent chats through the pure
//! [`switchboard_core::conversation::Conversation`] machine.
//!
//! Everything that crosses it is durable first: a webhook's events are stored with their
//! dedupe keys before the platform gets its reply; a conversation's outputs become actions in
//! a durable queue (one lane towards the agent, one towards the user) before any is performed;
//! session events are taken from the engine's outbox and acknowledged only after the
//! conversation has stored what they caused.

mod inbound;
mod lanes;
mod lifecycle;
mod session_events;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_channels::Channel;
use switchboard_core::conversation::{
    Conversation, ConversationConfig, Input as ConvInput, Output as ConvOutput, UserRef,
};
use switchboard_core::time::Timestamp;
use thiserror::Error;
use tracing::warn;

use crate::clock;
use crate::engine::Engine;
use crate::store::{
    ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, Lane, Store,
    StoreError, WebhookKey,
};

use crate::store::Action;
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

pub(crate) struct Entry {
    conversation: Conversation,
    record: ConversationRecord,
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
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
    running: Mutex<HashSet<(String, Lane)>>,
    deadlines: Mutex<BTreeMap<String, Timestamp>>,
    stopping: tokio::sync::watch::Sender<bool>,
    latency: crate::metrics::DeliveryLatency,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Bridge {
    /// Loads every stored conversation, restarts their pending actions and starts taking
    /// session events from the engine.
    pub fn start(
        engine: Engine,
        store: Arc<dyn Store>,
        channels: BTreeMap<String, BridgeChannel>,
    ) -> Result<Bridge, BridgeError> {
        let (stopping, _) = tokio::sync::watch::channel(false);
        let bridge = Bridge {
            inner: Arc::new(Inner {
                engine,
                store,
                channels,
                entries: Mutex::new(HashMap::new()),
                running: Mutex::new(HashSet::new()),
                deadlines: Mutex::new(BTreeMap::new()),
                stopping,
                latency: crate::metrics::DeliveryLatency::default(),
                background: Mutex::new(Vec::new()),
            }),
        };
        let now = clock::now();
        for (ConversationId(id), record) in bridge.inner.store.load_conversations()? {
            let config = bridge.config_for(&record.channel);
            let conversation = Conversation::restore(config, record.snapshot.clone(), now);
            if let Some(at) = conversation.poll_timeout() {
                lock(&bridge.inner.deadlines).insert(id.clone(), at);
            }
            lock(&bridge.inner.entries).insert(
                id.clone(),
                Arc::new(tokio::sync::Mutex::new(Entry {
                    conversation,
                    record,
                })),
            );
            bridge.wake(&id, Lane::Session);
            bridge.wake(&id, Lane::User);
        }
        bridge.spawn_background();
        Ok(bridge)
    }

    /// Every conversation, sorted by id.
    pub async fn conversations(&self) -> Vec<ConversationSummary> {
        let entries: Vec<(String, Arc<tokio::sync::Mutex<Entry>>)> = lock(&self.inner.entries)
            .iter()
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for (id, entry) in entries {
            let entry = entry.lock().await;
            out.push(ConversationSummary {
                pending: (
                    self.pending(&id, Lane::Session),
                    self.pending(&id, Lane::User),
                ),
                channel: entry.record.channel.clone(),
                live_chat: entry.record.live_chat.as_ref().map(|c| c.0.clone()),
                chatting: entry.conversation.has_live_chat(),
                chats: entry.record.chats,
                id,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Ends the conversation's live chat, as if the user had asked.
    pub async fn end_conversation(&self, id: &str) -> Result<(), BridgeError> {
        let entry = self
            .entry(id)
            .ok_or_else(|| BridgeError::UnknownConversation(id.to_owned()))?;
        let mut entry = entry.lock().await;
        if !entry.conversation.has_live_chat() {
            return Err(BridgeError::NoLiveChat(id.to_owned()));
        }
        let applied = self.apply(id, &mut entry, Some(ConvInput::EndChat), None, None);
        drop(entry);
        applied?;
        self.inner.store.flush().await?;
        self.wake(id, Lane::Session);
        self.wake(id, Lane::User);
        Ok(())
    }

    /// Delivery latency to users, as Prometheus text.
    pub fn delivery_latency(&self) -> String {
        self.inner.latency.render()
    }

    /// Stops the background tasks and the workers, waiting (up to 10 s) for each to finish the
    /// step it is on. Pending actions stay stored and resume on the next start.
    pub async fn shutdown(&self) {
        let _ = self.inner.stopping.send(true);
        let background = std::mem::take(&mut *lock(&self.inner.background));
        for task in background {
            let _ = task.await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !lock(&self.inner.running).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The conversation settings of `channel` (the defaults for a channel no longer configured).
    fn config_for(&self, channel: &str) -> ConversationConfig {
        self.inner
            .channels
            .get(channel)
            .map(|c| c.conversation.clone())
            .unwrap_or_default()
    }

    fn entry(&self, id: &str) -> Option<Arc<tokio::sync::Mutex<Entry>>> {
        lock(&self.inner.entries).get(id).cloned()
    }

    fn entry_or_new(&self, channel: &str, user: &str) -> (String, Arc<tokio::sync::Mutex<Entry>>) {
        let id = format!("{channel}:{user}");
        let mut entries = lock(&self.inner.entries);
        let entry = entries
            .entry(id.clone())
            .or_insert_with(|| {
                let conversation = Conversation::new(
                    self.config_for(channel),
                    UserRef {
                        id: user.to_owned(),
                        nickname: None,
                        channel: channel_kind(&self.inner.channels, channel),
                    },
                    clock::now(),
                );
                Arc::new(tokio::sync::Mutex::new(Entry {
                    record: ConversationRecord {
                        snapshot: conversation.snapshot().clone(),
                        channel: channel.to_owned(),
                        user: user.to_owned(),
                        chats: 0,
                        live_chat: None,
                        taken: None,
                        next_action: 0,
                    },
                    conversation,
                }))
            })
            .clone();
        (id, entry)
    }

    /// Feeds `input` (if any) to the conversation, turns its outputs into queued actions and
    /// commits the record, the actions, the webhook key `seen` and the removal of `done` as one
    /// unit. The caller flushes and wakes the lanes.
    fn apply(
        &self,
        id: &str,
        entry: &mut Entry,
        input: Option<ConvInput>,
        seen: Option<WebhookKey>,
        done: Option<ActionId>,
    ) -> Result<(), BridgeError> {
        let saved = entry.record.clone();
        let result = self.apply_unsaved(id, entry, input, seen, done);
        if result.is_err() {
            // Nothing was stored: forget what the input did, so a retry starts from the same
            // state (a half-applied input would otherwise lose its outputs for good).
            entry.conversation = Conversation::restore(
                self.config_for(&saved.channel),
                saved.snapshot.clone(),
                clock::now(),
            );
            entry.record = saved;
        }
        result
    }

    fn apply_unsaved(
        &self,
        id: &str,
        entry: &mut Entry,
        input: Option<ConvInput>,
        seen: Option<WebhookKey>,
        done: Option<ActionId>,
    ) -> Result<(), BridgeError> {
        let now = clock::now();
        let conversation = ConversationId(id.to_owned());
        if let Some(input) = input
            && let Err(e) = entry.conversation.handle(input, now)
        {
            warn!(conversation = id, error = %e, "input refused by the conversation");
        }
        let mut actions = Vec::new();
        while let Some(output) = entry.conversation.poll_output() {
            match output {
                ConvOutput::StartChat(request) => {
                    entry.record.chats += 1;
                    let chat = ChatId::nth(&conversation, entry.record.chats);
                    lifecycle::chat_requested(id, &chat);
                    entry.record.live_chat = Some(chat.clone());
                    actions.push(Action::StartChat(chat, request));
                }
                ConvOutput::Desk(request) => match &entry.record.live_chat {
                    Some(chat) => actions.push(Action::Desk(chat.clone(), request)),
                    None => warn!(conversation = id, "visitor action without a chat; dropped"),
                },
                ConvOutput::Send {
                    id: delivery,
                    message,
                } => {
                    actions.push(Action::Send(delivery, message));
                }
                ConvOutput::Persist => {}
            }
        }
        if !entry.conversation.has_live_chat() && actions.iter().all(|a| a.lane() == Lane::User) {
            // The chat is over: nothing more goes to it, and it need not be watched.
            entry.record.live_chat = None;
        }
        entry.record.snapshot = entry.conversation.snapshot().clone();
        let mut enqueue = Vec::with_capacity(actions.len());
        for action in actions {
            let action_id = ActionId {
                conversation: conversation.clone(),
                lane: action.lane(),
                seq: entry.record.next_action,
            };
            entry.record.next_action += 1;
            enqueue.push((action_id, action));
        }
        self.inner.store.commit_conversation(&ConversationUnit {
            id: &conversation,
            record: &entry.record,
            enqueue,
            seen: seen.map(|key| (key, now.as_millis())),
            done,
        })?;
        match entry.conversation.poll_timeout() {
            Some(at) => lock(&self.inner.deadlines).insert(id.to_owned(), at),
            None => lock(&self.inner.deadlines).remove(id),
        };
        Ok(())
    }

    fn pending(&self, id: &str, lane: Lane) -> usize {
        self.inner
            .store
            .count_actions(&ConversationId(id.to_owned()), lane)
            .unwrap_or_default()
    }

    fn spawn_background(&self) {
        let (a, b, c) = (self.clone(), self.clone(), self.clone());
        let tasks = vec![
            tokio::spawn(async move { a.take_session_events().await }),
            tokio::spawn(async move { b.fire_timers().await }),
            tokio::spawn(async move { c.prune_dedupe_keys().await }),
        ];
        lock(&self.inner.background).extend(tasks);
    }

    /// WeChat retries a push within seconds; dedupe keys older than [`DEDUPE_KEEP`] are
    /// dropped hourly so the `inbox` tree does not grow without bound.
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

    /// Feeds `Timeout` to conversations whose timer is due (agent-line merging, notices).
    async fn fire_timers(&self) {
        let mut stopping = self.inner.stopping.subscribe();
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stopping.changed() => return,
            }
            let now = clock::now();
            let due: Vec<String> = lock(&self.inner.deadlines)
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in due {
                let Some(entry) = self.entry(&id) else {
                    continue;
                };
                let mut entry = entry.lock().await;
                let applied = self.apply(&id, &mut entry, Some(ConvInput::Timeout), None, None);
                drop(entry);
                if let Err(e) = applied {
                    warn!(conversation = id, error = %e, "timer not applied");
                    continue;
                }
                if self.inner.store.flush().await.is_ok() {
                    self.wake(&id, Lane::Session);
                    self.wake(&id, Lane::User);
                }
            }
        }
    }
}

/// How long a webhook's dedupe key is kept.
pub const DEDUPE_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

fn channel_kind(channels: &BTreeMap<String, BridgeChannel>, channel: &str) -> String {
    channels.get(channel).map_or_else(
        || "channel".to_owned(),
        |c| format!("{:?}", c.adapter.kind()).to_lowercase(),
    )
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
