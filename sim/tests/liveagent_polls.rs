//! Long polls over loopback HTTP: holds, wake-ups, the one-poller rule, disconnects, failover.

mod liveagent_support;

use std::time::Duration;

use liveagent_support::{API, Visitor, start};
use serde_json::json;
use switchboard_core::liveagent::{LiveAgentRequest, Method, Resource};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Long enough that a poll answered before it can only have been woken.
const LONG_HOLD: Duration = Duration::from_secs(120);
/// Generous bound for things that should happen promptly.
const PROMPTLY: Duration = Duration::from_secs(20);

#[tokio::test]
async fn answers_204_after_the_hold_when_nothing_happens() {
    let (sim, http) = start(Duration::from_millis(300)).await;
    let visitor = Visitor::request_chat(&http, "Wei").await;
    let first = visitor.poll(-1).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.event_types(), vec!["ChatRequestSuccess"]);
    let sequence = first.json()["sequence"].as_i64().expect("sequence");
    let empty = visitor.poll(sequence).await;
    assert_eq!(empty.status, 204);
    assert!(empty.body.is_empty());
    let view = sim.control().session(&visitor.id).expect("session");
    assert!(!view.polling, "the hold is over");
    sim.shutdown().await;
}

#[tokio::test]
async fn wakes_a_held_poll_when_the_agent_writes() {
    let (sim, http) = start(LONG_HOLD).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    assert_eq!(visitor.poll(-1).await.status, 200);
    let poll = visitor.held_poll(&agent, 0).await;
    agent.accept(&visitor.id, "Andy").expect("accept");
    let answer = tokio::time::timeout(PROMPTLY, poll)
        .await
        .expect("woken before the hold ends")
        .expect("poll task");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.event_types(), vec!["ChatEstablished"]);
    assert_eq!(answer.json()["messages"][0]["message"]["name"], "Andy");

    let poll = visitor.held_poll(&agent, 1).await;
    agent
        .send_text(&visitor.id, "How can I help?")
        .expect("text");
    let answer = tokio::time::timeout(PROMPTLY, poll)
        .await
        .expect("woken")
        .expect("poll task");
    assert_eq!(answer.event_types(), vec!["ChatMessage"]);
    assert_eq!(
        answer.json()["messages"][0]["message"]["text"],
        "How can I help?"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn wakes_a_held_poll_when_the_visitor_ends_the_chat() {
    let (sim, http) = start(LONG_HOLD).await;
    let agent = sim.control();
    let mut visitor = Visitor::request_chat(&http, "Wei").await;
    assert_eq!(visitor.poll(-1).await.status, 200);
    let poll = visitor.held_poll(&agent, 0).await;
    let end = visitor
        .post(Resource::ChatEnd, json!({"reason": "client"}))
        .await;
    assert_eq!(end.status, 200, "{}", end.body);
    let answer = tokio::time::timeout(PROMPTLY, poll)
        .await
        .expect("woken")
        .expect("poll task");
    assert_eq!(answer.event_types(), vec!["ChatEnded"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_409_to_a_second_concurrent_poll() {
    let (sim, http) = start(LONG_HOLD).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    assert_eq!(visitor.poll(-1).await.status, 200);
    let first = visitor.held_poll(&agent, 0).await;
    let second = visitor.poll(0).await;
    assert_eq!(second.status, 409, "{}", second.body);
    // The first poll is still the session's poller and gets the next events.
    agent.accept(&visitor.id, "Andy").expect("accept");
    let answer = tokio::time::timeout(PROMPTLY, first)
        .await
        .expect("woken")
        .expect("poll task");
    assert_eq!(answer.event_types(), vec!["ChatEstablished"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn releases_the_hold_when_the_client_disconnects() {
    let (sim, http) = start(LONG_HOLD).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    assert_eq!(visitor.poll(-1).await.status, 200);

    let request = visitor.poll_request(0);
    let mut raw = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\n",
        request.path_and_query(),
        sim.addr()
    );
    for (name, value) in &request.headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let mut stream = TcpStream::connect(sim.addr()).await.expect("connect");
    stream.write_all(raw.as_bytes()).await.expect("write");
    agent
        .wait_for_session(&visitor.id, PROMPTLY, |v| v.polling)
        .await
        .expect("held");
    drop(stream);
    agent
        .wait_for_session(&visitor.id, PROMPTLY, |v| !v.polling)
        .await
        .expect("the hold is released when the client goes away");

    // The next poll is the only one: held (not 409) and answered by the agent's action.
    let poll = visitor.held_poll(&agent, 0).await;
    agent.accept(&visitor.id, "Andy").expect("accept");
    let answer = tokio::time::timeout(PROMPTLY, poll)
        .await
        .expect("woken")
        .expect("poll task");
    assert_eq!(answer.status, 200, "{}", answer.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_503_to_a_held_poll_on_failover() {
    let (sim, http) = start(LONG_HOLD).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    let first = visitor.poll(-1).await;
    let offset = first.json()["offset"].as_i64().expect("offset");
    let poll = visitor.held_poll(&agent, 0).await;
    agent.failover(&visitor.id).expect("failover");
    let answer = tokio::time::timeout(PROMPTLY, poll)
        .await
        .expect("answered promptly")
        .expect("poll task");
    assert_eq!(answer.status, 503, "{}", answer.body);

    // Recovery as the spec describes it works over HTTP: a new token, then session data.
    let reconnect = LiveAgentRequest::new(Method::Get, Resource::ReconnectSession, API)
        .affinity(None)
        .session_key(&visitor.key)
        .query("ReconnectSession.offset", offset.to_string());
    let answer = http.send(&reconnect).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.json()["messages"][0]["message"]["affinityToken"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_ne!(token, visitor.affinity);
    let moved = Visitor {
        affinity: token,
        ..visitor.clone()
    };
    let data = moved.poll(0).await;
    assert_eq!(data.event_types(), vec!["ChasitorSessionData"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_every_held_poll_when_all_sessions_fail_over() {
    let (sim, http) = start(LONG_HOLD).await;
    let agent = sim.control();
    let mut visitors = Vec::new();
    for i in 0..100 {
        let visitor = Visitor::request_chat(&http, &format!("visitor {i}")).await;
        assert_eq!(visitor.poll(-1).await.status, 200);
        visitors.push(visitor);
    }
    let polls: Vec<_> = visitors
        .iter()
        .cloned()
        .map(|v| tokio::spawn(async move { v.poll(0).await }))
        .collect();
    agent
        .wait_until(PROMPTLY, |c| {
            c.sessions().iter().all(|v| v.polling).then_some(())
        })
        .await
        .expect("all held");
    assert_eq!(agent.failover_all(), 100);
    for poll in polls {
        let answer = tokio::time::timeout(PROMPTLY, poll)
            .await
            .expect("answered")
            .expect("poll task");
        assert_eq!(answer.status, 503);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_held_polls_when_the_simulator_shuts_down() {
    let (sim, http) = start(LONG_HOLD).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    assert_eq!(visitor.poll(-1).await.status, 200);
    let poll = visitor.held_poll(&agent, 0).await;
    tokio::time::timeout(PROMPTLY, sim.shutdown())
        .await
        .expect("shutdown does not wait for the hold");
    let answer = poll.await.expect("poll task");
    assert_eq!(answer.status, 204);
}
