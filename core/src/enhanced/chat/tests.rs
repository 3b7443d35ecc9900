//! The machine's behaviours, one input at a time, with server bodies shaped like §4–§7's.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::desk::DeskEnd;
use crate::enhanced::sse::SseEvent;
use crate::enhanced::wire::{Deployment, EnhancedRequest};

const CONVERSATION: &str = "3f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b";

fn config() -> EnhancedConfig {
    EnhancedConfig::new(Deployment {
        org_id: "00D5g000004ABCDEAA".into(),
        es_developer_name: "Switchboard_Client".into(),
        client_version: "test".into(),
    })
}

fn start(verified: bool) -> EnhancedStart {
    EnhancedStart {
        conversation_id: CONVERSATION.into(),
        verified_subject: verified.then(|| "sub-1".to_owned()),
        routing_attributes: BTreeMap::from([("Channel_Source".to_owned(), "WeChat".to_owned())]),
        language: None,
    }
}

/// A machine and the clock, with helpers that answer what it asks.
struct Rig {
    chat: EnhancedChat,
    now: Timestamp,
    out: Vec<Output>,
    /// Every request handed out, by its debug form.
    in_flight: std::collections::HashMap<String, RequestId>,
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_millis(secs * 1000)
}

impl Rig {
    fn with_config(config: EnhancedConfig, verified: bool) -> Rig {
        let mut chat = EnhancedChat::new(config, start(verified), at(0));
        let out = drain(&mut chat);
        let mut rig = Rig {
            chat,
            now: at(0),
            out: Vec::new(),
            in_flight: Default::default(),
        };
        rig.take(out);
        rig
    }

    fn feed(&mut self, input: Input) {
        self.chat.handle(input, self.now).expect("legal input");
        let out = drain(&mut self.chat);
        self.take(out);
    }

    fn take(&mut self, out: Vec<Output>) {
        for o in &out {
            if let Output::Request { id, request, .. } = o {
                self.in_flight.insert(format!("{request:?}"), *id);
            }
        }
        self.out = out;
    }

    fn advance(&mut self, secs: u64) {
        self.now = self.now + Duration::from_secs(secs);
        self.feed(Input::Timeout);
    }

    /// The REST request among the last outputs (exactly one).
    fn request(&self) -> (RequestId, EnhancedRequest, Option<String>) {
        let requests: Vec<_> = self
            .out
            .iter()
            .filter_map(|o| match o {
                Output::Request {
                    id,
                    request,
                    bearer,
                    ..
                } => Some((*id, request.clone(), bearer.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(requests.len(), 1, "one request expected: {:?}", self.out);
        requests[0].clone()
    }

    fn no_request(&self) {
        assert!(
            !self.out.iter().any(|o| matches!(o, Output::Request { .. })),
            "no request expected: {:?}",
            self.out
        );
    }

    fn stream(&self) -> (RequestId, String, String) {
        self.out
            .iter()
            .find_map(|o| match o {
                Output::OpenStream {
                    id,
                    bearer,
                    last_event_id,
                } => Some((*id, bearer.clone(), last_event_id.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a stream expected: {:?}", self.out))
    }

    fn events(&self) -> Vec<DeskEvent> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Answers the request `sent`, made earlier (matched by its content among the ids handed
    /// out: the machine has one REST request in flight at a time).
    fn answer_to(&mut self, sent: EnhancedRequest, status: u16, body: &str) {
        let id = self
            .in_flight
            .get(&format!("{sent:?}"))
            .copied()
            .expect("sent");
        self.feed(Input::Response {
            id,
            status,
            body: body.into(),
        });
    }

    fn answer(&mut self, status: u16, body: &str) {
        let (id, ..) = self.request();
        self.feed(Input::Response {
            id,
            status,
            body: body.into(),
        });
    }

    /// Token, stream, conversation: an open chat whose stream is `stream`.
    fn open(verified: bool) -> (Rig, RequestId) {
        Rig::open_with(config(), verified)
    }

    fn open_with(config: EnhancedConfig, verified: bool) -> (Rig, RequestId) {
        let mut rig = Rig::with_config(config, verified);
        assert!(matches!(
            rig.request().1,
            EnhancedRequest::UnauthenticatedToken | EnhancedRequest::VerifiedToken { .. }
        ));
        rig.answer(200, r#"{"accessToken":"tok-1","lastEventId":"100"}"#);
        let (stream, bearer, last) = rig.stream();
        assert_eq!((bearer.as_str(), last.as_str()), ("tok-1", "100"));
        rig.no_request();
        rig.feed(Input::StreamOpened { id: stream });
        let (_, create, bearer) = rig.request();
        assert!(matches!(create, EnhancedRequest::CreateConversation { .. }));
        assert_eq!(bearer.as_deref(), Some("tok-1"));
        rig.answer(201, "{}");
        assert_eq!(rig.out.first(), Some(&Output::Persist));
        // Once created, one list of what the stream may have let by, before anything is sent.
        let (_, list, _) = rig.request();
        assert!(
            matches!(list, EnhancedRequest::ListEntries { since: None, .. }),
            "{list:?}"
        );
        rig.answer(200, r#"{"conversationEntries":[]}"#);
        rig.no_request();
        (rig, stream)
    }

    fn entry_event(&mut self, stream: RequestId, id: u64, entry: &str) {
        self.feed(Input::StreamEvent {
            id: stream,
            event: SseEvent {
                event: "CONVERSATION_MESSAGE".into(),
                data: format!(
                    r#"{{"conversationId":"{CONVERSATION}","conversationEntry":{entry}}}"#
                ),
                id: Some(id.to_string()),
            },
        });
    }
}

fn drain(chat: &mut EnhancedChat) -> Vec<Output> {
    std::iter::from_fn(|| chat.poll_output()).collect()
}

fn agent_text(identifier: &str, text: &str, at_ms: u64) -> String {
    let payload = format!(
        r#"{{\"entryType\":\"Message\",\"abstractMessage\":{{\"id\":\"{identifier}\",\"staticContent\":{{\"formatType\":\"Text\",\"text\":\"{text}\"}}}}}}"#
    );
    format!(
        r#"{{"identifier":"{identifier}","entryType":"Message","sender":{{"role":"Agent","subject":"005x"}},"transcriptedTimestamp":{at_ms},"entryPayload":"{payload}"}}"#
    )
}

fn agent_joins(identifier: &str) -> String {
    let payload = r#"{\"entryType\":\"ParticipantChanged\",\"entries\":[{\"operation\":\"add\",\"displayName\":\"Li Wei\",\"participant\":{\"role\":\"Agent\",\"subject\":\"005x\"}}]}"#;
    format!(
        r#"{{"identifier":"{identifier}","entryType":"ParticipantChanged","sender":{{"role":"System"}},"transcriptedTimestamp":1000,"entryPayload":"{payload}"}}"#
    )
}

fn echo(identifier: &str, message_id: &str) -> String {
    let payload = format!(
        r#"{{\"entryType\":\"Message\",\"abstractMessage\":{{\"id\":\"{message_id}\",\"staticContent\":{{\"formatType\":\"Text\",\"text\":\"hi\"}}}}}}"#
    );
    format!(
        r#"{{"identifier":"{identifier}","entryType":"Message","sender":{{"role":"EndUser"}},"transcriptedTimestamp":2000,"entryPayload":"{payload}"}}"#
    )
}

fn session_ended_by_agent() -> String {
    let payload = r#"{\"entryType\":\"SessionStatusChanged\",\"sessionStatus\":\"Ended\",\"sessionEndedByRole\":\"Agent\"}"#;
    format!(
        r#"{{"identifier":"end-1","entryType":"SessionStatusChanged","sender":{{"role":"System"}},"transcriptedTimestamp":9000,"entryPayload":"{payload}"}}"#
    )
}

#[test]
fn a_new_chat_asks_for_a_token_opens_the_stream_then_creates_the_conversation() {
    let (rig, _) = Rig::open(false);
    assert!(!rig.chat.is_ended());
}

#[test]
fn texts_go_one_at_a_time_in_order_with_client_ids() {
    let (mut rig, _) = Rig::open(false);
    rig.feed(Input::Desk(DeskRequest::Text("one".into())));
    let (_, first, _) = rig.request();
    rig.feed(Input::Desk(DeskRequest::Text("two".into())));
    rig.no_request();
    rig.answer_to(first.clone(), 202, "{}");
    let EnhancedRequest::SendMessage {
        text, message_id, ..
    } = first
    else {
        panic!("{first:?}")
    };
    assert_eq!(text, "one");
    assert_eq!(&message_id[14..15], "4");
    let (_, second, _) = rig.request();
    assert!(matches!(second, EnhancedRequest::SendMessage { ref text, .. } if text == "two"));
}

#[test]
fn agent_entries_become_desk_events_and_echoes_do_not() {
    let (mut rig, stream) = Rig::open(false);
    rig.entry_event(stream, 101, &agent_joins("p1"));
    assert_eq!(
        rig.events(),
        [DeskEvent::AgentJoined(crate::desk::Agent {
            name: "Li Wei".into(),
            id: "005x".into()
        })]
    );
    rig.entry_event(stream, 102, &agent_text("m1", "Hello", 1500));
    // The event, then the commit that stores it with the snapshot that has taken it.
    assert_eq!(
        rig.out,
        [
            Output::Event(DeskEvent::AgentText("Hello".into())),
            Output::Persist
        ]
    );
    rig.entry_event(stream, 103, &echo("e1", "whatever"));
    assert!(rig.events().is_empty());
    // The stream's last id is kept for the next connection.
    assert_eq!(rig.chat.snapshot().last_event_id.as_deref(), Some("103"));
}

#[test]
fn a_dropped_stream_reconnects_with_its_last_id_and_catch_up_drops_repeats() {
    let (mut rig, stream) = Rig::open(false);
    rig.entry_event(stream, 101, &agent_text("m1", "first", 1500));
    rig.feed(Input::StreamClosed {
        id: stream,
        status: None,
    });
    rig.advance(1);
    let (again, _, last) = rig.stream();
    assert_eq!(last, "101");
    rig.feed(Input::StreamOpened { id: again });
    let (_, list, _) = rig.request();
    // From the newest entry seen, less the 5 s overlap.
    assert!(
        matches!(list, EnhancedRequest::ListEntries { since: Some(0), .. }),
        "{list:?}"
    );
    // The list repeats m1 and holds m2, missed while the stream was down.
    let body = format!(
        r#"{{"conversationEntries":[{},{}]}}"#,
        agent_text("m2", "second", 1600),
        agent_text("m1", "first", 1500)
    );
    rig.answer(200, &body);
    assert_eq!(rig.events(), [DeskEvent::AgentText("second".into())]);
    // The same entry on the stream afterwards is a repeat too.
    rig.entry_event(again, 102, &agent_text("m2", "second", 1600));
    assert!(rig.events().is_empty());
}

#[test]
fn a_send_whose_answer_was_lost_is_settled_by_its_echo_not_resent() {
    let (mut rig, stream) = Rig::open(false);
    rig.feed(Input::Desk(DeskRequest::Text("hi".into())));
    let (id, send, _) = rig.request();
    let EnhancedRequest::SendMessage { message_id, .. } = send else {
        panic!()
    };
    rig.feed(Input::Failed { id });
    rig.advance(1);
    // A catch-up comes first; it shows the echo of our text.
    let (_, list, _) = rig.request();
    assert!(matches!(list, EnhancedRequest::ListEntries { .. }));
    let body = format!(
        r#"{{"conversationEntries":[{{"identifier":"e1","entryType":"Message","sender":{{"role":"EndUser"}},"transcriptedTimestamp":2000,"entryPayload":{{"entryType":"Message","abstractMessage":{{"id":"{message_id}","staticContent":{{"formatType":"Text","text":"hi"}}}}}}}}]}}"#
    );
    rig.answer(200, &body);
    rig.no_request();
    assert!(rig.chat.snapshot().pending.is_empty());
    let _ = stream;
}

#[test]
fn a_send_whose_answer_was_lost_and_did_not_arrive_is_resent_with_the_same_id() {
    let (mut rig, _) = Rig::open(false);
    rig.feed(Input::Desk(DeskRequest::Text("hi".into())));
    let (id, first, _) = rig.request();
    rig.feed(Input::Failed { id });
    rig.advance(1);
    rig.answer(200, r#"{"conversationEntries":[]}"#);
    let (_, again, _) = rig.request();
    assert_eq!(again, first);
}

#[test]
fn server_errors_back_off_and_a_desk_down_too_long_ends_the_chat_as_unreachable() {
    let (mut rig, _) = Rig::open(false);
    rig.feed(Input::Desk(DeskRequest::Text("hi".into())));
    // Every request fails; the stream stays up (it is answered and kept alive).
    let mut waits = Vec::new();
    let mut last_request = rig.now;
    let mut rounds = 0;
    while !rig.chat.is_ended() {
        rounds += 1;
        assert!(rounds < 10_000);
        if let Some((id, ..)) = rig.out.iter().find_map(|o| match o {
            Output::OpenStream { id, .. } => Some((*id,)),
            _ => None,
        }) {
            rig.feed(Input::StreamOpened { id });
            continue;
        }
        if rig.out.iter().any(|o| matches!(o, Output::Request { .. })) {
            if rig.now > last_request {
                waits.push(rig.now.saturating_since(last_request).as_secs());
            }
            last_request = rig.now;
            rig.answer(503, "");
            continue;
        }
        let wake = rig.chat.poll_timeout().expect("a timer");
        rig.now = wake;
        rig.feed(Input::Timeout);
    }
    assert_eq!(waits[..5], [1, 2, 4, 8, 16]);
    assert!(waits.iter().all(|w| *w <= 30));
    assert!(rig.now.saturating_since(at(0)) >= Duration::from_secs(600));
    assert_eq!(
        rig.events().last().cloned().into_iter().collect::<Vec<_>>(),
        [DeskEvent::Ended {
            reason: EndReason::Unreachable,
            unsent: vec!["hi".into()]
        }]
    );
}

/// A configuration whose stream never falls silent (as with a server sending keep-alives).
fn kept_alive() -> EnhancedConfig {
    EnhancedConfig {
        stream_silence: Duration::from_secs(86_400),
        ..config()
    }
}

#[test]
fn an_anonymous_chat_is_closed_as_expired_before_its_token_expires() {
    let (mut rig, _) = Rig::open_with(kept_alive(), false);
    rig.advance(3600 - 300);
    assert_eq!(
        rig.events(),
        [DeskEvent::Ended {
            reason: EndReason::Desk(DeskEnd::Expired),
            unsent: vec![]
        }]
    );
    let (_, close, bearer) = rig.request();
    assert!(matches!(close, EnhancedRequest::Close { .. }));
    assert_eq!(bearer.as_deref(), Some("tok-1"));
    assert!(rig.out.iter().any(|o| matches!(o, Output::CloseStream(_))));
    rig.answer(204, "");
    assert!(rig.chat.is_ended());
}

#[test]
fn a_verified_token_is_renewed_before_expiry_and_the_stream_reopened_with_it() {
    let (mut rig, stream) = Rig::open_with(kept_alive(), true);
    rig.advance(3600 - 300);
    assert!(rig.events().is_empty());
    let (_, renew, _) = rig.request();
    assert!(matches!(renew, EnhancedRequest::VerifiedToken { .. }));
    rig.answer(200, r#"{"accessToken":"tok-2","lastEventId":"1"}"#);
    assert!(rig.out.contains(&Output::CloseStream(stream)));
    let (_, bearer, last) = rig.stream();
    assert_eq!(bearer, "tok-2");
    assert_eq!(
        last, "100",
        "the stream resumes where it was, not at the new token's id"
    );
}

#[test]
fn a_401_renews_a_verified_token_once_then_ends_the_chat() {
    let (mut rig, _) = Rig::open(true);
    rig.feed(Input::Desk(DeskRequest::Text("hi".into())));
    rig.answer(401, "");
    let (_, renew, _) = rig.request();
    assert!(matches!(renew, EnhancedRequest::VerifiedToken { .. }));
    rig.answer(200, r#"{"accessToken":"tok-2"}"#);
    let (_, again, bearer) = rig.request();
    assert!(matches!(again, EnhancedRequest::SendMessage { .. }));
    assert_eq!(bearer.as_deref(), Some("tok-2"));
    // Refused again after the renewal, without a success in between: over.
    rig.answer(401, "");
    assert!(rig.chat.is_ended());
    assert!(matches!(
        rig.events()[..],
        [DeskEvent::Ended {
            reason: EndReason::Desk(DeskEnd::Expired),
            ..
        }]
    ));
}

#[test]
fn an_anonymous_401_ends_the_chat_as_expired() {
    let (mut rig, _) = Rig::open(false);
    rig.feed(Input::Desk(DeskRequest::Text("hi".into())));
    rig.answer(401, "");
    assert!(rig.chat.is_ended());
    assert_eq!(
        rig.events(),
        [DeskEvent::Ended {
            reason: EndReason::Desk(DeskEnd::Expired),
            unsent: vec!["hi".into()]
        }]
    );
}

#[test]
fn the_agent_ending_the_session_ends_the_chat_and_closes_the_conversation() {
    let (mut rig, stream) = Rig::open(false);
    rig.entry_event(stream, 101, &agent_joins("p1"));
    rig.entry_event(stream, 102, &session_ended_by_agent());
    assert_eq!(
        rig.events(),
        [DeskEvent::Ended {
            reason: EndReason::Agent,
            unsent: vec![]
        }]
    );
    let (_, close, _) = rig.request();
    assert!(matches!(close, EnhancedRequest::Close { .. }));
    assert!(rig.out.contains(&Output::CloseStream(stream)));
    assert_eq!(
        rig.chat
            .handle(Input::Desk(DeskRequest::Text("late".into())), rig.now),
        Err(EnhancedError::Ended)
    );
    rig.answer(204, "");
    assert!(rig.chat.is_ended());
}

#[test]
fn the_visitor_ending_closes_after_the_texts_before_it_and_then_reports_the_end() {
    let (mut rig, _) = Rig::open(false);
    rig.feed(Input::Desk(DeskRequest::Text("bye".into())));
    let (_, send, _) = rig.request();
    assert!(matches!(send, EnhancedRequest::SendMessage { .. }));
    rig.feed(Input::Desk(DeskRequest::End));
    rig.answer_to(send, 202, "{}");
    let (_, close, _) = rig.request();
    assert!(matches!(close, EnhancedRequest::Close { .. }));
    assert!(rig.events().is_empty());
    rig.answer(204, "");
    assert_eq!(
        rig.events(),
        [DeskEvent::Ended {
            reason: EndReason::Visitor,
            unsent: vec![]
        }]
    );
    assert!(rig.chat.is_ended());
}

#[test]
fn a_restart_reconnects_with_the_stored_id_and_lists_entries_before_sending() {
    let (mut rig, stream) = Rig::open(false);
    rig.entry_event(stream, 107, &agent_text("m1", "first", 1500));
    rig.feed(Input::Desk(DeskRequest::Text("queued".into())));
    let snapshot = rig.chat.snapshot().clone();
    let mut chat = EnhancedChat::restore(config(), snapshot, rig.now);
    let out = drain(&mut chat);
    let mut rig = Rig {
        chat,
        now: rig.now,
        out: Vec::new(),
        in_flight: Default::default(),
    };
    rig.take(out);
    rig.no_request();
    let (again, bearer, last) = rig.stream();
    assert_eq!((bearer.as_str(), last.as_str()), ("tok-1", "107"));
    rig.feed(Input::StreamOpened { id: again });
    let (_, list, _) = rig.request();
    assert!(matches!(list, EnhancedRequest::ListEntries { .. }));
    rig.answer(200, r#"{"conversationEntries":[]}"#);
    let (_, send, _) = rig.request();
    assert!(matches!(send, EnhancedRequest::SendMessage { ref text, .. } if text == "queued"));
}

#[test]
fn a_routing_failure_before_any_agent_ends_the_chat_with_no_agent() {
    let (mut rig, stream) = Rig::open(false);
    let payload = r#"{\"entryType\":\"RoutingResult\",\"routingType\":\"Initial\",\"failureType\":\"RoutingError\"}"#;
    let entry = format!(
        r#"{{"identifier":"r1","entryType":"RoutingResult","sender":{{"role":"Router"}},"entryPayload":"{payload}"}}"#
    );
    rig.entry_event(stream, 101, &entry);
    assert!(matches!(
        rig.events()[..],
        [DeskEvent::Ended {
            reason: EndReason::Desk(DeskEnd::NoAgent),
            ..
        }]
    ));
}

#[test]
fn a_silent_stream_is_closed_and_reopened() {
    let (mut rig, stream) = Rig::open(false);
    rig.advance(90);
    assert!(rig.out.contains(&Output::CloseStream(stream)));
    rig.advance(1);
    let (again, ..) = rig.stream();
    assert_ne!(again, stream);
}
