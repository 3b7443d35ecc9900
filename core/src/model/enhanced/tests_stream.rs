//! SSE connect rules and replay, the agent's actions as events, and verified-user tokens.

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA512, RsaKeyPair};
use serde_json::{Value, json};

use super::identity::{TEST_ISSUER, TEST_PRIVATE_KEY_PKCS8, b64url};
use super::tests::*;
use super::*;

fn sse(token: Option<&str>, org: Option<&str>, last: Option<&str>) -> EnhancedRequest {
    let mut request = EnhancedRequest::new(Method::Get, SSE_PATH);
    if let Some(token) = token {
        request = request.bearer(token);
    }
    if let Some(org) = org {
        request = request.header("X-Org-Id", org);
    }
    if let Some(last) = last {
        request = request.header("Last-Event-Id", last);
    }
    request
}

const ORG: &str = "00D5g000004SBXs";

#[test]
fn sse_requires_the_org_id_header() {
    let mut server = server();
    let (token, _, last) = new_token(&mut server, at(0));
    let last = last.to_string();
    let missing = respond(&mut server, &sse(Some(&token), None, Some(&last)), at(0));
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body_json()["message"], "OrgId is required");
    let long = format!("{ORG}AAC");
    assert_eq!(
        respond(
            &mut server,
            &sse(Some(&token), Some(&long), Some(&last)),
            at(0)
        )
        .status,
        400
    );
    server.knobs_mut().accept_18_char_org_id = true;
    assert!(matches!(
        server.handle(&sse(Some(&token), Some(&long), Some(&last)), at(0)),
        Reply::Stream(_)
    ));
}

#[test]
fn sse_refuses_missing_and_expired_tokens_with_401() {
    let mut server = server();
    let (token, _, _) = new_token(&mut server, at(0));
    let missing = respond(&mut server, &sse(None, Some(ORG), Some("0")), at(0));
    assert_eq!(missing.status, 401);
    assert_eq!(missing.body_json()["path"], SSE_PATH);
    let expired = respond(
        &mut server,
        &sse(Some(&token), Some(ORG), Some("0")),
        at(3_600_000),
    );
    assert_eq!(
        (expired.status, expired.body.as_str()),
        (401, "Jwt is expired")
    );
    server.knobs_mut().expired_stream_shape = ExpiredStreamShape::Json;
    let json = respond(
        &mut server,
        &sse(Some(&token), Some(ORG), Some("0")),
        at(3_600_000),
    );
    assert_eq!(json.body_json()["error"], "Unauthorized");
}

#[test]
fn sse_requires_last_event_id_unless_the_knob_allows_it() {
    let mut server = server();
    let (token, subject, last) = new_token(&mut server, at(0));
    assert_eq!(
        respond(&mut server, &sse(Some(&token), Some(ORG), None), at(0)).status,
        400
    );
    assert_eq!(
        respond(
            &mut server,
            &sse(Some(&token), Some(ORG), Some("abc")),
            at(0)
        )
        .status,
        400
    );
    server.knobs_mut().require_last_event_id = false;
    let Reply::Stream(open) = server.handle(&sse(Some(&token), Some(ORG), None), at(0)) else {
        panic!("stream");
    };
    assert_eq!((open.subject, open.after), (subject, last));
}

#[test]
fn replays_events_after_last_event_id_or_not_by_knob() {
    let mut server = server();
    let (token, subject) = chat_with_agent(&mut server, "Li Wei");
    let ids: Vec<u64> = server.events(&subject).iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "monotonic ids");
    let first = ids[0].to_string();
    let Reply::Stream(open) = server.handle(&sse(Some(&token), Some(ORG), Some(&first)), at(2_000))
    else {
        panic!("stream");
    };
    let replayed = server.events_after(&open.subject, open.after);
    assert_eq!(replayed.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[1]]);
    assert!(replayed[0].frame().starts_with(&format!(
        "id: {}\nevent: CONVERSATION_PARTICIPANT_CHANGED\ndata: {{",
        ids[1]
    )));
    server.knobs_mut().replay = Replay::None;
    let Reply::Stream(open) = server.handle(&sse(Some(&token), Some(ORG), Some("0")), at(2_000))
    else {
        panic!("stream");
    };
    assert!(server.events_after(&open.subject, open.after).is_empty());
}

#[test]
fn event_ids_increase_across_subjects_and_wake_only_the_owner() {
    let mut server = server();
    let (a, subject_a, _) = new_token(&mut server, at(0));
    let (b, subject_b, _) = new_token(&mut server, at(0));
    create(&mut server, &a, CONV, at(0));
    create(
        &mut server,
        &b,
        "0f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b",
        at(100),
    );
    server.take_wakeups();
    server.advance(at(250));
    assert_eq!(server.take_wakeups(), std::slice::from_ref(&subject_a));
    server.advance(at(300));
    assert_eq!(server.take_wakeups(), std::slice::from_ref(&subject_b));
    assert!(server.events(&subject_a)[0].id < server.events(&subject_b)[0].id);
    server.fail_next_streams(503, 1);
    let last = server.last_event_id().to_string();
    assert_eq!(
        server
            .handle(&sse(Some(&a), Some(ORG), Some(&last)), at(400))
            .status(),
        503
    );
    assert_eq!(
        server
            .handle(&sse(Some(&a), Some(ORG), Some(&last)), at(400))
            .status(),
        200
    );
}

#[test]
fn agent_text_typing_and_receipts_arrive_as_entries() {
    let mut server = server();
    let (_, subject) = chat_with_agent(&mut server, "Li Wei");
    let id = server
        .agent_text(CONV, "How can I help?", at(2_000))
        .expect("text");
    server.agent_typing(CONV, true, at(2_001)).expect("typing");
    server
        .acknowledge(CONV, &message_id(1), Acknowledgement::Read, at(2_002))
        .expect("ack");
    let events = server.events(&subject);
    let tail: Vec<&str> = events[2..].iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        tail,
        [
            "CONVERSATION_MESSAGE",
            "CONVERSATION_TYPING_STARTED_INDICATOR",
            "CONVERSATION_READ_ACKNOWLEDGEMENT"
        ]
    );
    let message = events[2].data_json();
    assert_eq!(message["conversationEntry"]["identifier"], id.as_str());
    assert_eq!(message["conversationEntry"]["sender"]["role"], "Agent");
    assert_eq!(message["conversationEntry"]["senderDisplayName"], "Li Wei");
    let ack = events[4].data_json();
    assert_eq!(
        ack["conversationEntry"]["relatedRecords"],
        json!([message_id(1)])
    );
    let transcripted: Vec<&str> = server
        .conversation(CONV)
        .expect("c")
        .entries()
        .iter()
        .map(|e| e.entry_type)
        .collect();
    assert!(
        !transcripted.contains(&"TypingStartedIndicator"),
        "typing is not transcripted"
    );
    assert_eq!(
        server.agent_text("0f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b", "x", at(0)),
        Err(ControlError::UnknownConversation(
            "0f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b".into()
        ))
    );
}

#[test]
fn transfer_removes_routes_and_adds() {
    let mut server = server();
    let (_, subject) = chat_with_agent(&mut server, "Li Wei");
    server
        .transfer(CONV, Some("Bea"), at(2_000))
        .expect("transfer");
    let events = &server.events(&subject)[2..];
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "CONVERSATION_PARTICIPANT_CHANGED",
            "CONVERSATION_ROUTING_RESULT",
            "CONVERSATION_PARTICIPANT_CHANGED"
        ]
    );
    assert_eq!(payload(&events[0])["entries"][0]["operation"], "remove");
    assert_eq!(payload(&events[1])["routingType"], "Transfer");
    assert_eq!(payload(&events[2])["entries"][0]["displayName"], "Bea");
    assert_eq!(
        server.conversation(CONV).and_then(Conversation::agent),
        Some("Bea")
    );
    server
        .transfer(CONV, None, at(3_000))
        .expect("to the queue");
    assert_eq!(
        server.conversation(CONV).map(Conversation::routing_status),
        Some(RoutingStatus::Transfer)
    );
    assert_eq!(server.waiting().len(), 1);
}

#[test]
fn agent_end_removes_the_agent_ends_the_session_and_needs_routing() {
    let mut server = server();
    let (_, subject) = chat_with_agent(&mut server, "Li Wei");
    server.end_session_by_agent(CONV, at(2_000)).expect("end");
    let events = &server.events(&subject)[2..];
    assert_eq!(payload(&events[0])["entries"][0]["operation"], "remove");
    let ended = payload(&events[1]);
    assert_eq!(
        (
            ended["sessionStatus"].as_str(),
            ended["sessionEndedByRole"].as_str()
        ),
        (Some("Ended"), Some("Agent"))
    );
    assert_eq!(events.len(), 2, "no CloseConversation when the agent ends");
    let conversation = server.conversation(CONV).expect("c");
    assert!(conversation.is_open());
    assert_eq!(conversation.routing_status(), RoutingStatus::NeedsRouting);
    assert_eq!(
        server.end_session_by_agent(CONV, at(2_001)),
        Err(ControlError::NoAgent(CONV.into()))
    );
}

fn identity_token(alg: &str, claims: &Value) -> String {
    let header = b64url(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
    let body = b64url(claims.to_string().as_bytes());
    let signed = format!("{header}.{body}");
    let key = RsaKeyPair::from_pkcs8(TEST_PRIVATE_KEY_PKCS8).expect("test key");
    let mut signature = vec![0; key.public().modulus_len()];
    let padding = if alg == "RS512" {
        &RSA_PKCS1_SHA512
    } else {
        &RSA_PKCS1_SHA256
    };
    key.sign(
        padding,
        &SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{signed}.{}", b64url(&signature))
}

fn claims(sub: &str, exp_secs: u64) -> Value {
    json!({"iss": TEST_ISSUER, "sub": sub, "exp": exp_secs, "iat": T0 / 1000})
}

fn verified(server: &mut EnhancedServer, identity: &str) -> Response {
    let mut body = token_body();
    body["authorizationType"] = json!("JWT");
    body["customerIdentityToken"] = json!(identity);
    let request =
        rest(Method::Post, "/authorization/authenticated/access-token").body(body.to_string());
    respond(server, &request, at(0))
}

#[test]
fn verified_users_get_a_subject_from_a_checked_identity_token() {
    let mut server = server();
    let later = T0 / 1000 + 600;
    for alg in ["RS256", "RS512"] {
        let response = verified(
            &mut server,
            &identity_token(alg, &claims("wx-hash-1", later)),
        );
        assert_eq!(response.status, 200, "{alg}: {}", response.body);
        let subject = &response.body_json()["context"]["endUser"]["subject"];
        assert_eq!(subject, "v2/iamessage/AUTH/switchboard/uid:wx-hash-1");
        let token = response.body_json()["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        assert_eq!(
            server.token(&token).expect("known").expires_at,
            at(6 * 3_600_000)
        );
    }
}

#[test]
fn refuses_identity_tokens_the_real_service_refuses() {
    let mut server = server();
    let later = T0 / 1000 + 600;
    let good = identity_token("RS256", &claims("u1", later));
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let other = b64url(claims("u2", later).to_string().as_bytes());
        format!("{}.{other}.{}", parts[0], parts[2])
    };
    let mut wrong_issuer = claims("u1", later);
    wrong_issuer["iss"] = json!("https://elsewhere.test");
    for (case, identity) in [
        ("HS256", identity_token("HS256", &claims("u1", later))),
        ("issuer", identity_token("RS256", &wrong_issuer)),
        ("empty sub", identity_token("RS256", &claims("", later))),
        ("expired", identity_token("RS256", &claims("u1", T0 / 1000))),
        ("tampered", tampered),
        ("garbage", "a.b".to_owned()),
    ] {
        let response = verified(&mut server, &identity);
        assert_eq!(response.status, 401, "{case}");
    }
    server.knobs_mut().unverified_identity = UnverifiedIdentity::FallBackToAnonymous;
    let fallback = verified(&mut server, &identity_token("RS256", &claims("", later)));
    assert_eq!(fallback.status, 200);
    let subject = fallback.body_json()["context"]["endUser"]["subject"]
        .as_str()
        .map(str::to_owned);
    assert!(subject.is_some_and(|s| s.starts_with("v2/iamessage/ANON/")));
}
