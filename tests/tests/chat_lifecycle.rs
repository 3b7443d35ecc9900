//! Whole chats through the engine and the Live Agent simulator over loopback HTTP.

use std::time::Duration;

use switchboard_core::liveagent::Resource;
use switchboard_core::session::{ChatEndedBy, EndReason, SessionEvent, VisitorAction};
use switchboard_engine::{ChatId, EngineError};
use switchboard_tests::{
    PATIENCE, Rig, agent_joined, agent_texts, ended, visitor, wait_for_events,
};

#[tokio::test]
async fn a_chat_goes_from_request_to_agent_ended() {
    let rig = Rig::start().await;
    let engine = rig.engine().await;
    let chat = ChatId("wechat:gh:user-1".into());
    engine
        .start_chat(chat.clone(), visitor("Wei"))
        .await
        .unwrap();
    let control = rig.sim.control();
    let waiting = control
        .wait_for_waiting_chat(PATIENCE)
        .await
        .expect("chat is queued");
    assert_eq!(waiting.visitor_name, "Wei");
    control.accept(&waiting.session_id, "Andy L.").unwrap();
    wait_for_events(&engine, &chat, agent_joined).await;

    engine
        .visitor(&chat, VisitorAction::Text("hello".into()))
        .await
        .unwrap();
    control
        .send_text(&waiting.session_id, "how can I help?")
        .unwrap();
    let events = wait_for_events(&engine, &chat, |e| agent_texts(e).len() == 1).await;
    assert_eq!(agent_texts(&events), vec!["how can I help?"]);
    control
        .wait_for_session(&waiting.session_id, PATIENCE, |s| {
            s.visitor_texts == ["hello"]
        })
        .await
        .expect("the agent got the visitor's text");

    control.end(&waiting.session_id).unwrap();
    let events = wait_for_events(&engine, &chat, |e| ended(e).is_some()).await;
    assert!(matches!(
        ended(&events),
        Some(SessionEvent::Ended {
            reason: EndReason::ChatEnded(ChatEndedBy::Agent),
            ..
        })
    ));
    let state = engine.wait_for_state(&chat, |_| false).await;
    assert_eq!(state, None, "the driver is gone once the chat ended");
    assert!(matches!(
        engine
            .visitor(&chat, VisitorAction::Text("late".into()))
            .await,
        Err(EngineError::UnknownChat(_))
    ));
}

#[tokio::test]
async fn text_typed_while_queued_arrives_after_the_agent_joins_in_order() {
    let rig = Rig::start().await;
    let engine = rig.engine().await;
    let chat = ChatId("queued".into());
    engine
        .start_chat(chat.clone(), visitor("Ming"))
        .await
        .unwrap();
    let control = rig.sim.control();
    let waiting = control.wait_for_waiting_chat(PATIENCE).await.unwrap();
    let typed: Vec<String> = (1..=5).map(|i| format!("queued line {i}")).collect();
    for line in &typed {
        engine
            .visitor(&chat, VisitorAction::Text(line.clone()))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = control.session(&waiting.session_id).unwrap();
    assert!(
        before.visitor_texts.is_empty(),
        "nothing is sent before an agent joins"
    );
    control.accept(&waiting.session_id, "Andy L.").unwrap();
    let session = control
        .wait_for_session(&waiting.session_id, PATIENCE, |s| {
            s.visitor_texts.len() == typed.len()
        })
        .await
        .unwrap();
    assert_eq!(session.visitor_texts, typed);
    let chat_messages = control
        .recorded()
        .into_iter()
        .filter(|r| r.request.resource == Resource::ChatMessage)
        .count();
    assert_eq!(
        chat_messages,
        typed.len(),
        "no POST before ChatEstablished, none twice"
    );
}

#[tokio::test]
async fn session_expiry_ends_the_chat_with_a_reason() {
    let rig = Rig::start().await;
    let engine = rig.engine().await;
    let chat = ChatId("expiring".into());
    engine
        .start_chat(chat.clone(), visitor("Li"))
        .await
        .unwrap();
    let control = rig.sim.control();
    let waiting = control.wait_for_waiting_chat(PATIENCE).await.unwrap();
    control.expire(&waiting.session_id).unwrap();
    let events = wait_for_events(&engine, &chat, |e| ended(e).is_some()).await;
    assert!(matches!(
        ended(&events),
        Some(SessionEvent::Ended {
            reason: EndReason::SessionInvalid,
            ..
        })
    ));
}

#[tokio::test]
async fn no_agent_available_ends_the_chat_and_reports_undelivered_text() {
    let rig = Rig::start().await;
    let engine = rig.engine().await;
    let chat = ChatId("rejected".into());
    engine
        .start_chat(chat.clone(), visitor("Fang"))
        .await
        .unwrap();
    let control = rig.sim.control();
    let waiting = control.wait_for_waiting_chat(PATIENCE).await.unwrap();
    engine
        .visitor(&chat, VisitorAction::Text("anyone?".into()))
        .await
        .unwrap();
    control.reject(&waiting.session_id, "Unavailable").unwrap();
    let events = wait_for_events(&engine, &chat, |e| ended(e).is_some()).await;
    match ended(&events) {
        Some(SessionEvent::Ended {
            reason: EndReason::RequestFailed(_),
            undelivered,
        }) => {
            assert_eq!(undelivered, &vec!["anyone?".to_owned()]);
        }
        other => panic!("unexpected end {other:?}"),
    }
}
