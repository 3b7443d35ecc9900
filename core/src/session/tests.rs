//! Per-transition unit tests, with bodies shaped like the real server's (spec §4–§5).

use std::time::Duration;

use super::*;
use crate::liveagent::headers::{AFFINITY, API_VERSION, SEQUENCE, SESSION_KEY};
use crate::liveagent::{CustomDetail, LiveAgentRequest, Resource};

const SESSION_ID: &str = r#"{"key":"ec550263-354e-477c-b773-7747ebce3f5e!1629334776994!TrfoJ67wmtlYiENsWdaUBu0xZ7M=","id":"ec550263-354e-477c-b773-7747ebce3f5e","clientPollTimeout":40,"affinityToken":"878a1fa0"}"#;
const KEY: &str = "ec550263-354e-477c-b773-7747ebce3f5e!1629334776994!TrfoJ67wmtlYiENsWdaUBu0xZ7M=";

fn config() -> SessionConfig {
    SessionConfig {
        organization_id: "00DD0000000JVXs".into(),
        deployment_id: "572D000000000J6".into(),
        button_id: "573D000000000OC".into(),
        ..SessionConfig::default()
    }
}

fn chat_request() -> ChatRequest {
    ChatRequest {
        visitor_name: "Wei".into(),
        language: "zh-CN".into(),
        prechat_details: vec![CustomDetail::shown("WeChat OpenID", "oUser1")],
        prechat_entities: vec![],
    }
}

struct Harness {
    session: Session,
    now: Timestamp,
}

type Sent = (RequestId, LiveAgentRequest);

impl Harness {
    fn new() -> (Harness, Vec<Output>) {
        let now = Timestamp::from_millis(1_000);
        let mut h = Harness {
            session: Session::new(config(), chat_request(), now),
            now,
        };
        let out = h.drain();
        (h, out)
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.session.poll_output()).collect()
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.session.handle(input, self.now).expect("legal input");
        self.drain()
    }

    fn respond(&mut self, id: RequestId, status: u16, body: &str) -> Vec<Output> {
        self.input(Input::Response {
            id,
            status,
            body: body.to_owned(),
        })
    }

    fn visitor(&mut self, action: VisitorAction) -> Vec<Output> {
        self.input(Input::Visitor(action))
    }

    fn advance(&mut self, by: Duration) -> Vec<Output> {
        self.now = self.now + by;
        self.input(Input::Timeout)
    }

    /// Through SessionId and ChasitorInit; returns the first poll.
    fn polling() -> (Harness, Sent) {
        let (mut h, out) = Harness::new();
        let (id, _) = only(requests(&out), Resource::SessionId);
        let out = h.respond(id, 200, SESSION_ID);
        let (id, _) = only(requests(&out), Resource::ChasitorInit);
        let poll = only(requests(&out), Resource::Messages);
        let out = h.respond(id, 200, "OK");
        none_of(&requests(&out), Resource::Messages);
        assert_eq!(h.session.state(), StateKind::Polling);
        (h, poll)
    }

    /// Polling with an agent joined; returns the outstanding poll.
    fn chatting() -> (Harness, Sent) {
        let (mut h, (poll, _)) = Harness::polling();
        let out = h.respond(
            poll,
            200,
            r#"{"messages":[{"type":"ChatEstablished","message":{"name":"Andy L.","userId":"005B0000000F3b2","sneakPeekEnabled":true,"chasitorIdleTimeout":{"isEnabled":false}}}],"sequence":2,"offset":1574190116}"#,
        );
        let poll = only(requests(&out), Resource::Messages);
        (h, poll)
    }
}

fn requests(out: &[Output]) -> Vec<Sent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Request { id, request, .. } => Some((*id, request.clone())),
            Output::Cancel(_) | Output::Event(_) | Output::Persist | Output::ProtocolError(_) => {
                None
            }
        })
        .collect()
}

fn events(out: &[Output]) -> Vec<SessionEvent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            Output::Request { .. }
            | Output::Cancel(_)
            | Output::Persist
            | Output::ProtocolError(_) => None,
        })
        .collect()
}

fn only(sent: Vec<Sent>, resource: Resource) -> Sent {
    let matching: Vec<Sent> = sent
        .into_iter()
        .filter(|(_, r)| r.resource == resource)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "expected exactly one {resource:?}: {matching:?}"
    );
    matching.into_iter().next().unwrap()
}

fn none_of(sent: &[Sent], resource: Resource) {
    assert!(
        sent.iter().all(|(_, r)| r.resource != resource),
        "unexpected {resource:?} in {sent:?}"
    );
}

fn text_of(request: &LiveAgentRequest) -> String {
    let body: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    body["text"].as_str().unwrap().to_owned()
}

#[test]
fn creates_session_with_null_affinity_and_api_version() {
    let (_, out) = Harness::new();
    let (_, req) = only(requests(&out), Resource::SessionId);
    assert_eq!(req.method, crate::liveagent::Method::Get);
    assert_eq!(req.header_value(AFFINITY), Some("null"));
    assert_eq!(req.header_value(API_VERSION), Some("52"));
    assert_eq!(req.header_value(SESSION_KEY), None);
}

#[test]
fn sends_chasitor_init_as_post_one_with_configured_details() {
    let (mut h, out) = Harness::new();
    let (id, _) = only(requests(&out), Resource::SessionId);
    let out = h.respond(id, 200, SESSION_ID);
    let persist_at = out.iter().position(|o| *o == Output::Persist).unwrap();
    let request_at = out
        .iter()
        .position(|o| matches!(o, Output::Request { .. }))
        .unwrap();
    assert!(
        persist_at < request_at,
        "snapshot is stored before the POST goes out"
    );
    let (_, init) = only(requests(&out), Resource::ChasitorInit);
    assert_eq!(init.sequence_number(), Some(1));
    assert_eq!(init.header_value(SESSION_KEY), Some(KEY));
    assert_eq!(init.header_value(AFFINITY), Some("878a1fa0"));
    let body: serde_json::Value = serde_json::from_str(init.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["organizationId"], "00DD0000000JVXs");
    assert_eq!(body["deploymentId"], "572D000000000J6");
    assert_eq!(body["buttonId"], "573D000000000OC");
    assert_eq!(body["sessionId"], "ec550263-354e-477c-b773-7747ebce3f5e");
    assert_eq!(body["visitorName"], "Wei");
    assert_eq!(body["language"], "zh-CN");
    assert_eq!(body["prechatDetails"][0]["value"], "oUser1");
    assert_eq!(body["receiveQueueUpdates"], true);
    assert_eq!(body["isPost"], true);
    let (_, poll) = only(requests(&out), Resource::Messages);
    assert_eq!(poll.path_and_query(), "/chat/rest/System/Messages?ack=-1");
}

#[test]
fn first_poll_acks_minus_one_with_poll_timeout_plus_slack() {
    let (h, (_, poll)) = Harness::polling();
    assert_eq!(poll.path_and_query(), "/chat/rest/System/Messages?ack=-1");
    assert_eq!(
        poll.header_value(SEQUENCE),
        None,
        "Messages carries no sequence"
    );
    let deadline = h.session.poll_timeout().unwrap();
    assert_eq!(deadline, h.now + Duration::from_secs(45));
}

#[test]
fn accepts_client_poll_timeout_sent_as_a_string() {
    let (mut h, out) = Harness::new();
    let (id, _) = only(requests(&out), Resource::SessionId);
    let out = h.respond(
        id,
        200,
        r#"{"id":"a","key":"a!1!s","affinityToken":"99b51fa0","clientPollTimeout":"30"}"#,
    );
    only(requests(&out), Resource::ChasitorInit);
    only(requests(&out), Resource::Messages);
    let deadlines: Vec<Timestamp> = h.session.io.inflight.values().map(|f| f.deadline).collect();
    assert!(
        deadlines.contains(&(h.now + Duration::from_secs(35))),
        "30 s + 5 s slack"
    );
}

#[test]
fn acks_the_last_sequence_and_polls_again_after_a_batch() {
    let (mut h, (poll, _)) = Harness::polling();
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChatRequestSuccess","message":{"queuePosition":2,"estimatedWaitTime":90,"connectionTimeout":150000}},{"type":"QueueUpdate","message":{"position":1}}],"sequence":1,"offset":54647226}"#,
    );
    assert_eq!(
        events(&out),
        vec![
            SessionEvent::Queued {
                position: Some(2),
                estimated_wait_secs: Some(90)
            },
            SessionEvent::Queued {
                position: Some(1),
                estimated_wait_secs: None
            },
        ]
    );
    let (_, next) = only(requests(&out), Resource::Messages);
    assert_eq!(next.path_and_query(), "/chat/rest/System/Messages?ack=1");
    assert_eq!(h.session.snapshot().ack(), Some(1));
}

#[test]
fn polls_again_with_the_same_ack_after_204_and_409() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.respond(poll, 204, "");
    let (poll, req) = only(requests(&out), Resource::Messages);
    assert_eq!(req.path_and_query(), "/chat/rest/System/Messages?ack=2");
    let out = h.respond(poll, 409, "");
    let (_, req) = only(requests(&out), Resource::Messages);
    assert_eq!(req.path_and_query(), "/chat/rest/System/Messages?ack=2");
    assert!(events(&out).is_empty());
}

#[test]
fn holds_visitor_text_until_the_agent_joins_then_sends_in_order() {
    let (mut h, (poll, _)) = Harness::polling();
    for text in ["first", "second"] {
        let out = h.visitor(VisitorAction::Text(text.into()));
        none_of(&requests(&out), Resource::ChatMessage);
    }
    let out = h.visitor(VisitorAction::Typing);
    assert!(requests(&out).is_empty(), "typing is dropped while queued");
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChatEstablished","message":{"name":"Andy L.","userId":"005B0000000F3b2"}}],"sequence":1,"offset":9}"#,
    );
    assert_eq!(
        events(&out),
        vec![SessionEvent::AgentJoined(Agent {
            name: "Andy L.".into(),
            user_id: "005B0000000F3b2".into()
        })]
    );
    let (id, first) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(text_of(&first), "first");
    assert_eq!(first.sequence_number(), Some(2));
    let out = h.respond(id, 200, "OK");
    let (_, second) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(text_of(&second), "second");
    assert_eq!(second.sequence_number(), Some(3));
}

#[test]
fn serialises_posts_one_at_a_time() {
    let (mut h, _) = Harness::chatting();
    let out = h.visitor(VisitorAction::Text("a".into()));
    let (id, _) = only(requests(&out), Resource::ChatMessage);
    let out = h.visitor(VisitorAction::Text("b".into()));
    assert!(requests(&out).is_empty(), "second POST waits for the first");
    let out = h.respond(id, 200, "OK");
    let (_, b) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(text_of(&b), "b");
}

#[test]
fn retries_a_failed_post_with_the_same_number() {
    let (mut h, _) = Harness::chatting();
    let out = h.visitor(VisitorAction::Text("a".into()));
    let (id, first) = only(requests(&out), Resource::ChatMessage);
    let out = h.input(Input::Failed {
        id,
        failure: TransportFailure::Reset,
    });
    assert!(requests(&out).is_empty(), "retry waits for its timer");
    let out = h.advance(Duration::from_secs(2));
    let (id, again) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(again.sequence_number(), first.sequence_number());
    let out = h.respond(id, 500, "");
    let out2 = h.advance(Duration::from_secs(4));
    assert!(requests(&out).is_empty());
    let (_, third) = only(requests(&out2), Resource::ChatMessage);
    assert_eq!(third.sequence_number(), first.sequence_number());
}

#[test]
fn continues_from_actual_plus_one_after_out_of_sync() {
    let (mut h, _) = Harness::chatting();
    let out = h.visitor(VisitorAction::Text("a".into()));
    let (id, _) = only(requests(&out), Resource::ChatMessage);
    let out = h.respond(id, 409, "Out of sync Ack. Expected 2. Actual 4");
    let (id, again) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(again.sequence_number(), Some(5));
    assert_eq!(text_of(&again), "a");
    h.respond(id, 200, "OK");
    let out = h.visitor(VisitorAction::Text("b".into()));
    assert_eq!(
        only(requests(&out), Resource::ChatMessage)
            .1
            .sequence_number(),
        Some(6)
    );
}

#[test]
fn treats_out_of_sync_at_its_own_number_as_already_delivered() {
    let (mut h, _) = Harness::chatting();
    h.visitor(VisitorAction::Text("a".into()));
    let out = h.visitor(VisitorAction::Text("b".into()));
    assert!(requests(&out).is_empty());
    // The first POST (number 2) is answered: "the server already accepted 2".
    let pending: Vec<RequestId> = h.session.io.inflight.keys().copied().collect();
    let post = pending
        .into_iter()
        .find(|id| h.session.io.inflight[id].purpose == Purpose::Post)
        .unwrap();
    let out = h.respond(post, 409, "Out of sync Ack. Expected 2. Actual 2");
    let (_, b) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(text_of(&b), "b");
    assert_eq!(b.sequence_number(), Some(3));
}

const RECONNECT: &str = r#"{"messages":[{"type":"ReconnectSession","message":{"resetSequence":true,"affinityToken":"efae1fa0"}}]}"#;

#[test]
fn replays_unsent_posts_after_503_with_reconnect_and_resync_state() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.visitor(VisitorAction::Text("during failover".into()));
    let (post, _) = only(requests(&out), Resource::ChatMessage);
    // The POST hits the moved server.
    let out = h.respond(post, 503, "Invalid Affinity Token");
    assert!(out.contains(&Output::Cancel(poll)), "the poll is cancelled");
    let (id, reconnect) = only(requests(&out), Resource::ReconnectSession);
    assert_eq!(
        reconnect.path_and_query(),
        "/chat/rest/System/ReconnectSession?ReconnectSession.offset=1574190116"
    );
    assert_eq!(reconnect.header_value(AFFINITY), Some("null"));
    assert_eq!(reconnect.header_value(SESSION_KEY), Some(KEY));
    none_of(&requests(&out), Resource::ChatMessage);
    let out = h.respond(id, 200, RECONNECT);
    let (poll, req) = only(requests(&out), Resource::Messages);
    assert_eq!(req.header_value(AFFINITY), Some("efae1fa0"));
    none_of(&requests(&out), Resource::ChatMessage);
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChasitorSessionData","message":{"queuePosition":0,"chatMessages":[{"type":"Agent","name":"Andy L.","content":"hi","timestamp":1,"sequence":1}]}}],"sequence":3,"offset":1574190200}"#,
    );
    let (id, resync) = only(requests(&out), Resource::ChasitorResyncState);
    assert_eq!(resync.header_value(SEQUENCE), None);
    assert_eq!(
        resync.body.as_deref(),
        Some(r#"{"organizationId":"00DD0000000JVXs"}"#)
    );
    none_of(&requests(&out), Resource::ChatMessage);
    let out = h.respond(id, 200, "OK");
    assert_eq!(events(&out), vec![SessionEvent::Reconnected]);
    let (_, replay) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(text_of(&replay), "during failover");
    assert_eq!(
        replay.sequence_number(),
        Some(1),
        "sequence reset by ReconnectSession"
    );
    assert_eq!(replay.header_value(AFFINITY), Some("efae1fa0"));
}

#[test]
fn does_not_resend_a_text_the_transcript_shows_was_delivered() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.visitor(VisitorAction::Text("maybe delivered".into()));
    let (post, _) = only(requests(&out), Resource::ChatMessage);
    // The answer to the POST is lost, then the session moves.
    h.input(Input::Failed {
        id: post,
        failure: TransportFailure::Reset,
    });
    let out = h.respond(poll, 503, "");
    let (id, _) = only(requests(&out), Resource::ReconnectSession);
    let out = h.respond(id, 200, RECONNECT);
    let (poll, _) = only(requests(&out), Resource::Messages);
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChasitorSessionData","message":{"chatMessages":[{"type":"Chasitor","name":"Wei","content":"maybe delivered"}]}}],"sequence":3,"offset":7}"#,
    );
    let (id, _) = only(requests(&out), Resource::ChasitorResyncState);
    let out = h.respond(id, 200, "OK");
    none_of(&requests(&out), Resource::ChatMessage);
}

#[test]
fn uses_resync_session_below_api_37() {
    let now = Timestamp::from_millis(0);
    let mut s = Session::new(
        SessionConfig {
            api_version: 36,
            ..config()
        },
        chat_request(),
        now,
    );
    let drain = |s: &mut Session| std::iter::from_fn(|| s.poll_output()).collect::<Vec<_>>();
    let out = drain(&mut s);
    let (id, _) = only(requests(&out), Resource::SessionId);
    s.handle(
        Input::Response {
            id,
            status: 200,
            body: SESSION_ID.into(),
        },
        now,
    )
    .unwrap();
    let out = drain(&mut s);
    let (init, _) = only(requests(&out), Resource::ChasitorInit);
    let (poll, _) = only(requests(&out), Resource::Messages);
    let answer = |id, status: u16, body: &str| Input::Response {
        id,
        status,
        body: body.into(),
    };
    s.handle(answer(init, 200, "OK"), now).unwrap();
    drain(&mut s);
    s.handle(answer(poll, 503, ""), now).unwrap();
    let (id, req) = only(requests(&drain(&mut s)), Resource::ResyncSession);
    assert_eq!(
        req.path_and_query(),
        "/chat/rest/System/ResyncSession?SessionId=ec550263-354e-477c-b773-7747ebce3f5e"
    );
    s.handle(
        Input::Response {
            id,
            status: 200,
            body: r#"{"isValid":true,"key":"new!2!k","affinityToken":"73061fa0"}"#.into(),
        },
        now,
    )
    .unwrap();
    let (_, poll) = only(requests(&drain(&mut s)), Resource::Messages);
    assert_eq!(poll.header_value(SESSION_KEY), Some("new!2!k"));
    assert_eq!(poll.header_value(AFFINITY), Some("73061fa0"));
}

#[test]
fn resumes_polling_when_reconnect_says_no_failover_is_pending() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.respond(poll, 503, "");
    let (id, _) = only(requests(&out), Resource::ReconnectSession);
    let out = h.respond(id, 405, "");
    let (_, poll) = only(requests(&out), Resource::Messages);
    assert_eq!(poll.header_value(AFFINITY), Some("878a1fa0"));
    assert_eq!(h.session.state(), StateKind::Polling);
}

#[test]
fn recovers_the_session_when_chasitor_init_hits_503_and_resends_it() {
    let (mut h, out) = Harness::new();
    let (id, _) = only(requests(&out), Resource::SessionId);
    let out = h.respond(id, 200, SESSION_ID);
    let (init, _) = only(requests(&out), Resource::ChasitorInit);
    let (poll, _) = only(requests(&out), Resource::Messages);
    let out = h.respond(init, 503, "");
    assert!(out.contains(&Output::Cancel(poll)));
    let (id, _) = only(requests(&out), Resource::ReconnectSession);
    let out = h.respond(id, 200, RECONNECT);
    let (poll, _) = only(requests(&out), Resource::Messages);
    // Nothing in the log: the server never got the chat request.
    let out = h.respond(poll, 204, "");
    let (id, _) = only(requests(&out), Resource::ChasitorResyncState);
    let out = h.respond(id, 200, "OK");
    let (_, init) = only(requests(&out), Resource::ChasitorInit);
    assert_eq!(init.sequence_number(), Some(1));
    assert_eq!(h.session.state(), StateKind::Established);
}

#[test]
fn does_not_resend_a_chat_request_the_event_log_shows_arrived() {
    let (mut h, out) = Harness::new();
    let (id, _) = only(requests(&out), Resource::SessionId);
    let out = h.respond(id, 200, SESSION_ID);
    let (init, _) = only(requests(&out), Resource::ChasitorInit);
    let (poll, _) = only(requests(&out), Resource::Messages);
    // The answer to ChasitorInit is lost, but the poll shows the chat was requested.
    h.input(Input::Failed {
        id: init,
        failure: TransportFailure::Reset,
    });
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChatRequestSuccess","message":{"queuePosition":0}}],"sequence":0,"offset":4}"#,
    );
    assert_eq!(h.session.state(), StateKind::Polling);
    let out2 = h.advance(Duration::from_secs(30));
    none_of(&requests(&out), Resource::ChasitorInit);
    none_of(&requests(&out2), Resource::ChasitorInit);
}

#[test]
fn ends_on_chat_request_fail_with_its_reason() {
    let (mut h, (poll, _)) = Harness::polling();
    h.visitor(VisitorAction::Text("hello?".into()));
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChatRequestFail","message":{"reason":"Unavailable","postChatUrl":""}}],"sequence":0,"offset":5}"#,
    );
    assert_eq!(
        events(&out),
        vec![SessionEvent::Ended {
            reason: EndReason::RequestFailed(RequestFailReason::Unavailable),
            undelivered: vec!["hello?".into()],
        }]
    );
    assert!(requests(&out).is_empty());
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn ends_when_the_agent_ends_the_chat() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChatMessage","message":{"name":"Andy L.","text":"bye"}},{"type":"ChatEnded","message":{"reason":"agent","attachedRecords":[]}},{"type":"ChatMessage","message":{"name":"Andy L.","text":"after end"}}],"sequence":5,"offset":11}"#,
    );
    assert_eq!(
        events(&out),
        vec![
            SessionEvent::AgentText {
                name: "Andy L.".into(),
                text: "bye".into()
            },
            SessionEvent::Ended {
                reason: EndReason::ChatEnded(ChatEndedBy::Agent),
                undelivered: vec![]
            },
        ]
    );
    assert!(requests(&out).is_empty());
    assert_eq!(
        h.session
            .handle(Input::Visitor(VisitorAction::Text("x".into())), h.now),
        Err(SessionError::Ended)
    );
}

#[test]
fn ends_on_403_as_session_invalid() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.respond(poll, 403, "Session required but was invalid or not found");
    assert!(matches!(
        events(&out).as_slice(),
        [SessionEvent::Ended {
            reason: EndReason::SessionInvalid,
            ..
        }]
    ));
}

/// Polling in a queue whose deployment allows 10 s of failing requests; returns the poll.
fn polling_with_a_ten_second_budget() -> (Harness, RequestId) {
    let (mut h, (poll, _)) = Harness::polling();
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"ChatRequestSuccess","message":{"queuePosition":1,"connectionTimeout":"10000"}}],"sequence":0,"offset":3}"#,
    );
    let (poll, _) = only(requests(&out), Resource::Messages);
    (h, poll)
}

fn lost_the_connection(out: &[Output]) -> bool {
    events(out).iter().any(|e| {
        matches!(
            e,
            SessionEvent::Ended {
                reason: EndReason::ConnectionLost,
                ..
            }
        )
    })
}

#[test]
fn ends_when_polls_fail_longer_than_the_connection_timeout() {
    let (mut h, mut poll) = polling_with_a_ten_second_budget();
    let mut ended = false;
    for _ in 0..10 {
        let out = h.input(Input::Failed {
            id: poll,
            failure: TransportFailure::Connect,
        });
        if lost_the_connection(&out) {
            ended = true;
            break;
        }
        let out = h.advance(Duration::from_secs(2));
        poll = only(requests(&out), Resource::Messages).0;
    }
    assert!(ended, "ten-second budget exhausted after five 2 s retries");
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn cancels_and_repolls_when_a_poll_outlives_its_deadline() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.advance(Duration::from_secs(45));
    assert!(out.contains(&Output::Cancel(poll)));
    assert!(requests(&out).is_empty());
    let out = h.advance(Duration::from_secs(2));
    only(requests(&out), Resource::Messages);
}

#[test]
fn ends_after_the_server_confirms_visitor_chat_end() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.visitor(VisitorAction::End);
    let (id, end) = only(requests(&out), Resource::ChatEnd);
    assert_eq!(end.body.as_deref(), Some(r#"{"reason":"client"}"#));
    assert_eq!(
        h.session
            .handle(Input::Visitor(VisitorAction::Text("late".into())), h.now),
        Err(SessionError::Ended)
    );
    let out = h.respond(id, 200, "OK");
    assert!(out.contains(&Output::Cancel(poll)));
    assert!(matches!(
        events(&out).as_slice(),
        [SessionEvent::Ended {
            reason: EndReason::VisitorEnded,
            ..
        }]
    ));
}

#[test]
fn relays_an_eighteen_event_batch_in_order() {
    let (mut h, (poll, _)) = Harness::polling();
    let mut messages = vec![
        r#"{"type":"ChatRequestSuccess","message":{"queuePosition":1,"geoLocation":{"countryCode":"CN","countryName":"China","latitude":31.2,"longitude":"121.5"},"url":"","oref":"","postChatUrl":"","sensitiveDataRules":[],"customDetails":[],"visitorId":"a1b2","connectionTimeout":150000,"estimatedWaitTime":-1}}"#.to_owned(),
        r#"{"type":"QueueUpdate","message":{"position":0,"estimatedWaitTime":"12"}}"#.to_owned(),
        r#"{"type":"ChatEstablished","message":{"name":"Andy L.","userId":"005B0000000F3b2","items":[],"sneakPeekEnabled":false,"chasitorIdleTimeout":{"isEnabled":false}}}"#.to_owned(),
    ];
    for i in 0..5 {
        messages.push(
            r#"{"type":"AgentTyping","message":{"name":"Andy L.","agentId":"9a0b"}}"#.to_owned(),
        );
        messages.push(format!(r#"{{"type":"ChatMessage","message":{{"name":"Andy L.","text":"line {i}","agentId":"005B0000000F3b2","schedule":{{"responseDelayMilliseconds":0.0}}}}}}"#));
        messages.push(r#"{"type":"AgentNotTyping","message":{"name":"Andy L."}}"#.to_owned());
    }
    let body = format!(
        r#"{{"messages":[{}],"sequence":17,"offset":1636522046}}"#,
        messages.join(",")
    );
    let out = h.respond(poll, 200, &body);
    let got = events(&out);
    assert_eq!(
        got.len(),
        3 + 5 * 2,
        "stale AgentTyping dropped, the rest kept"
    );
    assert_eq!(
        got[0],
        SessionEvent::Queued {
            position: Some(1),
            estimated_wait_secs: Some(-1)
        }
    );
    assert_eq!(
        got[1],
        SessionEvent::Queued {
            position: Some(0),
            estimated_wait_secs: Some(12)
        }
    );
    let texts: Vec<String> = got
        .iter()
        .filter_map(|e| match e {
            SessionEvent::AgentText { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        (0..5).map(|i| format!("line {i}")).collect::<Vec<_>>()
    );
    assert_eq!(h.session.snapshot().ack(), Some(17));
}

#[test]
fn surfaces_file_requests_and_keeps_unknown_events() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.respond(
        poll,
        200,
        r#"{"messages":[{"type":"FileTransfer","message":{"type":"Requested","fileToken":"tok","uploadServletUrl":"https://up/x","cdmServletUrl":"https://cdm/x"}},{"type":"AgentJoinedConference","message":{"name":"Bo"}},{"type":"AgentDisconnect","message":{}}],"sequence":5,"offset":12}"#,
    );
    assert_eq!(
        events(&out),
        vec![
            SessionEvent::FileTransfer(FileTransferEvent {
                kind: FileTransferKind::Requested,
                file_token: Some("tok".into()),
                upload_url: Some("https://up/x".into()),
                cdm_url: Some("https://cdm/x".into()),
            }),
            SessionEvent::Unhandled {
                event_type: "AgentJoinedConference".into()
            },
            SessionEvent::AgentDisconnected,
        ]
    );
}

#[test]
fn restore_resumes_polling_with_the_same_key_and_ack_without_a_new_chat_request() {
    let (mut h, (poll, _)) = Harness::chatting();
    h.respond(poll, 200, r#"{"messages":[{"type":"ChatMessage","message":{"name":"A","text":"x"}}],"sequence":3,"offset":20}"#);
    let stored = h.session.snapshot().clone();
    let mut restored = Session::restore(config(), stored, h.now);
    let out: Vec<Output> = std::iter::from_fn(|| restored.poll_output()).collect();
    let sent = requests(&out);
    let (_, poll) = only(sent.clone(), Resource::Messages);
    none_of(&sent, Resource::SessionId);
    none_of(&sent, Resource::ChasitorInit);
    assert_eq!(poll.path_and_query(), "/chat/rest/System/Messages?ack=3");
    assert_eq!(poll.header_value(SESSION_KEY), Some(KEY));
}

#[test]
fn a_poll_that_only_renews_itself_is_not_written() {
    let (mut h, (poll, _)) = Harness::chatting();
    let out = h.respond(poll, 204, "");
    only(requests(&out), Resource::Messages);
    assert!(
        !out.contains(&Output::Persist),
        "an empty poll changes nothing a restart needs: {out:?}"
    );
    let out = h.respond(
        only(requests(&out), Resource::Messages).0,
        200,
        r#"{"messages":[{"type":"ChatMessage","message":{"name":"A","text":"x"}}],"sequence":3,"offset":20}"#,
    );
    assert!(out.contains(&Output::Persist), "a new ack is written");
}

#[test]
fn a_restored_session_polls_without_writing_first() {
    let (h, _) = Harness::chatting();
    let stored = h.session.snapshot().clone();
    let mut restored = Session::restore(config(), stored, h.now);
    let out: Vec<Output> = std::iter::from_fn(|| restored.poll_output()).collect();
    only(requests(&out), Resource::Messages);
    assert!(!out.contains(&Output::Persist), "{out:?}");
}

#[test]
fn restore_resends_an_unacknowledged_post_with_its_original_number() {
    let (mut h, _) = Harness::chatting();
    let out = h.visitor(VisitorAction::Text("in flight".into()));
    let (_, before) = only(requests(&out), Resource::ChatMessage);
    let stored = h.session.snapshot().clone();
    let mut restored = Session::restore(config(), stored, h.now);
    let out: Vec<Output> = std::iter::from_fn(|| restored.poll_output()).collect();
    let (_, after) = only(requests(&out), Resource::ChatMessage);
    assert_eq!(after.sequence_number(), before.sequence_number());
    assert_eq!(text_of(&after), "in flight");
}

#[test]
fn ignores_answers_to_cancelled_requests_and_rejects_unknown_ids() {
    let (mut h, (poll, _)) = Harness::chatting();
    h.advance(Duration::from_secs(45));
    let out = h.respond(poll, 200, r#"{"messages":[],"sequence":9}"#);
    assert!(out.is_empty(), "a cancelled poll's answer changes nothing");
    let err = h.session.handle(
        Input::Response {
            id: RequestId(999),
            status: 200,
            body: String::new(),
        },
        h.now,
    );
    assert_eq!(err, Err(SessionError::UnknownRequest(RequestId(999))));
}

#[test]
fn drops_a_post_the_server_refuses_for_good_and_says_so() {
    let (mut h, _) = Harness::chatting();
    h.visitor(VisitorAction::CustomEvent {
        kind: "k".into(),
        data: "d".into(),
    });
    let id = *h.session.io.inflight.keys().max().unwrap();
    let out = h.respond(id, 400, "bad");
    assert_eq!(
        events(&out),
        vec![SessionEvent::PostRejected {
            resource: Resource::CustomEvent,
            status: 400
        }]
    );
}

#[test]
fn snapshot_round_trips_through_serde() {
    let (mut h, _) = Harness::chatting();
    h.visitor(VisitorAction::Text("kept".into()));
    let snapshot = h.session.snapshot().clone();
    let json = serde_json::to_string(&snapshot).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
}

#[test]
fn an_undecodable_200_is_a_protocol_error_retried_like_a_server_error_until_the_budget_ends() {
    let (mut h, mut poll) = polling_with_a_ten_second_budget();
    let mut errors = 0;
    let mut ended = false;
    for _ in 0..10 {
        // A proxy's error page, or a truncated body, with status 200.
        let out = h.respond(poll, 200, "<html><body>Service Unavailable</body></html>");
        errors += out
            .iter()
            .filter(|o| **o == Output::ProtocolError(Resource::Messages))
            .count();
        assert_eq!(
            out.first(),
            Some(&Output::ProtocolError(Resource::Messages)),
            "reported first, for the driver's metrics"
        );
        if lost_the_connection(&out) {
            ended = true;
            break;
        }
        // Not polled again at once: backed off like a 5xx.
        none_of(&requests(&out), Resource::Messages);
        let out = h.advance(Duration::from_secs(2));
        poll = only(requests(&out), Resource::Messages).0;
    }
    assert!(ended, "the chat ends with connection lost past the budget");
    assert!(errors >= 5, "each bad answer is reported: {errors}");
}

#[test]
fn an_undecodable_session_id_answer_is_a_protocol_error() {
    let (mut h, out) = Harness::new();
    let (id, _) = only(requests(&out), Resource::SessionId);
    let out = h.respond(id, 200, r#"{"id": 42}"#);
    assert_eq!(
        out.first(),
        Some(&Output::ProtocolError(Resource::SessionId))
    );
    assert_eq!(h.session.state(), StateKind::Init);
}
