//! A Salesforce failover (503) in the middle of a busy chat loses and duplicates nothing.

use switchboard_core::liveagent::Resource;
use switchboard_core::session::{SessionEvent, VisitorAction};
use switchboard_engine::ChatId;
use switchboard_tests::{PATIENCE, Rig, agent_joined, agent_texts, visitor, wait_for_events};

#[tokio::test]
async fn failover_mid_chat_with_posts_in_flight_loses_and_duplicates_nothing() {
    let rig = Rig::start().await;
    let engine = rig.engine().await;
    let chat = ChatId("failover".into());
    engine
        .start_chat(chat.clone(), visitor("Hui"))
        .await
        .unwrap();
    let control = rig.sim.control();
    let waiting = control.wait_for_waiting_chat(PATIENCE).await.unwrap();
    let id = waiting.session_id.clone();
    control.accept(&id, "Andy L.").unwrap();
    wait_for_events(&engine, &chat, agent_joined).await;

    let mut sent = Vec::new();
    let mut agent_sent = Vec::new();
    for i in 0..30 {
        let text = format!("visitor {i}");
        engine
            .visitor(&chat, VisitorAction::Text(text.clone()))
            .await
            .unwrap();
        sent.push(text);
        if i % 3 == 0 {
            let text = format!("agent {i}");
            control.send_text(&id, &text).unwrap();
            agent_sent.push(text);
        }
        if i == 10 || i == 20 {
            control.failover(&id).unwrap();
        }
    }
    let session = control
        .wait_for_session(&id, PATIENCE, |s| s.visitor_texts.len() >= sent.len())
        .await
        .expect("every visitor text reaches the agent");
    assert_eq!(session.visitor_texts, sent, "once each, in order");
    let events =
        wait_for_events(&engine, &chat, |e| agent_texts(e).len() >= agent_sent.len()).await;
    assert_eq!(agent_texts(&events), agent_sent, "once each, in order");
    let reconnects = events
        .iter()
        .filter(|e| matches!(e, SessionEvent::Reconnected))
        .count();
    assert!(reconnects >= 1, "the failover was recovered: {events:?}");
    let recorded = control.recorded();
    assert!(
        recorded
            .iter()
            .any(|r| r.request.resource == Resource::ReconnectSession)
    );
    assert!(
        recorded
            .iter()
            .any(|r| r.request.resource == Resource::ChasitorResyncState)
    );
    assert_eq!(
        recorded
            .iter()
            .filter(|r| r.request.resource == Resource::ChasitorInit)
            .count(),
        1,
        "the chat was requested once"
    );
}
