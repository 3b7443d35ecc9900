//! The store conformance suite (`switchboard_engine::store::conformance`) against every store:
//! sled on a real disk (reopened as a restarted process would: closed without a flush, opened
//! again), PostgreSQL on a real server (a database per store; reopened after its connection is
//! gone, unflushed units with it), the in-memory store, and — to show the suite can fail — a
//! store whose session commit drops its outbox half.

mod support;

use switchboard_engine::store::conformance::{self, Backend};
use switchboard_engine::store::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, Lane,
    MemoryStore, OutboxEntry, OutboxEvent, PgStore, SessionRecord, SledStore, Store, StoreError,
    WebhookKey,
};

/// sled in a temporary directory per store.
#[derive(Default)]
struct Sled {
    dirs: Vec<tempfile::TempDir>,
}

impl Backend for Sled {
    type Store = SledStore;

    async fn fresh(&mut self) -> SledStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path()).expect("sled opens");
        self.dirs.push(dir);
        store
    }

    async fn reopen(&mut self, store: SledStore) -> SledStore {
        drop(store);
        let dir = self.dirs.last().expect("a store was opened");
        // The lock goes with the last handle; the flusher may still hold one for a moment.
        for _ in 0..200 {
            match SledStore::open(dir.path()) {
                Ok(store) => return store,
                Err(StoreError::Locked(_)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => panic!("sled reopens: {e}"),
            }
        }
        panic!("sled stayed locked after its last handle was dropped");
    }
}

/// PostgreSQL: a fresh database on the test server per store.
#[derive(Default)]
struct Postgres {
    urls: Vec<String>,
}

impl Backend for Postgres {
    type Store = PgStore;

    async fn fresh(&mut self) -> PgStore {
        let url = support::postgres::fresh_database().await;
        let store = PgStore::open(&url)
            .await
            .expect("the PostgreSQL store opens");
        self.urls.push(url);
        store
    }

    async fn reopen(&mut self, store: PgStore) -> PgStore {
        drop(store);
        let url = self.urls.last().expect("a store was opened");
        // The lock goes with the dropped store's connection, once the server has seen it close.
        for _ in 0..200 {
            match PgStore::open(url).await {
                Ok(store) => return store,
                Err(StoreError::Locked(_)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => panic!("PostgreSQL reopens: {e}"),
            }
        }
        panic!("the PostgreSQL store stayed locked after its last handle was dropped");
    }
}

struct Memory;

impl Backend for Memory {
    type Store = MemoryStore;

    async fn fresh(&mut self) -> MemoryStore {
        MemoryStore::new()
    }

    async fn reopen(&mut self, store: MemoryStore) -> MemoryStore {
        store.reopen()
    }
}

#[tokio::test]
async fn the_sled_store_passes_the_conformance_suite() {
    conformance::run(&mut Sled::default()).await;
}

#[tokio::test]
async fn the_postgres_store_passes_the_conformance_suite() {
    conformance::run(&mut Postgres::default()).await;
}

#[tokio::test]
async fn a_second_process_on_one_postgres_database_is_refused() {
    let url = support::postgres::fresh_database().await;
    let first = PgStore::open(&url).await.expect("the first opens");
    let second = PgStore::open(&url).await;
    assert!(
        matches!(second, Err(StoreError::Locked(ref at)) if at.contains("PostgreSQL")),
        "{second:?}"
    );
    drop(first);
}

#[tokio::test]
async fn the_memory_store_passes_the_conformance_suite() {
    conformance::run(&mut Memory).await;
}

/// A deliberately broken store: its session commit stores the record but drops the events.
struct DropsOutbox(MemoryStore);

#[async_trait::async_trait]
impl Store for DropsOutbox {
    fn load_sessions(&self) -> Result<Vec<(ChatId, SessionRecord)>, StoreError> {
        self.0.load_sessions()
    }
    fn commit_session(
        &self,
        chat: &ChatId,
        record: &SessionRecord,
        _events: &[OutboxEvent],
        done: Option<&ActionId>,
    ) -> Result<(), StoreError> {
        self.0.commit_session(chat, record, &[], done)
    }
    fn load_session(&self, chat: &ChatId) -> Result<Option<SessionRecord>, StoreError> {
        self.0.load_session(chat)
    }
    fn has_session(&self, chat: &ChatId) -> Result<bool, StoreError> {
        self.0.has_session(chat)
    }
    fn outbox(&self, chat: &ChatId) -> Result<Vec<OutboxEntry>, StoreError> {
        self.0.outbox(chat)
    }
    fn ack_outbox(&self, chat: &ChatId, seq: u64) -> Result<(), StoreError> {
        self.0.ack_outbox(chat, seq)
    }
    fn remove_session(&self, chat: &ChatId) -> Result<(), StoreError> {
        self.0.remove_session(chat)
    }
    fn load_conversations(&self) -> Result<Vec<(ConversationId, ConversationRecord)>, StoreError> {
        self.0.load_conversations()
    }
    fn commit_conversation(&self, unit: &ConversationUnit<'_>) -> Result<(), StoreError> {
        self.0.commit_conversation(unit)
    }
    fn first_action(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<Option<(ActionId, Action)>, StoreError> {
        self.0.first_action(conversation, lane)
    }
    fn count_actions(
        &self,
        conversation: &ConversationId,
        lane: Lane,
    ) -> Result<usize, StoreError> {
        self.0.count_actions(conversation, lane)
    }
    fn remove_action(&self, id: &ActionId) -> Result<(), StoreError> {
        self.0.remove_action(id)
    }
    fn webhook_seen(&self, key: &WebhookKey) -> Result<bool, StoreError> {
        self.0.webhook_seen(key)
    }
    fn prune_webhook_keys(&self, before_ms: u64) -> Result<usize, StoreError> {
        self.0.prune_webhook_keys(before_ms)
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.0.flush().await
    }
}

struct Broken;

impl Backend for Broken {
    type Store = DropsOutbox;

    async fn fresh(&mut self) -> DropsOutbox {
        DropsOutbox(MemoryStore::new())
    }

    async fn reopen(&mut self, store: DropsOutbox) -> DropsOutbox {
        DropsOutbox(store.0.reopen())
    }
}

#[tokio::test]
async fn the_suite_fails_a_store_whose_commit_drops_its_outbox_half() {
    let run = tokio::spawn(async { conformance::run(&mut Broken).await });
    let failure = run.await.expect_err("the suite must fail this store");
    let message = failure
        .into_panic()
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(
        message.contains("a session commit stores its events"),
        "the failure names the broken rule: {message}"
    );
}
