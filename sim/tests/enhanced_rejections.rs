//! What the Enhanced Chat simulator refuses over loopback HTTP, as the real service does:
//! bad ids, missing headers, expired tokens, ended sessions, rate limits, duplicates, faults;
//! and the JSON control API that drives the agent's side.

mod enhanced_support;

use std::time::Duration;

use enhanced_support::{
    EndUser, PROMPTLY, conversation_id, message_body, message_id, org, quick, start_with,
};
use serde_json::{Value, json};
use switchboard_sim::enhanced::{DuplicateMessage, Knobs};

#[tokio::test]
async fn create_refuses_a_conversation_id_that_is_not_a_lowercase_uuid() {
    let (sim, http, agent) = start_with(quick()).await;
    let user = EndUser::new(&http).await;
    for bad in ["3F1C2A4E-9B7D-4C1E-8A2F-5D6E7F809A1B", "conversation-1"] {
        let answer = user.create(bad).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert_eq!(
            answer.json()["message"],
            "Specify the conversationId in UUID format."
        );
    }
    assert!(agent.conversations().is_empty());
    assert_eq!(user.create(&conversation_id(1)).await.status, 201);
    assert_eq!(
        user.create(&conversation_id(1)).await.status,
        409,
        "duplicate id"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_stream_requires_org_id_and_last_event_id_headers() {
    let (sim, http, agent) = start_with(quick()).await;
    let user = EndUser::new(&http).await;
    let bearer = user.bearer();
    let org = org();
    let missing_org = http
        .sse(&[("Authorization", &bearer), ("Last-Event-Id", "0")])
        .await
        .expect_err("400");
    assert_eq!(missing_org.status, 400);
    assert_eq!(missing_org.json()["message"], "OrgId is required");
    let missing_last = http
        .sse(&[("Authorization", &bearer), ("X-Org-Id", &org)])
        .await
        .expect_err("400");
    assert_eq!(missing_last.status, 400);
    let no_token = http
        .sse(&[("X-Org-Id", &org), ("Last-Event-Id", "0")])
        .await
        .expect_err("401");
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.json()["path"], "/eventrouter/v1/sse");
    agent.set_knobs(Knobs {
        require_last_event_id: false,
        ..agent.knobs()
    });
    assert!(
        http.sse(&[("Authorization", &bearer), ("X-Org-Id", &org)])
            .await
            .is_ok()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_gets_401_on_rest_and_on_the_stream() {
    let (sim, http, agent) = start_with(quick()).await;
    let user = EndUser::new(&http).await;
    let conv = conversation_id(2);
    assert_eq!(user.create(&conv).await.status, 201);
    agent.advance_clock(Duration::from_secs(3_601));
    let rest = user.send(&conv, &message_id(1), "hello").await;
    assert_eq!(rest.status, 401);
    assert_eq!(rest.json()["message"], "Jwt is expired");
    let bearer = user.bearer();
    let org = org();
    let stream = http
        .sse(&[
            ("Authorization", &bearer),
            ("X-Org-Id", &org),
            ("Last-Event-Id", &user.last_event_id),
        ])
        .await
        .expect_err("401");
    assert_eq!(
        (stream.status, stream.body.as_str()),
        (401, "Jwt is expired")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_message_after_the_agent_ended_the_session_gets_417_until_a_new_session() {
    let (sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(3);
    let (user, mut sse) = EndUser::in_chat(&http, &agent, &conv).await;
    agent.end_session(&conv).expect("end");
    let removed = sse.until("CONVERSATION_PARTICIPANT_CHANGED").await;
    assert_eq!(removed.payload()["entries"][0]["operation"], "remove");
    let ended = sse.until("CONVERSATION_SESSION_STATUS_CHANGED").await;
    assert_eq!(ended.payload()["sessionStatus"], "Ended");
    let status = user
        .call("GET", &format!("/conversation/{conv}"), Value::Null)
        .await;
    assert_eq!(status.json()["routingStatus"], "NEEDS_ROUTING");
    assert_eq!(user.send(&conv, &message_id(1), "hello?").await.status, 417);
    let mut body = message_body(&message_id(1), "hello?");
    body["isNewMessagingSession"] = json!(true);
    body["routingAttributes"] = json!({});
    assert_eq!(user.send_body(&conv, body).await.status, 202);
    assert_eq!(
        sse.until("CONVERSATION_ROUTING_RESULT").await.payload()["routingType"],
        "Initial"
    );
    assert!(
        agent.wait_for_waiting(PROMPTLY).await.is_some(),
        "routed again"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_23rd_message_in_a_minute_gets_429() {
    let (sim, http, agent) = start_with(quick()).await;
    let user = EndUser::new(&http).await;
    let conv = conversation_id(4);
    assert_eq!(user.create(&conv).await.status, 201);
    for n in 0..22 {
        let answer = user.send(&conv, &message_id(n), "m").await;
        assert_eq!(answer.status, 202, "message {n}: {}", answer.body);
    }
    assert_eq!(user.send(&conv, &message_id(22), "m").await.status, 429);
    agent.advance_clock(Duration::from_secs(61));
    assert_eq!(user.send(&conv, &message_id(22), "m").await.status, 202);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_repeated_message_id_follows_the_duplicate_knob() {
    for (knob, status, echoes) in [
        (DuplicateMessage::Ignore, 202, 1),
        (DuplicateMessage::Conflict, 409, 1),
        (DuplicateMessage::Duplicate, 202, 2),
    ] {
        let mut config = quick();
        config.knobs.duplicate_message = knob;
        let (sim, http, agent) = start_with(config).await;
        let user = EndUser::new(&http).await;
        let conv = conversation_id(5);
        assert_eq!(user.create(&conv).await.status, 201);
        assert_eq!(user.send(&conv, &message_id(1), "once").await.status, 202);
        assert_eq!(
            user.send(&conv, &message_id(1), "once").await.status,
            status,
            "{knob:?}"
        );
        let count = agent
            .events(&user.subject)
            .iter()
            .filter(|e| e.name == "CONVERSATION_MESSAGE")
            .count();
        assert_eq!(count, echoes, "{knob:?}");
        assert_eq!(
            agent.conversation(&conv).map(|c| c.end_user_texts.len()),
            Some(echoes)
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn another_end_user_cannot_touch_the_conversation() {
    let (sim, http, _agent) = start_with(quick()).await;
    let owner = EndUser::new(&http).await;
    let stranger = EndUser::new(&http).await;
    let conv = conversation_id(6);
    assert_eq!(owner.create(&conv).await.status, 201);
    assert_eq!(stranger.send(&conv, &message_id(1), "hi").await.status, 404);
    let list = stranger
        .call("GET", &format!("/conversation/{conv}/entries"), Value::Null)
        .await;
    assert_eq!(list.status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_faults_answer_the_next_requests_then_stop() {
    let mut config = quick();
    config.knobs.retry_after_secs = Some(5);
    let (sim, http, agent) = start_with(config).await;
    let user = EndUser::new(&http).await;
    agent.fail_next_requests(429, 1);
    let limited = user.create(&conversation_id(7)).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    agent.fail_next_requests(503, 1);
    assert_eq!(user.create(&conversation_id(7)).await.status, 503);
    assert_eq!(user.create(&conversation_id(7)).await.status, 201);
    let statuses: Vec<u16> = agent.recorded().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 429, 503, 201], "every request is recorded");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_control_api_drives_the_agent_side_as_json() {
    let (sim, http, _agent) = start_with(quick()).await;
    let conv = conversation_id(8);
    let user = EndUser::new(&http).await;
    let mut sse = user.stream(None).await;
    assert_eq!(user.create(&conv).await.status, 201);
    sse.until("CONVERSATION_ROUTING_RESULT").await;
    let waiting = http.raw("GET", "/__sim/waiting", &[], String::new()).await;
    assert_eq!(waiting.json()[0]["id"], conv.as_str());
    let control = |action: &str, body: Value| {
        let http = http.clone();
        let path = format!("/__sim/conversations/{conv}/{action}");
        async move { http.raw("POST", &path, &[], body.to_string()).await }
    };
    let accepted = control("accept", json!({"agent": "Li Wei"})).await;
    assert_eq!(
        (accepted.status, accepted.json()["agent"].as_str()),
        (200, Some("Li Wei"))
    );
    let text = control("text", json!({"text": "Hi from the console"})).await;
    assert!(text.json()["entryId"].is_string());
    let message = sse.until("CONVERSATION_MESSAGE").await;
    assert_eq!(message.entry()["identifier"], text.json()["entryId"]);
    assert_eq!(
        control("accept", json!({"agent": "Bea"})).await.status,
        409,
        "not waiting"
    );
    assert_eq!(control("text", json!({})).await.status, 400);
    let unknown = http
        .raw("POST", "/__sim/conversations/nope/end", &[], String::new())
        .await;
    assert_eq!(unknown.status, 404);
    let dropped = http
        .raw(
            "POST",
            "/__sim/streams/drop",
            &[],
            json!({"subject": user.subject, "mode": "clean"}).to_string(),
        )
        .await;
    assert_eq!(dropped.json()["streams"], 1);
    let requests = http.raw("GET", "/__sim/requests", &[], String::new()).await;
    assert_eq!(
        requests.json()[0]["path"],
        "/iamessage/api/v2/authorization/unauthenticated/access-token"
    );
    sim.shutdown().await;
}
