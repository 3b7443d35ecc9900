//! The store conformance suite: one set of checks every [`Store`] must pass (the sled store,
//! the in-memory store, and any store added later). A backend says how to get an empty store
//! and how to reopen one as a restarted process would; [`run`] then checks the rules the
//! engine relies on and panics, naming the rule, at the first one broken.
//!
//! - a session commit stores the record and its events and removes the action that caused
//!   them, together;
//! - a conversation commit stores the record, its queued actions and the webhook key, and
//!   removes its completed action, together — and a restart right after it, flushed or not,
//!   sees all of it or none of it;
//! - actions come out per lane in order; the outbox keeps order and acks a prefix;
//! - webhook keys dedupe and are pruned by age;
//! - a restart loads every committed conversation and session.

use std::future::Future;

use switchboard_core::conversation::{Conversation, ConversationConfig, ToUser, UserRef};
use switchboard_core::desk::{ChatStart, DeskRequest};
use switchboard_core::session::{ChatRequest, Session, SessionConfig, SessionEvent};
use switchboard_core::time::Timestamp;

use super::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, DeskSnapshot,
    Lane, OutboxEvent, SessionRecord, Store, WebhookKey,
};

/// How the suite gets stores of one kind.
pub trait Backend {
    /// The store under test.
    type Store: Store;
    /// An empty store.
    fn fresh(&mut self) -> impl Future<Output = Self::Store>;
    /// The store a restarted process opens; `store` (and every clone of it) is dropped first,
    /// without a flush.
    fn reopen(&mut self, store: Self::Store) -> impl Future<Output = Self::Store>;
}

/// Runs every check against `backend`.
pub async fn run<B: Backend>(backend: &mut B) {
    session_commit_stores_record_events_and_removes_the_done_action(backend).await;
    conversation_commit_is_all_or_nothing_across_a_restart(backend).await;
    actions_come_out_per_lane_in_order(backend).await;
    outbox_keeps_order_and_acks_a_prefix(backend).await;
    webhook_keys_dedupe_and_are_pruned_by_age(backend).await;
    a_restart_loads_every_conversation_and_session(backend).await;
}

fn conversation(n: u32) -> ConversationId {
    ConversationId::of("wechat", &format!("oUser{n:02}"))
}

fn session_record(next_event: u64) -> SessionRecord {
    let session = Session::new(
        SessionConfig::default(),
        ChatRequest::default(),
        Timestamp::from_millis(0),
    );
    SessionRecord {
        snapshot: DeskSnapshot::LiveAgent(session.snapshot().clone()),
        next_event,
    }
}

/// A new conversation's record for the user of `id` (`channel:user`), `chats` chats in: what
/// the suite commits, for other stores' tests to commit too.
pub fn conversation_record(id: &ConversationId, chats: u64) -> ConversationRecord {
    let user = id.0.split_once(':').map_or("", |(_, user)| user).to_owned();
    let machine = Conversation::new(
        ConversationConfig::default(),
        UserRef {
            id: user.clone(),
            nickname: None,
            channel: "wechat".into(),
        },
        Timestamp::from_millis(0),
    );
    ConversationRecord {
        snapshot: machine.snapshot().clone(),
        channel: "wechat".into(),
        user,
        chats,
        live_chat: (chats > 0).then(|| ChatId::nth(id, chats)),
        taken: None,
        next_action: 0,
    }
}

fn action_id(conversation: &ConversationId, lane: Lane, seq: u64) -> ActionId {
    ActionId {
        conversation: conversation.clone(),
        lane,
        seq,
    }
}

fn text(n: u64) -> OutboxEvent {
    OutboxEvent::LiveAgent(SessionEvent::AgentText {
        name: "Andy".into(),
        text: format!("line {n}"),
    })
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

async fn session_commit_stores_record_events_and_removes_the_done_action<B: Backend>(
    backend: &mut B,
) {
    let store = backend.fresh().await;
    let id = conversation(1);
    let chat = ChatId::nth(&id, 1);
    let start = action_id(&id, Lane::Session, 0);
    let record = conversation_record(&id, 1);
    ok(
        store.commit_conversation(&ConversationUnit {
            id: &id,
            record: &record,
            enqueue: vec![(
                start.clone(),
                Action::StartChat(chat.clone(), ChatStart::default()),
            )],
            seen: None,
            done: None,
        }),
        "commit_conversation",
    );
    let session = session_record(2);
    ok(
        store.commit_session(&chat, &session, &[text(0), text(1)], Some(&start)),
        "commit_session",
    );
    ok(store.flush().await, "flush");
    let store = backend.reopen(store).await;
    assert_eq!(
        ok(store.load_session(&chat), "load_session"),
        Some(session),
        "a committed session record is read back after a restart"
    );
    let outbox: Vec<(u64, OutboxEvent)> = ok(store.outbox(&chat), "outbox")
        .into_iter()
        .map(|e| (e.seq, e.event))
        .collect();
    assert_eq!(
        outbox,
        [(0, text(0)), (1, text(1))],
        "a session commit stores its events, numbered from the record's previous next_event"
    );
    assert_eq!(
        ok(store.first_action(&id, Lane::Session), "first_action"),
        None,
        "a session commit removes the action that caused it"
    );
}

async fn conversation_commit_is_all_or_nothing_across_a_restart<B: Backend>(backend: &mut B) {
    let id = conversation(2);
    let chat = ChatId::nth(&id, 1);
    let key = WebhookKey::of("wechat", "oUser02\x001000042");
    let record = conversation_record(&id, 1);
    let unit = ConversationUnit {
        id: &id,
        record: &record,
        enqueue: vec![
            (
                action_id(&id, Lane::Session, 0),
                Action::Desk(chat.clone(), DeskRequest::Text("hello".into())),
            ),
            (
                action_id(&id, Lane::User, 1),
                Action::Send(
                    switchboard_core::conversation::DeliveryId(0),
                    ToUser::Text("queued".into()),
                ),
            ),
        ],
        seen: Some((key.clone(), 1_000)),
        done: None,
    };
    for flushed in [false, true] {
        let store = backend.fresh().await;
        ok(store.commit_conversation(&unit), "commit_conversation");
        if flushed {
            ok(store.flush().await, "flush");
        }
        let store = backend.reopen(store).await;
        let stored = ok(store.load_conversations(), "load_conversations");
        let parts = [
            stored.iter().any(|(i, r)| i == &id && r == &record),
            ok(store.first_action(&id, Lane::Session), "first_action").is_some(),
            ok(store.first_action(&id, Lane::User), "first_action").is_some(),
            ok(store.webhook_seen(&key), "webhook_seen"),
        ];
        assert!(
            parts.iter().all(|p| *p) || (!flushed && parts.iter().all(|p| !*p)),
            "a conversation commit survives a restart whole (or, unflushed, not at all): \
             record, session action, user action, webhook key = {parts:?}"
        );
    }
    // Completing an action removes it with the step that completed it.
    let store = backend.fresh().await;
    ok(store.commit_conversation(&unit), "commit_conversation");
    let done = ConversationUnit {
        enqueue: Vec::new(),
        seen: None,
        done: Some(action_id(&id, Lane::User, 1)),
        ..unit.clone()
    };
    ok(store.commit_conversation(&done), "commit_conversation");
    ok(store.flush().await, "flush");
    let store = backend.reopen(store).await;
    assert_eq!(
        ok(store.count_actions(&id, Lane::User), "count_actions"),
        0,
        "a conversation commit removes the action it completes"
    );
    assert_eq!(
        ok(store.count_actions(&id, Lane::Session), "count_actions"),
        1,
        "and only that one"
    );
}

async fn actions_come_out_per_lane_in_order<B: Backend>(backend: &mut B) {
    let store = backend.fresh().await;
    let id = conversation(3);
    let chat = ChatId::nth(&id, 1);
    let record = conversation_record(&id, 1);
    let desk = |seq: u64| {
        (
            action_id(&id, Lane::Session, seq),
            Action::Desk(chat.clone(), DeskRequest::Text(format!("text {seq}"))),
        )
    };
    let send = |seq: u64| {
        (
            action_id(&id, Lane::User, seq),
            Action::Send(
                switchboard_core::conversation::DeliveryId(seq),
                ToUser::Text(format!("reply {seq}")),
            ),
        )
    };
    // Queued out of order, and with numbers that sort differently as text (9 < 10).
    ok(
        store.commit_conversation(&ConversationUnit {
            id: &id,
            record: &record,
            enqueue: vec![desk(10), send(4), desk(2), desk(9), send(3)],
            seen: None,
            done: None,
        }),
        "commit_conversation",
    );
    // Another conversation's actions never show in this one's lanes.
    let other = conversation(33);
    ok(
        store.commit_conversation(&ConversationUnit {
            id: &other,
            record: &conversation_record(&other, 1),
            enqueue: vec![(action_id(&other, Lane::Session, 0), desk(0).1)],
            seen: None,
            done: None,
        }),
        "commit_conversation",
    );
    assert_eq!(ok(store.count_actions(&id, Lane::Session), "count"), 3);
    assert_eq!(ok(store.count_actions(&id, Lane::User), "count"), 2);
    let mut order = Vec::new();
    while let Some((action, _)) = ok(store.first_action(&id, Lane::Session), "first_action") {
        assert_eq!(action.conversation, id);
        order.push(action.seq);
        ok(store.remove_action(&action), "remove_action");
    }
    assert_eq!(order, [2, 9, 10], "a lane's actions come out in order");
    assert_eq!(
        ok(store.first_action(&id, Lane::User), "first_action").map(|(a, _)| a.seq),
        Some(3),
        "lanes are independent"
    );
}

async fn outbox_keeps_order_and_acks_a_prefix<B: Backend>(backend: &mut B) {
    let store = backend.fresh().await;
    let chat = ChatId::nth(&conversation(4), 1);
    let other = ChatId::nth(&conversation(4), 10);
    ok(
        store.commit_session(&chat, &session_record(2), &[text(0), text(1)], None),
        "commit_session",
    );
    ok(
        store.commit_session(&chat, &session_record(3), &[text(2)], None),
        "commit_session",
    );
    ok(
        store.commit_session(&other, &session_record(1), &[text(9)], None),
        "commit_session",
    );
    let seqs = |store: &B::Store| -> Vec<u64> {
        ok(store.outbox(&chat), "outbox")
            .into_iter()
            .map(|e| e.seq)
            .collect()
    };
    assert_eq!(seqs(&store), [0, 1, 2], "the outbox keeps its order");
    ok(store.ack_outbox(&chat, 1), "ack_outbox");
    assert_eq!(seqs(&store), [2], "an ack removes the events up to it");
    assert_eq!(
        ok(store.outbox(&other), "outbox").len(),
        1,
        "another chat's outbox is its own (even when its id extends this one's)"
    );
    ok(store.remove_session(&chat), "remove_session");
    assert!(!ok(store.has_session(&chat), "has_session"));
    assert!(ok(store.outbox(&chat), "outbox").is_empty());
    assert!(ok(store.has_session(&other), "has_session"));
}

async fn webhook_keys_dedupe_and_are_pruned_by_age<B: Backend>(backend: &mut B) {
    let store = backend.fresh().await;
    let id = conversation(5);
    let record = conversation_record(&id, 0);
    let old = WebhookKey::of("wechat", "old");
    let new = WebhookKey::of("wechat", "new");
    assert!(!ok(store.webhook_seen(&old), "webhook_seen"));
    for (key, at) in [(&old, 100), (&new, 900)] {
        ok(
            store.commit_conversation(&ConversationUnit {
                id: &id,
                record: &record,
                enqueue: Vec::new(),
                seen: Some((key.clone(), at)),
                done: None,
            }),
            "commit_conversation",
        );
    }
    assert!(
        ok(store.webhook_seen(&old), "webhook_seen"),
        "a key is remembered"
    );
    assert_eq!(ok(store.prune_webhook_keys(500), "prune"), 1);
    assert!(!ok(store.webhook_seen(&old), "webhook_seen"), "old keys go");
    assert!(
        ok(store.webhook_seen(&new), "webhook_seen"),
        "newer ones stay"
    );
}

async fn a_restart_loads_every_conversation_and_session<B: Backend>(backend: &mut B) {
    let store = backend.fresh().await;
    for n in [7, 6, 8] {
        let id = conversation(n);
        ok(
            store.commit_conversation(&ConversationUnit {
                id: &id,
                record: &conversation_record(&id, 1),
                enqueue: Vec::new(),
                seen: None,
                done: None,
            }),
            "commit_conversation",
        );
        if n != 8 {
            ok(
                store.commit_session(&ChatId::nth(&id, 1), &session_record(0), &[], None),
                "commit_session",
            );
        }
    }
    ok(store.flush().await, "flush");
    let store = backend.reopen(store).await;
    let conversations: Vec<ConversationId> = ok(store.load_conversations(), "load")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        conversations,
        [conversation(6), conversation(7), conversation(8)],
        "a restart loads every conversation, in id order"
    );
    assert_eq!(ok(store.load_sessions(), "load_sessions").len(), 2);
}
