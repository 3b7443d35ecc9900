//! The REST rules: each test shows the reference server refusing what the real service
//! refuses, or answering as it answers.

use serde_json::{Value, json};

use super::*;

pub(super) const T0: u64 = 1_764_585_600_000;
pub(super) const CONV: &str = "3f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b";

pub(super) fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(T0 + ms)
}

pub(super) fn server() -> EnhancedServer {
    EnhancedServer::new(Knobs::default(), 7)
}

pub(super) fn respond(
    server: &mut EnhancedServer,
    request: &EnhancedRequest,
    now: Timestamp,
) -> Response {
    match server.handle(request, now) {
        Reply::Respond(response) => response,
        Reply::Stream(open) => panic!("unexpected stream {open:?}"),
    }
}

pub(super) fn rest(method: Method, tail: &str) -> EnhancedRequest {
    EnhancedRequest::new(method, format!("{REST_BASE}{tail}"))
}

pub(super) fn token_body() -> Value {
    let knobs = Knobs::default();
    json!({"orgId": knobs.org_id, "esDeveloperName": knobs.es_developer_name,
           "capabilitiesVersion": "1", "platform": "Web"})
}

/// A fresh unauthenticated token: `(accessToken, subject, lastEventId)`.
pub(super) fn new_token(server: &mut EnhancedServer, now: Timestamp) -> (String, String, u64) {
    let request = rest(Method::Post, "/authorization/unauthenticated/access-token")
        .body(token_body().to_string());
    let response = respond(server, &request, now);
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.body_json();
    (
        body["accessToken"].as_str().expect("token").to_owned(),
        body["context"]["endUser"]["subject"]
            .as_str()
            .expect("subject")
            .to_owned(),
        body["lastEventId"]
            .as_str()
            .expect("id")
            .parse()
            .expect("numeric"),
    )
}

pub(super) fn create(
    server: &mut EnhancedServer,
    token: &str,
    id: &str,
    now: Timestamp,
) -> Response {
    let body = json!({"conversationId": id, "esDeveloperName": "Switchboard_Client",
                      "routingAttributes": {"Channel_Source": "WeChat"}});
    respond(
        server,
        &rest(Method::Post, "/conversation")
            .bearer(token)
            .body(body.to_string()),
        now,
    )
}

pub(super) fn message_request(token: &str, conv: &str, id: &str, text: &str) -> EnhancedRequest {
    let body = json!({"message": {"id": id, "messageType": "StaticContentMessage",
                                  "staticContent": {"formatType": "Text", "text": text}},
                      "esDeveloperName": "Switchboard_Client"});
    rest(Method::Post, &format!("/conversation/{conv}/message"))
        .bearer(token)
        .body(body.to_string())
}

pub(super) fn send(
    server: &mut EnhancedServer,
    token: &str,
    id: &str,
    text: &str,
    now: Timestamp,
) -> Response {
    respond(server, &message_request(token, CONV, id, text), now)
}

pub(super) fn message_id(n: u32) -> String {
    format!("9d2b6f0e-1c3a-4e5b-8f70-{n:012x}")
}

/// A token, a conversation routed and accepted by `agent`: `(token, subject)`.
pub(super) fn chat_with_agent(server: &mut EnhancedServer, agent: &str) -> (String, String) {
    let (token, subject, _) = new_token(server, at(0));
    assert_eq!(create(server, &token, CONV, at(0)).status, 201);
    server.advance(at(1_000));
    server.accept(CONV, agent, at(1_000)).expect("accept");
    (token, subject)
}

pub(super) fn names(server: &EnhancedServer, subject: &str) -> Vec<String> {
    server
        .events(subject)
        .iter()
        .map(|e| e.name.clone())
        .collect()
}

/// The decoded `entryPayload` of a logged event (it travels as a string).
pub(super) fn payload(event: &SseEvent) -> Value {
    let data = event.data_json();
    let text = data["conversationEntry"]["entryPayload"]
        .as_str()
        .expect("string payload");
    serde_json::from_str(text).expect("payload JSON")
}

#[test]
fn issues_anonymous_tokens_with_subject_and_numeric_last_event_id() {
    let mut server = server();
    let (token, subject, last) = new_token(&mut server, at(0));
    assert_eq!(token.split('.').count(), 3, "JWT-shaped");
    assert!(subject.starts_with("v2/iamessage/ANON/"));
    assert_eq!(last, server.last_event_id());
    let info = server.token(&token).expect("known");
    assert_eq!(info.expires_at, at(3_600_000));
}

#[test]
fn refuses_token_requests_for_another_org_or_deployment() {
    let mut server = server();
    let path = "/authorization/unauthenticated/access-token";
    for (field, value) in [("orgId", "00D000000000001"), ("esDeveloperName", "Other")] {
        let mut body = token_body();
        body[field] = json!(value);
        let response = respond(
            &mut server,
            &rest(Method::Post, path).body(body.to_string()),
            at(0),
        );
        assert_eq!(response.status, 400, "{field}");
        assert!(response.body_json()["message"].is_string());
    }
    let response = respond(
        &mut server,
        &rest(Method::Post, path).body("not json"),
        at(0),
    );
    assert_eq!(response.status, 400);
    let response = respond(&mut server, &rest(Method::Get, path), at(0));
    assert_eq!(response.status, 405);
}

#[test]
fn limits_token_requests_to_the_org_rate_per_minute() {
    let mut server = EnhancedServer::new(
        Knobs {
            tokens_per_minute: 3,
            retry_after_secs: Some(30),
            ..Knobs::default()
        },
        1,
    );
    for _ in 0..3 {
        new_token(&mut server, at(0));
    }
    let request = rest(Method::Post, "/authorization/unauthenticated/access-token")
        .body(token_body().to_string());
    let refused = respond(&mut server, &request, at(10));
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header_value("retry-after"), Some("30"));
    assert_eq!(respond(&mut server, &request, at(60_001)).status, 200);
}

#[test]
fn answers_401_once_a_token_expired() {
    let mut server = server();
    let (token, _, _) = new_token(&mut server, at(0));
    assert_eq!(create(&mut server, &token, CONV, at(0)).status, 201);
    let status = |server: &mut EnhancedServer, now| {
        let request = rest(Method::Get, &format!("/conversation/{CONV}")).bearer(&token);
        respond(server, &request, now)
    };
    assert_eq!(status(&mut server, at(3_599_999)).status, 200);
    let expired = status(&mut server, at(3_600_000));
    assert_eq!(expired.status, 401);
    assert_eq!(expired.body_json()["message"], "Jwt is expired");
    let missing = respond(
        &mut server,
        &rest(Method::Get, &format!("/conversation/{CONV}")),
        at(0),
    );
    assert_eq!(missing.status, 401);
}

#[test]
fn continuation_tokens_keep_the_subject_and_the_expiry() {
    let mut server = server();
    let (old, subject, _) = new_token(&mut server, at(0));
    let request = rest(Method::Get, "/authorization/continuation-access-token").bearer(&old);
    let response = respond(&mut server, &request, at(1_000_000));
    assert_eq!(response.status, 200);
    let new = response.body_json()["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_ne!(new, old);
    let info = server.token(&new).expect("known");
    assert_eq!(info.subject, subject);
    assert_eq!(info.expires_at, at(3_600_000), "no extension");
}

#[test]
fn create_requires_a_lowercase_v4_uuid() {
    let mut server = server();
    let (token, _, _) = new_token(&mut server, at(0));
    for bad in [
        "3F1C2A4E-9B7D-4C1E-8A2F-5D6E7F809A1B",
        "not-a-uuid",
        "3f1c2a4e-9b7d-1c1e-8a2f-5d6e7f809a1b",
        "",
    ] {
        let response = create(&mut server, &token, bad, at(0));
        assert_eq!(response.status, 400, "{bad:?}");
        assert_eq!(
            response.body_json()["message"],
            "Specify the conversationId in UUID format."
        );
    }
    server.knobs_mut().require_uuid_v4 = false;
    assert_eq!(
        create(
            &mut server,
            &token,
            "3f1c2a4e-9b7d-1c1e-8a2f-5d6e7f809a1b",
            at(0)
        )
        .status,
        201
    );
}

#[test]
fn a_duplicate_conversation_id_is_409_or_idempotent_by_knob() {
    let mut server = server();
    let (token, _, _) = new_token(&mut server, at(0));
    assert_eq!(create(&mut server, &token, CONV, at(0)).status, 201);
    assert_eq!(create(&mut server, &token, CONV, at(1)).status, 409);
    server.knobs_mut().duplicate_conversation_conflict = false;
    let again = create(&mut server, &token, CONV, at(2));
    assert_eq!(again.status, 201);
    assert_eq!(again.body_json()["conversationId"], CONV);
    let (other, _, _) = new_token(&mut server, at(3));
    assert_eq!(
        create(&mut server, &other, CONV, at(3)).status,
        409,
        "someone else's id"
    );
}

#[test]
fn another_subject_cannot_see_the_conversation() {
    let mut server = server();
    let (token, _, _) = new_token(&mut server, at(0));
    create(&mut server, &token, CONV, at(0));
    let (stranger, _, _) = new_token(&mut server, at(0));
    let response = send(&mut server, &stranger, &message_id(1), "hi", at(1));
    assert_eq!(response.status, 404);
    server.knobs_mut().foreign_conversation_status = 403;
    assert_eq!(
        send(&mut server, &stranger, &message_id(1), "hi", at(1)).status,
        403
    );
    let unknown = respond(
        &mut server,
        &message_request(
            &token,
            "0f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b",
            &message_id(1),
            "x",
        ),
        at(1),
    );
    assert_eq!(unknown.status, 404);
}

#[test]
fn routes_after_the_delay_then_waits_for_an_agent() {
    let mut server = server();
    let (token, subject, _) = new_token(&mut server, at(0));
    create(&mut server, &token, CONV, at(0));
    assert_eq!(server.next_deadline(), Some(at(200)));
    server.advance(at(199));
    assert!(server.events(&subject).is_empty());
    assert!(server.waiting().is_empty());
    server.advance(at(200));
    assert_eq!(names(&server, &subject), ["CONVERSATION_ROUTING_RESULT"]);
    let routing = payload(&server.events(&subject)[0]);
    assert_eq!(
        (
            routing["routingType"].as_str(),
            routing["failureType"].as_str()
        ),
        (Some("Initial"), Some("None"))
    );
    assert_eq!(server.waiting().len(), 1);
    assert_eq!(
        server.conversation(CONV).map(Conversation::routing_status),
        Some(RoutingStatus::Routed)
    );
    server.accept(CONV, "Li Wei", at(300)).expect("accept");
    let joined = payload(&server.events(&subject)[1]);
    assert_eq!(joined["entries"][0]["operation"], "add");
    assert_eq!(joined["entries"][0]["participant"]["role"], "Agent");
    assert_eq!(joined["entries"][0]["displayName"], "Li Wei");
    assert_eq!(
        server.accept(CONV, "Bea", at(301)),
        Err(ControlError::NotWaiting(CONV.into()))
    );
}

#[test]
fn routing_failure_sends_a_routing_error_and_needs_routing() {
    let mut server = server();
    server.knobs_mut().routing = RoutingOutcome::Fail;
    let (token, subject, _) = new_token(&mut server, at(0));
    create(&mut server, &token, CONV, at(0));
    server.advance(at(500));
    assert_eq!(
        payload(&server.events(&subject)[0])["failureType"],
        "RoutingError"
    );
    assert!(server.waiting().is_empty());
    assert_eq!(
        send(&mut server, &token, &message_id(1), "anyone?", at(600)).status,
        417
    );
}

#[test]
fn echoes_end_user_messages_with_role_end_user() {
    let mut server = server();
    let (token, subject) = chat_with_agent(&mut server, "Li Wei");
    let response = send(&mut server, &token, &message_id(1), "你好", at(2_000));
    assert_eq!(response.status, 202);
    assert_eq!(
        response.body_json()["conversationEntries"][0]["id"],
        message_id(1)
    );
    let echo = server.events(&subject).last().cloned().expect("echo");
    assert_eq!(echo.name, "CONVERSATION_MESSAGE");
    let data = echo.data_json();
    assert_eq!(data["channelType"], "embedded_messaging");
    assert_eq!(data["conversationId"], CONV);
    let entry = &data["conversationEntry"];
    assert_eq!(entry["sender"]["role"], "EndUser");
    assert_eq!(entry["identifier"], message_id(1));
    assert!(entry["entryPayload"].is_string(), "a JSON string on SSE");
    assert!(entry["transcriptedTimestamp"].as_u64() >= Some(T0 + 2_000));
    assert_eq!(
        payload(&echo)["abstractMessage"]["staticContent"]["text"],
        "你好"
    );
    assert_eq!(
        server.conversation(CONV).expect("c").end_user_texts(),
        ["你好"]
    );
}

#[test]
fn limits_messages_to_22_a_minute_per_conversation() {
    let mut server = server();
    let (token, _) = chat_with_agent(&mut server, "Li Wei");
    for n in 0..22 {
        assert_eq!(
            send(
                &mut server,
                &token,
                &message_id(n),
                "m",
                at(2_000 + u64::from(n))
            )
            .status,
            202
        );
    }
    assert_eq!(
        send(&mut server, &token, &message_id(22), "m", at(3_000)).status,
        429
    );
    assert_eq!(
        send(&mut server, &token, &message_id(22), "m", at(62_000)).status,
        202,
        "a minute later"
    );
}

#[test]
fn answers_417_after_the_session_ended_until_a_new_session_is_asked_for() {
    let mut server = server();
    let (token, subject) = chat_with_agent(&mut server, "Li Wei");
    server.end_session_by_agent(CONV, at(2_000)).expect("end");
    assert_eq!(
        send(
            &mut server,
            &token,
            &message_id(1),
            "still there?",
            at(3_000)
        )
        .status,
        417
    );
    let mut request = message_request(&token, CONV, &message_id(2), "new question");
    let mut body: Value =
        serde_json::from_str(request.body.as_deref().expect("body")).expect("json");
    body["isNewMessagingSession"] = json!(true);
    body["routingAttributes"] = json!({});
    request.body = Some(body.to_string());
    assert_eq!(respond(&mut server, &request, at(4_000)).status, 202);
    let conversation = server.conversation(CONV).expect("c");
    assert_eq!(conversation.sessions_started(), 2);
    server.advance(at(5_000));
    assert_eq!(
        names(&server, &subject).last().map(String::as_str),
        Some("CONVERSATION_ROUTING_RESULT")
    );
    assert_eq!(server.waiting().len(), 1);
}

#[test]
fn a_repeated_message_id_is_ignored_refused_or_duplicated_by_knob() {
    let count = |server: &EnhancedServer| {
        server
            .conversation(CONV)
            .expect("c")
            .entries()
            .iter()
            .filter(|e| e.entry_type == "Message")
            .count()
    };
    for (knob, status, messages) in [
        (DuplicateMessage::Ignore, 202, 1),
        (DuplicateMessage::Conflict, 409, 1),
        (DuplicateMessage::Duplicate, 202, 2),
    ] {
        let mut server = server();
        server.knobs_mut().duplicate_message = knob;
        let (token, _) = chat_with_agent(&mut server, "Li Wei");
        assert_eq!(
            send(&mut server, &token, &message_id(1), "once", at(2_000)).status,
            202
        );
        assert_eq!(
            send(&mut server, &token, &message_id(1), "once", at(2_001)).status,
            status,
            "{knob:?}"
        );
        assert_eq!(count(&server), messages, "{knob:?}");
    }
}

#[test]
fn validates_message_bodies() {
    let mut server = server();
    let (token, _) = chat_with_agent(&mut server, "Li Wei");
    let path = format!("/conversation/{CONV}/message");
    for body in [
        json!({"esDeveloperName": "Switchboard_Client"}),
        json!({"message": {"messageType": "StaticContentMessage", "staticContent": {"formatType": "Text", "text": "x"}}, "esDeveloperName": "Switchboard_Client"}),
        json!({"message": {"id": "a", "messageType": "StaticContentMessage", "staticContent": {"formatType": "Text", "text": "x"}}, "esDeveloperName": "Wrong"}),
    ] {
        let request = rest(Method::Post, &path)
            .bearer(&token)
            .body(body.to_string());
        assert_eq!(
            respond(&mut server, &request, at(2_000)).status,
            400,
            "{body}"
        );
    }
}

#[test]
fn lists_entries_newest_first_with_limit_window_direction_and_filter() {
    let mut server = server();
    let (token, _) = chat_with_agent(&mut server, "Li Wei");
    for n in 0..5 {
        send(
            &mut server,
            &token,
            &message_id(n),
            &format!("m{n}"),
            at(10_000 + u64::from(n) * 1_000),
        );
    }
    let list = |server: &mut EnhancedServer, query: &[(&str, &str)]| {
        let mut request =
            rest(Method::Get, &format!("/conversation/{CONV}/entries")).bearer(&token);
        for (k, v) in query {
            request = request.query(k, v);
        }
        respond(server, &request, at(20_000))
    };
    let texts = |response: &Response| -> Vec<String> {
        response.body_json()["conversationEntries"]
            .as_array()
            .expect("array")
            .iter()
            .filter(|e| e["entryType"] == "Message")
            .map(|e| {
                e["entryPayload"]["abstractMessage"]["staticContent"]["text"]
                    .as_str()
                    .expect("object payload")
                    .to_owned()
            })
            .collect()
    };
    let all = list(&mut server, &[]);
    assert_eq!(texts(&all), ["m4", "m3", "m2", "m1", "m0"]);
    let all_entries = all.body_json()["conversationEntries"]
        .as_array()
        .expect("array")
        .len();
    assert_eq!(
        all_entries, 7,
        "five messages, RoutingResult, ParticipantChanged"
    );
    assert_eq!(texts(&list(&mut server, &[("limit", "2")])), ["m4", "m3"]);
    let start = (T0 + 12_000).to_string();
    let forward = list(
        &mut server,
        &[
            ("direction", "FromStart"),
            ("startTimestamp", &start),
            ("limit", "2"),
        ],
    );
    assert_eq!(texts(&forward), ["m2", "m3"]);
    let end = (T0 + 11_000).to_string();
    assert_eq!(
        texts(&list(
            &mut server,
            &[("endTimestamp", &end), ("entryTypeFilter", "Message")]
        )),
        ["m1", "m0"]
    );
    let only_routing = list(&mut server, &[("entryTypeFilter", "RoutingResult")]);
    assert_eq!(
        only_routing.body_json()["conversationEntries"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    for bad in [
        ("limit", "51"),
        ("limit", "0"),
        ("direction", "Sideways"),
        ("startTimestamp", "soon"),
    ] {
        assert_eq!(list(&mut server, &[bad]).status, 400, "{bad:?}");
    }
    server.knobs_mut().list_payload = ListPayload::String;
    let strings = list(&mut server, &[("limit", "1")]);
    assert!(strings.body_json()["conversationEntries"][0]["entryPayload"].is_string());
}

#[test]
fn close_sends_close_conversation_and_refuses_later_sends() {
    let mut server = server();
    let (token, subject) = chat_with_agent(&mut server, "Li Wei");
    let close = rest(Method::Delete, &format!("/conversation/{CONV}"))
        .bearer(&token)
        .query("esDeveloperName", "Switchboard_Client");
    assert_eq!(respond(&mut server, &close, at(2_000)).status, 204);
    let tail: Vec<String> = names(&server, &subject).into_iter().rev().take(3).collect();
    assert_eq!(
        tail,
        [
            "CONVERSATION_CLOSE_CONVERSATION",
            "CONVERSATION_SESSION_STATUS_CHANGED",
            "CONVERSATION_PARTICIPANT_CHANGED"
        ]
    );
    let closed = payload(server.events(&subject).last().expect("close"));
    assert_eq!(closed["conversationIdentifier"], CONV);
    assert_eq!(
        send(&mut server, &token, &message_id(1), "hello?", at(3_000)).status,
        400
    );
    assert_eq!(
        respond(&mut server, &close, at(3_000)).status,
        400,
        "already closed"
    );
    assert_eq!(
        server.agent_text(CONV, "hi", at(3_000)),
        Err(ControlError::Closed(CONV.into()))
    );
}

#[test]
fn ending_only_the_session_keeps_the_conversation_open() {
    let mut server = server();
    let (token, subject) = chat_with_agent(&mut server, "Li Wei");
    let end = rest(Method::Delete, &format!("/conversation/{CONV}/session")).bearer(&token);
    assert_eq!(respond(&mut server, &end, at(2_000)).status, 204);
    let ended = payload(server.events(&subject).last().expect("ended"));
    assert_eq!(
        (
            ended["sessionStatus"].as_str(),
            ended["sessionEndedByRole"].as_str()
        ),
        (Some("Ended"), Some("EndUser"))
    );
    assert!(server.conversation(CONV).expect("c").is_open());
    assert_eq!(
        respond(&mut server, &end, at(2_001)).status,
        400,
        "no session left"
    );
    assert_eq!(
        send(&mut server, &token, &message_id(1), "x", at(3_000)).status,
        417
    );
}

#[test]
fn typing_and_acknowledgement_entries_are_accepted_and_checked() {
    let mut server = server();
    let (token, _) = chat_with_agent(&mut server, "Li Wei");
    let entry = |kind: &str| {
        rest(Method::Post, &format!("/conversation/{CONV}/entry"))
            .bearer(&token)
            .body(json!({"entryType": kind, "id": message_id(9)}).to_string())
    };
    assert_eq!(
        respond(&mut server, &entry("TypingStartedIndicator"), at(2_000)).status,
        202
    );
    assert!(server.conversation(CONV).expect("c").end_user_typing());
    assert_eq!(
        respond(&mut server, &entry("Dancing"), at(2_000)).status,
        400
    );
    let acks =
        json!({"acks": [{"id": message_id(8), "entryType": "Read", "conversationEntryId": "e1"}]});
    let request = rest(
        Method::Post,
        &format!("/conversation/{CONV}/acknowledge-entries"),
    )
    .bearer(&token)
    .body(acks.to_string());
    assert_eq!(respond(&mut server, &request, at(2_000)).status, 202);
    assert_eq!(
        server.conversation(CONV).expect("c").end_user_acks(),
        [("Read".to_owned(), "e1".to_owned())]
    );
}

#[test]
fn answers_routing_status_and_lists_conversations() {
    let mut server = server();
    let (token, _) = chat_with_agent(&mut server, "Li Wei");
    let status = |server: &mut EnhancedServer| {
        let request = rest(Method::Get, &format!("/conversation/{CONV}")).bearer(&token);
        respond(server, &request, at(2_000)).body_json()["routingStatus"].clone()
    };
    assert_eq!(status(&mut server), "ROUTED");
    server.end_session_by_agent(CONV, at(2_000)).expect("end");
    assert_eq!(status(&mut server), "NEEDS_ROUTING");
    let list = rest(Method::Get, "/conversation/list").bearer(&token);
    let body = respond(&mut server, &list, at(2_000)).body_json();
    assert_eq!(body["openConversationsFound"], 1);
    assert_eq!(body["conversations"][0]["conversationId"], CONV);
    let pdf = respond(
        &mut server,
        &rest(Method::Get, &format!("/conversation/{CONV}/transcript")).bearer(&token),
        at(2_000),
    );
    assert!(pdf.body.starts_with("%PDF-1.4"));
}

#[test]
fn injected_faults_hit_the_next_requests_only() {
    let mut server = server();
    let (token, _, _) = new_token(&mut server, at(0));
    server.fail_next_requests(503, 1);
    assert_eq!(create(&mut server, &token, CONV, at(0)).status, 503);
    assert_eq!(create(&mut server, &token, CONV, at(0)).status, 201);
    server.fail_next_requests(429, 1);
    assert_eq!(
        send(&mut server, &token, &message_id(1), "x", at(1)).status,
        429
    );
    assert!(server.expire_token(&token, at(10)));
    assert_eq!(
        send(&mut server, &token, &message_id(1), "x", at(10)).status,
        401
    );
}

#[test]
fn records_every_request_with_its_status() {
    let mut server = server();
    let (token, _, _) = new_token(&mut server, at(0));
    create(&mut server, &token, "BAD", at(5));
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].status, 400);
    assert_eq!(recorded[1].at, at(5));
    assert_eq!(recorded[1].request.bearer_token(), Some(token.as_str()));
}
