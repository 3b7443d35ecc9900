//! The Enhanced Chat simulator over loopback HTTP: the whole happy path from token to close,
//! SSE ids, pings, reconnects with and without replay, entries catch-up, stream faults.

mod enhanced_support;

use std::time::Duration;

use enhanced_support::{
    EndUser, Next, PROMPTLY, conversation_id, message_id, org, quick, start_with,
};
use serde_json::{Value, json};
use switchboard_sim::enhanced::{DropMode, IdentityIssuer, Replay};

fn text_of(entry_payload: &Value) -> Option<&str> {
    entry_payload["abstractMessage"]["staticContent"]["text"].as_str()
}

#[tokio::test]
async fn a_conversation_runs_from_token_to_close_over_rest_and_sse() {
    let (sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(1);
    let user = EndUser::new(&http).await;
    assert!(
        user.last_event_id.parse::<u64>().is_ok(),
        "numeric lastEventId"
    );
    let mut sse = user.stream(None).await;
    let created = user.create(&conv).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["conversationId"], conv.as_str());

    let routing = sse.until("CONVERSATION_ROUTING_RESULT").await;
    assert_eq!(routing.payload()["routingType"], "Initial");
    assert_eq!(routing.payload()["failureType"], "None");
    assert!(routing.numeric_id() > user.last_event_id.parse::<u64>().expect("id"));

    let sent = user.send(&conv, &message_id(1), "你好，我想查询订单").await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let echo = sse.until("CONVERSATION_MESSAGE").await;
    assert_eq!(echo.entry()["sender"]["role"], "EndUser");
    assert_eq!(echo.entry()["identifier"], message_id(1).as_str());
    assert_eq!(text_of(&echo.payload()), Some("你好，我想查询订单"));
    assert_eq!(echo.data_json()["channelType"], "embedded_messaging");
    assert_eq!(echo.data_json()["conversationId"], conv.as_str());
    assert!(echo.numeric_id() > routing.numeric_id());

    let waiting = agent.wait_for_waiting(PROMPTLY).await.expect("waiting");
    assert_eq!(waiting.conversation_id, conv);
    assert_eq!(
        waiting.routing_attributes,
        json!({"Channel_Source": "WeChat"})
    );
    agent.accept(&conv, "Li Wei").expect("accept");
    let joined = sse.until("CONVERSATION_PARTICIPANT_CHANGED").await;
    let change = &joined.payload()["entries"][0];
    assert_eq!(
        (
            change["operation"].as_str(),
            change["participant"]["role"].as_str()
        ),
        (Some("add"), Some("Agent"))
    );
    assert_eq!(change["displayName"], "Li Wei");

    let entry_id = agent
        .send_text(&conv, "Hello, how can I help?")
        .expect("text");
    let reply = sse.until("CONVERSATION_MESSAGE").await;
    assert_eq!(reply.entry()["identifier"], entry_id.as_str());
    assert_eq!(reply.entry()["sender"]["role"], "Agent");
    assert_eq!(reply.entry()["senderDisplayName"], "Li Wei");
    assert_eq!(text_of(&reply.payload()), Some("Hello, how can I help?"));
    assert!(reply.numeric_id() > joined.numeric_id());

    let status = user
        .call("GET", &format!("/conversation/{conv}"), Value::Null)
        .await;
    assert_eq!(status.json()["routingStatus"], "ROUTED");
    let list = user
        .call(
            "GET",
            &format!("/conversation/{conv}/entries?limit=2"),
            Value::Null,
        )
        .await;
    let entries = list.json()["conversationEntries"]
        .as_array()
        .cloned()
        .expect("entries");
    let texts: Vec<Option<&str>> = entries
        .iter()
        .map(|e| text_of(&e["entryPayload"]))
        .collect();
    assert_eq!(
        texts,
        [Some("Hello, how can I help?"), None],
        "newest first, payload as object"
    );

    let close = user
        .call(
            "DELETE",
            &format!("/conversation/{conv}?esDeveloperName=Switchboard_Client"),
            Value::Null,
        )
        .await;
    assert_eq!(close.status, 204);
    let closed = sse.until("CONVERSATION_CLOSE_CONVERSATION").await;
    assert_eq!(closed.payload()["conversationIdentifier"], conv.as_str());
    let late = user.send(&conv, &message_id(2), "still there?").await;
    assert!(
        (400..500).contains(&late.status),
        "a send after close is refused: {}",
        late.status
    );
    assert!(agent.conversation(&conv).is_some_and(|c| !c.open));
    sim.shutdown().await;
}

#[tokio::test]
async fn reconnecting_with_last_event_id_replays_what_was_missed() {
    let (sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(2);
    let (user, mut sse) = EndUser::in_chat(&http, &agent, &conv).await;
    agent.send_text(&conv, "first").expect("text");
    let first = sse.until("CONVERSATION_MESSAGE").await;
    assert_eq!(agent.drop_streams(&user.subject, DropMode::Abort), 1);
    assert_eq!(sse.next(PROMPTLY).await, Next::Cut);
    agent
        .wait_until(PROMPTLY, |a| {
            (a.open_streams(&user.subject) == 0).then_some(())
        })
        .await
        .expect("gone");

    agent.send_text(&conv, "while you were away").expect("text");
    let mut again = user.stream(first.id.as_deref()).await;
    let missed = again.until("CONVERSATION_MESSAGE").await;
    assert_eq!(text_of(&missed.payload()), Some("while you were away"));
    assert!(missed.numeric_id() > first.numeric_id());
    agent.send_text(&conv, "live again").expect("text");
    assert_eq!(
        text_of(&again.until("CONVERSATION_MESSAGE").await.payload()),
        Some("live again")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn without_replay_a_reconnect_sees_only_new_events_and_entries_fill_the_gap() {
    let mut config = quick();
    config.knobs.replay = Replay::None;
    let (sim, http, agent) = start_with(config).await;
    let conv = conversation_id(3);
    let (user, mut sse) = EndUser::in_chat(&http, &agent, &conv).await;
    let joined_at = agent.now().as_millis();
    assert_eq!(agent.drop_streams(&user.subject, DropMode::Clean), 1);
    assert_eq!(sse.next(PROMPTLY).await, Next::Ended);
    agent.send_text(&conv, "missed").expect("text");
    let mut again = user.stream(Some("0")).await;
    agent.send_text(&conv, "after reconnect").expect("text");
    let next = again.until("CONVERSATION_MESSAGE").await;
    assert_eq!(
        text_of(&next.payload()),
        Some("after reconnect"),
        "no replay of the missed one"
    );

    let catch_up = user
        .call("GET", &format!("/conversation/{conv}/entries?direction=FromStart&startTimestamp={}&entryTypeFilter=Message", joined_at.saturating_sub(5_000)), Value::Null)
        .await;
    let texts: Vec<String> = catch_up.json()["conversationEntries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| text_of(&e["entryPayload"]).map(str::to_owned))
        .collect();
    assert_eq!(texts, ["missed", "after reconnect"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn pings_keep_an_idle_stream_alive_with_a_counter() {
    let mut config = quick();
    config.ping_interval = Duration::from_millis(40);
    let (sim, http, _agent) = start_with(config).await;
    let user = EndUser::new(&http).await;
    let mut sse = user.stream(None).await;
    for expected in ["1", "2", "3"] {
        let Next::Frame(frame) = sse.next(PROMPTLY).await else {
            panic!("a ping");
        };
        assert_eq!(
            (frame.event.as_str(), frame.data.as_str(), frame.id),
            ("ping", expected, None)
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stalled_stream_sends_nothing_until_resumed() {
    let mut config = quick();
    config.ping_interval = Duration::from_millis(30);
    let (sim, http, agent) = start_with(config).await;
    let conv = conversation_id(4);
    let (user, mut sse) = EndUser::in_chat(&http, &agent, &conv).await;
    assert_eq!(agent.stall_streams(&user.subject, true), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    while let Next::Frame(_) = sse.next(Duration::from_millis(10)).await {}
    agent.send_text(&conv, "held back").expect("text");
    assert_eq!(
        sse.next(Duration::from_millis(300)).await,
        Next::Quiet,
        "no pings, no events"
    );
    agent.stall_streams(&user.subject, false);
    assert_eq!(
        text_of(&sse.until("CONVERSATION_MESSAGE").await.payload()),
        Some("held back")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn repeated_stream_events_come_twice_under_one_id() {
    let (sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(6);
    let (_user, mut sse) = EndUser::in_chat(&http, &agent, &conv).await;
    agent.repeat_stream_events(true);
    agent.send_text(&conv, "said twice").expect("text");
    let first = sse.until("CONVERSATION_MESSAGE").await;
    let second = sse.entry().await;
    assert_eq!(second.event, "CONVERSATION_MESSAGE");
    assert_eq!(first.numeric_id(), second.numeric_id());
    assert_eq!(text_of(&second.payload()), Some("said twice"));
    agent.repeat_stream_events(false);
    agent.send_text(&conv, "said once").expect("text");
    let third = sse.entry().await;
    assert_eq!(text_of(&third.payload()), Some("said once"));
    assert!(third.numeric_id() > second.numeric_id());
    assert_eq!(
        sse.next(Duration::from_millis(100)).await,
        Next::Quiet,
        "no repeat once repeats are off"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stream_dropped_mid_frame_leaves_half_an_event() {
    let (sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(5);
    let (user, mut sse) = EndUser::in_chat(&http, &agent, &conv).await;
    agent.drop_streams(&user.subject, DropMode::MidFrame);
    assert_eq!(sse.next(PROMPTLY).await, Next::Cut);
    let partial = String::from_utf8_lossy(sse.pending()).into_owned();
    assert!(
        partial.contains("event: CONVERSATION_MESSAGE") && !partial.ends_with("\n\n"),
        "{partial:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn stream_connects_fail_on_injected_5xx_and_expired_tokens() {
    let (sim, http, agent) = start_with(quick()).await;
    let user = EndUser::new(&http).await;
    let bearer = user.bearer();
    let org = org();
    let headers = [
        ("Authorization", bearer.as_str()),
        ("X-Org-Id", org.as_str()),
        ("Last-Event-Id", "0"),
    ];
    agent.fail_next_streams(503, 1);
    assert_eq!(http.sse(&headers).await.err().map(|a| a.status), Some(503));
    assert!(
        http.sse(&headers).await.is_ok(),
        "only the next connect fails"
    );
    assert!(agent.expire_token(&user.token));
    let expired = http.sse(&headers).await.expect_err("401");
    assert_eq!(
        (expired.status, expired.body.as_str()),
        (401, "Jwt is expired")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn verified_users_get_an_auth_subject_over_http() {
    let (sim, http, _agent) = start_with(quick()).await;
    let issuer = IdentityIssuer::test().expect("test key");
    let exp = sim.agent().now().as_millis() / 1000 + 600;
    let identity = issuer.token("wx-7f3a", exp).expect("signed");
    let body = json!({"orgId": org(), "esDeveloperName": "Switchboard_Client", "capabilitiesVersion": "1",
                      "platform": "Web", "authorizationType": "JWT", "customerIdentityToken": identity});
    let path = format!(
        "{}/authorization/authenticated/access-token",
        enhanced_support::REST
    );
    let answer = http.raw("POST", &path, &[], body.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["context"]["endUser"]["subject"],
        "v2/iamessage/AUTH/switchboard/uid:wx-7f3a"
    );
    let mut stale = body.clone();
    stale["customerIdentityToken"] = json!(issuer.token("wx-7f3a", exp - 1200).expect("signed"));
    assert_eq!(
        http.raw("POST", &path, &[], stale.to_string()).await.status,
        401
    );
    sim.shutdown().await;
}
