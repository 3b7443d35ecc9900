//! The engine's public face: open the store, resume every live chat (at whichever desk it
//! runs), start chats at the configured desk, pass requests in, and hand desk events out
//! through the durable outbox.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;

use switchboard_core::desk::{ChatStart, DeskRequest};
use switchboard_core::enhanced::chat::{EnhancedChat, EnhancedConfig, EnhancedStart};
use switchboard_core::session::{ChatRequest, Session, SessionConfig, StateKind, VisitorAction};
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::info;

use crate::clock;
use crate::driver::{Command, Driver, DriverError, EnhancedDriver, Shared};
use crate::enhanced_client::{EnhancedClient, ScrtUrl};
use crate::liveagent_client::{Endpoint, LiveAgentClient};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::registry::{DriverHandle, Registry};
use crate::store::{
    ActionId, ChatId, DeskSnapshot, OutboxEntry, SessionRecord, SledStore, Store, StoreError,
};

/// What the engine needs to run.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory of the sled database (created if missing).
    pub data_dir: PathBuf,
    /// The Live Agent visitor API endpoint, when that desk is configured.
    pub live_agent: Option<Endpoint>,
    /// Deployment ids and timings for every session.
    pub session: SessionConfig,
    /// Salesforce Enhanced Chat: when set, new chats start there (chats already running on
    /// Live Agent finish there).
    pub enhanced: Option<EnhancedSettings>,
}

/// Where and how chats reach Salesforce Enhanced Chat.
#[derive(Debug, Clone)]
pub struct EnhancedSettings {
    /// The deployment's SCRT URL.
    pub url: ScrtUrl,
    /// The deployment's ids and the conversation timings.
    pub chat: EnhancedConfig,
    /// Routing attributes every conversation is created with (pre-chat field → value).
    pub fixed_attributes: BTreeMap<String, String>,
    /// The pre-chat field that gets the visitor's name, if any.
    pub name_field: Option<String>,
    /// Pre-chat field per detail label (`WeChat OpenID` → `WeChat_OpenId`); details without
    /// one are not sent.
    pub detail_fields: BTreeMap<String, String>,
    /// Signs verified users' identity tokens; `None`: every chat is an anonymous end user.
    pub identity: Option<Arc<crate::identity::IdentitySigner>>,
}

impl EnhancedSettings {
    /// The start of `chat`'s conversation for `start`, with a fresh random conversation id (and
    /// the user's verified subject, when the gateway signs identity tokens).
    fn start(&self, chat: &ChatId, start: &ChatStart) -> Result<EnhancedStart, EngineError> {
        let mut attributes = self.fixed_attributes.clone();
        if let Some(field) = &self.name_field {
            attributes.insert(field.clone(), start.visitor_name.clone());
        }
        for detail in &start.details {
            if let Some(field) = self.detail_fields.get(&detail.label) {
                attributes.insert(field.clone(), detail.value.clone());
            }
        }
        Ok(EnhancedStart {
            conversation_id: random_uuid()?,
            verified_subject: match (&self.identity, chat.conversation()) {
                (Some(signer), Some(conversation)) => Some(signer.subject_for(&conversation)),
                _ => None,
            },
            routing_attributes: attributes,
            language: (!start.language.is_empty()).then(|| start.language.replace('-', "_")),
        })
    }
}

/// A random lowercase v4 UUID (§5.1 of the Enhanced Chat spec).
fn random_uuid() -> Result<String, EngineError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| EngineError::Random(e.to_string()))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// A chat's desk machine, as the engine holds it before its driver starts.
enum DeskMachine {
    LiveAgent(Session),
    Enhanced(EnhancedChat),
}

/// Why the engine refused something.
#[derive(Debug, Clone, Error)]
pub enum EngineError {
    /// The store failed or is held by another engine.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No live session for this chat.
    #[error("no live session for chat {0}")]
    UnknownChat(ChatId),
    /// The chat already has a live session.
    #[error("chat {0} already has a live session")]
    AlreadyLive(ChatId),
    /// Chat ids must be non-empty and free of NUL bytes.
    #[error("invalid chat id {0:?}: it must be non-empty and contain no NUL byte")]
    InvalidChatId(String),
    /// The session's driver refused the action or stopped.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// A Live Agent chat was asked for, but Live Agent is not configured.
    #[error("Live Agent is not configured")]
    LiveAgentNotConfigured,
    /// A stored chat runs at a desk this engine is not configured for.
    #[error("chat {0} runs on Enhanced Chat, which is not configured")]
    DeskNotConfigured(ChatId),
    /// No random bytes for a conversation id.
    #[error("no randomness for a conversation id: {0}")]
    Random(String),
}

/// The running engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("chats", &self.inner.registry.chats().len())
            .finish()
    }
}

struct Inner {
    shared: Arc<Shared>,
    registry: Registry,
    session_config: SessionConfig,
    enhanced: Option<EnhancedSettings>,
    tasks: Mutex<Tasks>,
    /// Set by `shutdown`: no new driver may start.
    closing: std::sync::atomic::AtomicBool,
}

impl Engine {
    /// Opens the store (taking its lock: a second engine on the same store is refused) and
    /// resumes every session that had not ended, with its stored key, affinity token and `ack`.
    pub async fn open(config: EngineConfig) -> Result<Engine, EngineError> {
        let store = SledStore::open(&config.data_dir)?;
        Self::with_store(Arc::new(store), config).await
    }

    /// Like [`open`](Self::open) with any [`Store`].
    pub async fn with_store(
        store: Arc<dyn Store>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let (outbox_changed, _) = broadcast::channel(1024);
        let engine = Engine {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    store,
                    client: config.live_agent.clone().map(LiveAgentClient::new),
                    enhanced: config.enhanced.as_ref().map(|e| {
                        EnhancedClient::new(
                            e.url.clone(),
                            e.chat.deployment.clone(),
                            e.identity.clone(),
                        )
                    }),
                    outbox_changed,
                    metrics: Metrics::default(),
                    gate: crate::gate::Gate::default(),
                }),
                registry: Registry::default(),
                session_config: config.session,
                enhanced: config.enhanced,
                tasks: Mutex::new(Tasks::default()),
                closing: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        let now = clock::now();
        let mut resumed = 0usize;
        for (chat, record) in engine.inner.shared.store.load_sessions()? {
            if record.snapshot.is_ended() {
                continue;
            }
            match engine.restore(&chat, record.snapshot, now) {
                Ok(machine) => {
                    engine.spawn(chat, machine, record.next_event);
                    resumed += 1;
                }
                Err(e) => tracing::error!(%chat, error = %e, "chat not resumed"),
            }
        }
        info!(resumed, "engine open");
        Ok(engine)
    }

    /// Resumes the stored live sessions of `shard` that have no driver here (this instance just
    /// took the shard over); how many.
    pub fn resume_shard(&self, shard: u16) -> Result<usize, EngineError> {
        let now = clock::now();
        let mut resumed = 0;
        for (chat, record) in self.inner.shared.store.load_sessions()? {
            if chat.shard() != shard || record.snapshot.is_ended() {
                continue;
            }
            if self.inner.registry.get(&chat).is_some() {
                continue;
            }
            match self.restore(&chat, record.snapshot, now) {
                Ok(machine) => {
                    if self.spawn(chat, machine, record.next_event) {
                        resumed += 1;
                    }
                }
                Err(e) => tracing::error!(%chat, error = %e, "chat not resumed"),
            }
        }
        Ok(resumed)
    }

    /// From now on, no desk request goes out for a chat whose shard `gate` does not allow: the
    /// chat's driver stops instead (several instances; see [`crate::gate`]).
    pub fn set_gate(&self, gate: Arc<dyn crate::gate::ShardGate>) {
        self.inner.shared.gate.set(gate);
    }

    /// Stops the drivers of `shard`'s chats (their polls and streams are abandoned; the
    /// sessions stay alive at the desk for the shard's next owner) and waits until each has
    /// ended.
    pub async fn stop_shard(&self, shard: u16) {
        let handles = self.inner.registry.take(|chat| chat.shard() == shard);
        for handle in &handles {
            let _ = handle.commands.send(Box::new(Command::Stop)).await;
        }
        for handle in handles {
            handle.commands.closed().await;
        }
    }

    /// Starts a new chat: a Live Agent session is created and the chat requested.
    pub async fn start_chat(&self, chat: ChatId, request: ChatRequest) -> Result<(), EngineError> {
        self.start_chat_once(chat, request, None).await
    }

    /// Like [`start_chat`](Self::start_chat); the new session is stored (and `done` removed
    /// from the action queue in the same unit of work) before its driver starts, so the hand-over
    /// happens exactly once across a crash.
    pub async fn start_chat_once(
        &self,
        chat: ChatId,
        request: ChatRequest,
        done: Option<ActionId>,
    ) -> Result<(), EngineError> {
        self.check_new(&chat)?;
        if self.inner.shared.client.is_none() {
            return Err(EngineError::LiveAgentNotConfigured);
        }
        let session = Session::new(self.inner.session_config.clone(), request, clock::now());
        let snapshot = DeskSnapshot::LiveAgent(session.snapshot().clone());
        self.start(chat, DeskMachine::LiveAgent(session), snapshot, done)
            .await
    }

    /// Starts a new chat at the configured desk (Enhanced Chat when set, else Live Agent),
    /// stored with `done` removed in the same unit of work before its driver starts.
    pub async fn start_desk_chat_once(
        &self,
        chat: ChatId,
        start: ChatStart,
        done: Option<ActionId>,
    ) -> Result<(), EngineError> {
        let Some(settings) = &self.inner.enhanced else {
            return self.start_chat_once(chat, start.into(), done).await;
        };
        self.check_new(&chat)?;
        let machine = EnhancedChat::new(
            settings.chat.clone(),
            settings.start(&chat, &start)?,
            clock::now(),
        );
        let snapshot = DeskSnapshot::EnhancedChat(machine.snapshot().clone());
        self.start(chat, DeskMachine::Enhanced(machine), snapshot, done)
            .await
    }

    fn check_new(&self, chat: &ChatId) -> Result<(), EngineError> {
        if chat.0.is_empty() || chat.0.contains('\0') {
            return Err(EngineError::InvalidChatId(chat.0.clone()));
        }
        if self.closing() {
            return Err(EngineError::Driver(DriverError::Stopped));
        }
        let store = &self.inner.shared.store;
        if self.inner.registry.get(chat).is_some() || store.has_session(chat)? {
            return Err(EngineError::AlreadyLive(chat.clone()));
        }
        Ok(())
    }

    async fn start(
        &self,
        chat: ChatId,
        machine: DeskMachine,
        snapshot: DeskSnapshot,
        done: Option<ActionId>,
    ) -> Result<(), EngineError> {
        let store = &self.inner.shared.store;
        let next_event = store.outbox(&chat)?.last().map_or(0, |entry| entry.seq + 1);
        let record = SessionRecord {
            snapshot,
            next_event,
        };
        store.commit_session(&chat, &record, &[], done.as_ref())?;
        store.flush().await?;
        if !self.spawn(chat.clone(), machine, next_event) {
            return Err(EngineError::AlreadyLive(chat));
        }
        Ok(())
    }

    /// The machine of a stored chat, restored for its desk.
    fn restore(
        &self,
        chat: &ChatId,
        snapshot: DeskSnapshot,
        now: switchboard_core::time::Timestamp,
    ) -> Result<DeskMachine, EngineError> {
        Ok(match snapshot {
            DeskSnapshot::LiveAgent(snapshot) => DeskMachine::LiveAgent(Session::restore(
                self.inner.session_config.clone(),
                snapshot,
                now,
            )),
            DeskSnapshot::EnhancedChat(snapshot) => {
                let settings = self
                    .inner
                    .enhanced
                    .as_ref()
                    .ok_or_else(|| EngineError::DeskNotConfigured(chat.clone()))?;
                DeskMachine::Enhanced(EnhancedChat::restore(settings.chat.clone(), snapshot, now))
            }
        })
    }

    /// Restarts the driver of a stored live session that has none in this process (its driver
    /// stopped on a store failure). `false` when there is no such session.
    fn resume(&self, chat: &ChatId) -> Result<bool, EngineError> {
        if self.closing() {
            return Err(EngineError::Driver(DriverError::Stopped));
        }
        match self.inner.shared.store.load_session(chat)? {
            Some(record) if !record.snapshot.is_ended() => {
                let machine = self.restore(chat, record.snapshot, clock::now())?;
                self.spawn(chat.clone(), machine, record.next_event);
                Ok(true)
            }
            Some(_) | None => Ok(false),
        }
    }

    fn closing(&self) -> bool {
        self.inner.closing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Passes a visitor action to the chat's session; returns once it is durable.
    pub async fn visitor(&self, chat: &ChatId, action: VisitorAction) -> Result<(), EngineError> {
        self.visitor_once(chat, action, None).await
    }

    /// Like [`visitor`](Self::visitor), also removing `done` from the action queue in the same
    /// unit of work that stores the action's effect (exactly-once hand-over from the bridge).
    pub async fn visitor_once(
        &self,
        chat: &ChatId,
        action: VisitorAction,
        done: Option<ActionId>,
    ) -> Result<(), EngineError> {
        self.command(chat, |reply| Command::Visitor(action, done, reply))
            .await
    }

    /// Passes a request in the desk vocabulary to the chat, whichever desk runs it, removing
    /// `done` from the action queue in the same unit of work that stores its effect.
    pub async fn desk_once(
        &self,
        chat: &ChatId,
        request: DeskRequest,
        done: Option<ActionId>,
    ) -> Result<(), EngineError> {
        self.command(chat, |reply| Command::Desk(request, done, reply))
            .await
    }

    async fn command(
        &self,
        chat: &ChatId,
        command: impl FnOnce(oneshot::Sender<Result<(), DriverError>>) -> Command,
    ) -> Result<(), EngineError> {
        let handle = match self.inner.registry.get(chat) {
            Some(handle) => handle,
            None if self.resume(chat)? => self
                .inner
                .registry
                .get(chat)
                .ok_or(EngineError::Driver(DriverError::Stopped))?,
            None => return Err(EngineError::UnknownChat(chat.clone())),
        };
        let (reply, answer) = oneshot::channel();
        handle
            .commands
            .send(Box::new(command(reply)))
            .await
            .map_err(|_| EngineError::Driver(DriverError::Stopped))?;
        answer
            .await
            .map_err(|_| EngineError::Driver(DriverError::Stopped))??;
        Ok(())
    }

    /// The chat's undelivered session events, oldest first.
    pub fn outbox(&self, chat: &ChatId) -> Result<Vec<OutboxEntry>, EngineError> {
        Ok(self.inner.shared.store.outbox(chat)?)
    }

    /// Forgets an ended chat whose events were all taken (keeps the store from growing).
    pub fn forget_ended(&self, chat: &ChatId) -> Result<(), EngineError> {
        let store = &self.inner.shared.store;
        let ended = store
            .load_session(chat)?
            .is_some_and(|r| r.snapshot.is_ended());
        if ended && store.outbox(chat)?.is_empty() && self.inner.registry.get(chat).is_none() {
            store.remove_session(chat)?;
        }
        Ok(())
    }

    /// Marks the chat's events up to `seq` as delivered.
    pub fn ack(&self, chat: &ChatId, seq: u64) -> Result<(), EngineError> {
        Ok(self.inner.shared.store.ack_outbox(chat, seq)?)
    }

    /// Tells the chat id each time a chat's outbox grows.
    pub fn subscribe(&self) -> broadcast::Receiver<ChatId> {
        self.inner.shared.outbox_changed.subscribe()
    }

    /// Traffic counters since the engine opened.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.shared.metrics.snapshot()
    }

    /// Live chats and their states.
    pub fn chats(&self) -> Vec<(ChatId, StateKind)> {
        self.inner.registry.chats()
    }

    /// A live chat's state.
    pub fn state(&self, chat: &ChatId) -> Option<StateKind> {
        self.inner.registry.get(chat).map(|h| *h.state.borrow())
    }

    /// Waits until the chat's state satisfies `done` (or its driver is gone).
    pub async fn wait_for_state(
        &self,
        chat: &ChatId,
        done: impl Fn(StateKind) -> bool,
    ) -> Option<StateKind> {
        let mut state = self.inner.registry.get(chat)?.state;
        state.wait_for(|s| done(*s)).await.ok().map(|s| *s)
    }

    /// Stops every driver (their sessions stay alive in Salesforce and resume on the next
    /// open), then flushes the store.
    pub async fn shutdown(self) -> Result<(), EngineError> {
        self.inner
            .closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for handle in self.inner.registry.drain() {
            let _ = handle.commands.send(Box::new(Command::Stop)).await;
        }
        let tasks = std::mem::take(&mut lock(&self.inner.tasks).handles);
        for task in tasks {
            let _ = task.await;
        }
        self.inner.shared.store.flush().await?;
        Ok(())
    }

    fn spawn(&self, chat: ChatId, machine: DeskMachine, next_event: u64) -> bool {
        if self.closing() {
            return false;
        }
        // Boxed: a channel allocates its first block of 32 slots at once, and 32 commands inline
        // were 3 KiB per chat; 32 boxes are 256 bytes.
        let (commands, commands_rx) = mpsc::channel::<Box<Command>>(64);
        let initial = match &machine {
            DeskMachine::LiveAgent(session) => session.state(),
            DeskMachine::Enhanced(chat) => crate::driver::state_of(chat),
        };
        let (state_tx, state) = watch::channel(initial);
        if !self
            .inner
            .registry
            .insert(chat.clone(), DriverHandle { commands, state })
        {
            return false;
        }
        let shared = self.inner.shared.clone();
        let driver: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = match machine {
            DeskMachine::LiveAgent(session) => {
                let Some(client) = shared.client.clone() else {
                    self.inner.registry.remove(&chat);
                    return false;
                };
                let driver = Box::new(Driver::new(
                    chat.clone(),
                    session,
                    client,
                    next_event,
                    shared,
                    commands_rx,
                    state_tx,
                ));
                Box::pin(async move {
                    let _ = driver.run().await;
                })
            }
            DeskMachine::Enhanced(machine) => {
                let Some(client) = shared.enhanced.clone() else {
                    self.inner.registry.remove(&chat);
                    return false;
                };
                let driver = Box::new(EnhancedDriver::new(
                    chat.clone(),
                    machine,
                    client,
                    next_event,
                    shared,
                    commands_rx,
                    state_tx,
                ));
                Box::pin(async move {
                    let _ = driver.run().await;
                })
            }
        };
        let inner = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            driver.await;
            if let Some(inner) = inner.upgrade() {
                inner.registry.remove(&chat);
            }
        });
        lock(&self.inner.tasks).push(task);
        true
    }
}

/// The drivers' tasks, for `shutdown` to wait on. Finished ones are dropped whenever the list
/// has doubled since the last sweep, so starting n drivers costs O(n), not O(n²).
#[derive(Default)]
struct Tasks {
    handles: Vec<JoinHandle<()>>,
    sweep_at: usize,
}

impl Tasks {
    fn push(&mut self, task: JoinHandle<()>) {
        if self.handles.len() >= self.sweep_at {
            self.handles.retain(|t| !t.is_finished());
            self.sweep_at = (self.handles.len() * 2).max(64);
        }
        self.handles.push(task);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
