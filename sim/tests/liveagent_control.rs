//! The agent's side: the Rust handle and the JSON control API under `/__sim/`.

mod liveagent_support;

use std::time::Duration;

use bytes::Bytes;
use liveagent_support::{Visitor, start};
use serde_json::json;
use switchboard_core::liveagent::Resource;
use switchboard_sim::liveagent::{AgentError, ControlError, Phase};

const HOLD: Duration = Duration::from_millis(300);
const PROMPTLY: Duration = Duration::from_secs(20);

#[tokio::test]
async fn control_api_accepts_and_sends_text_over_http() {
    let (sim, http) = start(HOLD).await;
    let visitor = Visitor::request_chat(&http, "Wei").await;
    let chats = http.raw("GET", "/__sim/chats", &[], Bytes::new()).await;
    assert_eq!(chats.status, 200);
    assert_eq!(chats.json()[0]["id"], visitor.id.as_str());
    assert_eq!(chats.json()[0]["phase"], "waiting");
    assert_eq!(chats.json()[0]["visitorName"], "Wei");

    let path = format!("chats/{}", visitor.id);
    let accepted = http
        .control(&format!("{path}/accept"), r#"{"agent":"Andy"}"#)
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.json()["phase"], "established");
    assert_eq!(accepted.json()["agent"], "Andy");
    let typing = http
        .control(&format!("{path}/typing"), r#"{"typing":true}"#)
        .await;
    assert_eq!(typing.status, 200, "{}", typing.body);
    let text = http
        .control(&format!("{path}/text"), r#"{"text":"Hello Wei"}"#)
        .await;
    assert_eq!(text.status, 200, "{}", text.body);
    assert_eq!(text.json()["agentTexts"], json!(["Hello Wei"]));

    let events = visitor.poll(-1).await;
    assert_eq!(
        events.event_types(),
        vec![
            "ChatRequestSuccess",
            "ChatEstablished",
            "AgentTyping",
            "ChatMessage"
        ]
    );
    for action in ["file", "disconnect", "end"] {
        let answer = http.control(&format!("{path}/{action}"), "").await;
        assert_eq!(answer.status, 200, "{action}: {}", answer.body);
    }
    let events = visitor.poll(3).await;
    assert_eq!(
        events.event_types(),
        vec!["FileTransfer", "AgentDisconnect", "ChatEnded"]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn control_api_answers_404_409_and_400() {
    let (sim, http) = start(HOLD).await;
    let visitor = Visitor::request_chat(&http, "Wei").await;
    let path = format!("chats/{}", visitor.id);
    let unknown = http
        .control("chats/nope/accept", r#"{"agent":"Andy"}"#)
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let too_early = http
        .control(&format!("{path}/text"), r#"{"text":"hi"}"#)
        .await;
    assert_eq!(too_early.status, 409, "{}", too_early.body);
    let bad_json = http.control(&format!("{path}/accept"), "{agent:").await;
    assert_eq!(bad_json.status, 400, "{}", bad_json.body);
    let missing = http.control(&format!("{path}/accept"), "{}").await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    let no_action = http.control(&format!("{path}/dance"), "").await;
    assert_eq!(no_action.status, 404, "{}", no_action.body);
    let wrong_method = http
        .raw("GET", &format!("/__sim/{path}/accept"), &[], Bytes::new())
        .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(
        sim.control().session(&visitor.id).map(|v| v.phase),
        Some(Phase::Requested),
        "nothing changed"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn control_api_fails_over_expires_and_rejects() {
    let (sim, http) = start(HOLD).await;
    let first = Visitor::request_chat(&http, "Wei").await;
    let second = Visitor::request_chat(&http, "Li").await;
    let third = Visitor::request_chat(&http, "Fang").await;
    let all = http.control("failover", "").await;
    assert_eq!(all.json()["sessions"], 3);
    assert_eq!(first.poll(-1).await.status, 503);
    let expired = http
        .control(&format!("chats/{}/expire", second.id), "")
        .await;
    assert_eq!(expired.status, 200, "{}", expired.body);
    assert_eq!(second.poll(-1).await.status, 403);
    let rejected = http
        .control(
            &format!("chats/{}/reject", third.id),
            r#"{"reason":"Unavailable"}"#,
        )
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert_eq!(rejected.json()["phase"], "ended");
    sim.shutdown().await;
}

#[tokio::test]
async fn rust_handle_sees_waiting_chats_and_visitor_texts() {
    let (sim, http) = start(HOLD).await;
    let agent = sim.control();
    assert!(agent.waiting().is_empty());
    let mut visitor = {
        let http = http.clone();
        tokio::spawn(async move { Visitor::request_chat(&http, "Wei").await })
    }
    .await
    .expect("visitor task");
    let chat = agent
        .wait_for_waiting_chat(PROMPTLY)
        .await
        .expect("a chat waits");
    assert_eq!(chat.session_id, visitor.id);
    assert_eq!(chat.visitor_name, "Wei");
    assert_eq!(chat.prechat, vec![("Channel".into(), "WeChat".into())]);

    agent.queue_update(&visitor.id, 2).expect("queue update");
    agent.accept(&visitor.id, "Andy").expect("accept");
    let sent = visitor
        .post(
            Resource::ChatMessage,
            json!({ "text": "where is my order?" }),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let view = agent
        .wait_for_session(&visitor.id, PROMPTLY, |v| !v.visitor_texts.is_empty())
        .await
        .expect("the agent got the text");
    assert_eq!(view.visitor_texts, vec!["where is my order?".to_owned()]);
    assert_eq!(view.key, visitor.key);
    assert_eq!(view.affinity_token, visitor.affinity);

    agent.transfer(&visitor.id, "Bea").expect("transfer");
    assert_eq!(
        agent.session(&visitor.id).map(|v| v.phase),
        Some(Phase::Established {
            agent: "Bea".into()
        })
    );
    let events = visitor.poll(-1).await;
    assert_eq!(
        events.event_types(),
        vec![
            "ChatRequestSuccess",
            "QueueUpdate",
            "ChatEstablished",
            "ChatTransferred"
        ]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn rust_handle_reports_typed_errors() {
    let (sim, http) = start(HOLD).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    let unknown = agent.accept("nope", "Andy").expect_err("unknown");
    assert_eq!(
        unknown,
        AgentError::Refused(ControlError::UnknownSession("nope".into()))
    );
    assert_eq!(unknown.http_status(), 404);
    let early = agent
        .send_text(&visitor.id, "hi")
        .expect_err("not established");
    assert!(matches!(
        early,
        AgentError::Refused(ControlError::NotEstablished(_))
    ));
    assert_eq!(early.http_status(), 409);
    agent.accept(&visitor.id, "Andy").expect("accept");
    let again = agent.accept(&visitor.id, "Andy").expect_err("not waiting");
    assert!(matches!(
        again,
        AgentError::Refused(ControlError::NotWaiting(_))
    ));
    assert!(
        agent
            .wait_for_waiting_chat(Duration::from_millis(50))
            .await
            .is_none()
    );
    sim.shutdown().await;
}
