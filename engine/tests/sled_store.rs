//! The sled store on a real disk: atomic commit of snapshot and events, outbox order and ack,
//! the lock that keeps two engines off one store, and the schema guard.

use switchboard_core::desk::DeskEvent;
use switchboard_core::liveagent::CustomDetail;
use switchboard_core::session::{
    ChatRequest, Input, Output, Session, SessionConfig, SessionEvent, VisitorAction,
};
use switchboard_core::time::Timestamp;
use switchboard_engine::store::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, DeskSnapshot,
    Lane, OutboxEvent, SessionRecord, SledStore, Store, StoreError,
};

fn chatting_snapshot() -> switchboard_core::session::Snapshot {
    let now = Timestamp::from_millis(0);
    let request = ChatRequest {
        visitor_name: "Wei".into(),
        language: "zh-CN".into(),
        prechat_details: vec![CustomDetail::shown("WeChat OpenID", "oUser1")],
        prechat_entities: vec![],
    };
    let mut session = Session::new(SessionConfig::default(), request, now);
    let mut requests = Vec::new();
    let drain = |s: &mut Session, requests: &mut Vec<_>| {
        while let Some(o) = s.poll_output() {
            if let Output::Request { id, request, .. } = o {
                requests.push((id, request));
            }
        }
    };
    drain(&mut session, &mut requests);
    let (id, _) = requests.pop().unwrap();
    let body = r#"{"id":"a1","key":"a1!1!k","affinityToken":"878a1fa0","clientPollTimeout":40}"#;
    session
        .handle(
            Input::Response {
                id,
                status: 200,
                body: body.into(),
            },
            now,
        )
        .unwrap();
    session
        .handle(Input::Visitor(VisitorAction::Text("你好".into())), now)
        .unwrap();
    session.snapshot().clone()
}

#[tokio::test]
async fn commits_snapshot_and_events_and_reads_them_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let chat = ChatId("wechat:gh_1:oUser1".into());
    let snapshot = chatting_snapshot();
    {
        let store = SledStore::open(dir.path()).unwrap();
        let events = vec![
            OutboxEvent::LiveAgent(SessionEvent::Queued {
                position: Some(2),
                estimated_wait_secs: Some(60),
            }),
            OutboxEvent::Desk(DeskEvent::AgentText("您好".into())),
        ];
        let record = SessionRecord {
            snapshot: DeskSnapshot::LiveAgent(snapshot.clone()),
            next_event: 2,
        };
        store.commit_session(&chat, &record, &events, None).unwrap();
        store.flush().await.unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let sessions = store.load_sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].0, chat);
    assert_eq!(
        sessions[0].1.snapshot,
        DeskSnapshot::LiveAgent(snapshot),
        "the snapshot survives bincode and sled"
    );
    let DeskSnapshot::LiveAgent(stored) = &sessions[0].1.snapshot else {
        panic!("a Live Agent snapshot was stored")
    };
    assert_eq!(stored.session_key(), Some("a1!1!k"));
    let outbox = store.outbox(&chat).unwrap();
    assert_eq!(outbox.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![0, 1]);
    assert!(
        matches!(&outbox[1].event, OutboxEvent::Desk(DeskEvent::AgentText(text)) if text == "您好")
    );
}

#[tokio::test]
async fn acked_events_leave_the_outbox_and_other_chats_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (a, b) = (ChatId("a".into()), ChatId("ab".into()));
    let snapshot = chatting_snapshot();
    let events: Vec<OutboxEvent> = (0..3)
        .map(|_| OutboxEvent::LiveAgent(SessionEvent::AgentTyping))
        .collect();
    for chat in [&a, &b] {
        let record = SessionRecord {
            snapshot: DeskSnapshot::LiveAgent(snapshot.clone()),
            next_event: 3,
        };
        store.commit_session(chat, &record, &events, None).unwrap();
    }
    store.ack_outbox(&a, 1).unwrap();
    assert_eq!(
        store
            .outbox(&a)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(
        store.outbox(&b).unwrap().len(),
        3,
        "a prefix of another chat id is not touched"
    );
    store.remove_session(&a).unwrap();
    assert!(store.outbox(&a).unwrap().is_empty());
    assert_eq!(store.load_sessions().unwrap().len(), 1);
}

#[tokio::test]
async fn refuses_a_second_open_of_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    match SledStore::open(dir.path()) {
        Err(StoreError::Locked(path)) => assert!(path.contains(&*dir.path().to_string_lossy())),
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[tokio::test]
async fn refuses_a_store_written_by_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        store.write_schema_version(99).unwrap();
        store.flush().await.unwrap();
    }
    assert!(matches!(
        SledStore::open(dir.path()),
        Err(StoreError::NewerSchema {
            found: 99,
            supported: 1
        })
    ));
}

#[tokio::test]
async fn a_started_chat_is_stored_and_its_action_removed_in_one_step() {
    use switchboard_engine::{Endpoint, Engine, EngineConfig};
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let conversation = ConversationId("conv".into());
    let chat = ChatId("conv#1".into());
    let start = ActionId {
        conversation: conversation.clone(),
        lane: Lane::Session,
        seq: 1,
    };
    let record = ConversationRecord {
        snapshot: switchboard_core::conversation::Conversation::new(
            Default::default(),
            switchboard_core::conversation::UserRef {
                id: "u".into(),
                nickname: None,
                channel: "wechat".into(),
            },
            Timestamp::from_millis(0),
        )
        .snapshot()
        .clone(),
        channel: "wechat".into(),
        user: "u".into(),
        chats: 1,
        live_chat: Some(chat.clone()),
        taken: None,
        next_action: 2,
    };
    store
        .commit_conversation(&ConversationUnit {
            id: &conversation,
            record: &record,
            enqueue: vec![(
                start.clone(),
                Action::StartChat(chat.clone(), Default::default()),
            )],
            seen: None,
            done: None,
        })
        .unwrap();
    let engine = Engine::with_store(
        std::sync::Arc::new(store.clone()),
        EngineConfig {
            data_dir: dir.path().to_path_buf(),
            // Nothing listens here: the session stays in Init, which is all this test needs.
            live_agent: Some(Endpoint::parse("http://127.0.0.1:9").unwrap()),
            session: SessionConfig::default(),
            enhanced: None,
        },
    )
    .await
    .unwrap();
    engine
        .start_chat_once(chat.clone(), ChatRequest::default(), Some(start))
        .await
        .unwrap();
    assert!(
        store.has_session(&chat).unwrap(),
        "the session is stored before its driver runs"
    );
    assert!(
        store.count_actions(&conversation, Lane::Session).unwrap() == 0,
        "and the action that asked for it is gone with it"
    );
    assert!(matches!(
        engine.start_chat(chat, ChatRequest::default()).await,
        Err(switchboard_engine::EngineError::AlreadyLive(_))
    ));
    engine.shutdown().await.unwrap();
}
