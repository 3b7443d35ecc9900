//! Model-based test of the Enhanced Chat machine: proptest-state-machine generates runs of
//! visitor and agent actions against the reference server (`model::enhanced`), with answers
//! lost before or after the server acted, server errors, streams dropped (some mid-frame),
//! events repeated, tokens expired mid-chat, time passing and crash-restarts from the last
//! committed snapshot. After every step: every visitor text reached the agent at most once and
//! in order; every agent text the conversation took was taken once and in order. At the end, a
//! fault-free network must deliver everything still owed both ways.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use switchboard_core::desk::{DeskEvent, DeskRequest, EndReason};
use switchboard_core::enhanced::chat::{
    EnhancedChat, EnhancedConfig, EnhancedStart, Input, Output, RequestId,
};
use switchboard_core::enhanced::sse::SseParser;
use switchboard_core::enhanced::wire::{self, Deployment, Method as WireMethod};
use switchboard_core::model::enhanced::{
    DuplicateMessage, EnhancedRequest as ServerRequest, EnhancedServer, Knobs, ListPayload, Method,
    Replay, Reply,
};
use switchboard_core::time::Timestamp;

const CONVERSATION: &str = "6b1f7a2c-3d4e-4f50-8a61-7b8c9d0e1f2a";
/// Unix milliseconds: the reference server's clock is the epoch's.
const START: u64 = 1_764_000_000_000;

#[derive(Debug, Clone)]
enum Transition {
    VisitorText,
    AgentAccept,
    AgentText,
    AgentEnd,
    VisitorEnd,
    /// The REST request in flight is performed and its answer delivered.
    Respond,
    /// Performed by the server, but the answer is lost.
    RespondLost,
    /// Lost before reaching the server.
    DropRequest,
    /// The server answers the next request with this status (429, 500, 503).
    ServerError(u16),
    /// The pending stream connect reaches the server.
    OpenStream,
    /// Up to this many stream events are delivered.
    Deliver(u8),
    /// The last delivered event comes again.
    RepeatEvent,
    /// The stream breaks, half-way through a frame if `true`.
    DropStream(bool),
    /// The token's subject expires at the server.
    ExpireToken,
    /// Time passes (seconds); the machine wakes at every timer on the way.
    Tick(u16),
    /// The process dies and restarts from the last committed snapshot.
    Restart,
}

#[derive(Debug, Clone)]
struct Setup {
    duplicate_message: DuplicateMessage,
    replay: Replay,
    list_payload: ListPayload,
    seed: u64,
}

struct Stream {
    id: RequestId,
    subject: String,
    /// Last event id sent on this connection.
    after: u64,
    parser: SseParser,
}

struct Harness {
    server: EnhancedServer,
    config: EnhancedConfig,
    chat: EnhancedChat,
    now: Timestamp,
    /// The snapshot and the events as the store holds them.
    durable: switchboard_core::enhanced::chat::Snapshot,
    taken: Vec<DeskEvent>,
    uncommitted: Vec<DeskEvent>,
    rest: Option<(RequestId, wire::EnhancedRequest, Option<String>)>,
    connect: Option<(RequestId, String, String)>,
    stream: Option<Stream>,
    last_frame: Option<String>,
    visitor_sent: Vec<String>,
    agent_sent: Vec<String>,
    coverage: Coverage,
}

#[derive(Debug, Default, Clone, Copy)]
struct Coverage {
    joined: bool,
    both_ways: bool,
    stream_dropped: bool,
    expired: bool,
    restarted: bool,
}

fn deployment() -> Deployment {
    let knobs = Knobs::default();
    Deployment {
        org_id: knobs.org_id,
        es_developer_name: knobs.es_developer_name,
        client_version: "model".into(),
    }
}

impl Harness {
    fn new(setup: &Setup) -> Harness {
        let knobs = Knobs {
            duplicate_message: setup.duplicate_message,
            replay: setup.replay,
            list_payload: setup.list_payload,
            routing_delay: Duration::ZERO,
            ..Knobs::default()
        };
        let config = EnhancedConfig {
            unreachable_after: Duration::from_secs(120),
            ..EnhancedConfig::new(deployment())
        };
        let now = Timestamp::from_millis(START);
        let start = EnhancedStart {
            conversation_id: CONVERSATION.into(),
            verified_subject: None,
            routing_attributes: Default::default(),
            language: None,
        };
        let chat = EnhancedChat::new(config.clone(), start, now);
        let durable = chat.snapshot().clone();
        let mut harness = Harness {
            server: EnhancedServer::new(knobs, setup.seed),
            config,
            chat,
            now,
            durable,
            taken: Vec::new(),
            uncommitted: Vec::new(),
            rest: None,
            connect: None,
            stream: None,
            last_frame: None,
            visitor_sent: Vec::new(),
            agent_sent: Vec::new(),
            coverage: Coverage::default(),
        };
        harness.drain();
        harness
    }

    fn feed(&mut self, input: Input) -> bool {
        let ok = self.chat.handle(input, self.now).is_ok();
        self.drain();
        ok
    }

    fn drain(&mut self) {
        while let Some(output) = self.chat.poll_output() {
            match output {
                Output::Event(event) => self.uncommitted.push(event),
                Output::Persist => {
                    self.durable = self.chat.snapshot().clone();
                    self.taken.append(&mut self.uncommitted);
                }
                Output::Request {
                    id,
                    request,
                    bearer,
                    ..
                } => {
                    assert!(self.rest.is_none(), "two REST requests in flight");
                    self.rest = Some((id, request, bearer));
                }
                Output::OpenStream {
                    id,
                    bearer,
                    last_event_id,
                } => self.connect = Some((id, bearer, last_event_id)),
                Output::CloseStream(id) => {
                    if self.stream.as_ref().is_some_and(|s| s.id == id) {
                        self.stream = None;
                    }
                    if self.connect.as_ref().is_some_and(|c| c.0 == id) {
                        self.connect = None;
                    }
                }
                Output::Refused { .. } => {}
            }
        }
    }

    fn server_request(request: &wire::EnhancedRequest, bearer: Option<&str>) -> ServerRequest {
        let path_and_query = request.path_and_query(&deployment());
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((&path_and_query, ""));
        let method = match request.method() {
            WireMethod::Get => Method::Get,
            WireMethod::Post => Method::Post,
            WireMethod::Delete => Method::Delete,
        };
        let mut out = ServerRequest::new(method, path);
        out.query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%20", " ")))
            .collect();
        if let Some(bearer) = bearer {
            out.headers
                .push(("Authorization".into(), format!("Bearer {bearer}")));
        }
        out.body = request.body(&deployment(), None);
        out
    }

    fn conversation_id(&self) -> Option<String> {
        self.server
            .conversation(CONVERSATION)
            .map(|c| c.id().to_owned())
    }

    fn apply(&mut self, transition: Transition) {
        match transition {
            Transition::VisitorText => {
                let text = format!("visitor {}", self.visitor_sent.len());
                if self.feed(Input::Desk(DeskRequest::Text(text.clone()))) {
                    self.visitor_sent.push(text);
                }
            }
            Transition::AgentAccept => {
                if let Some(id) = self.conversation_id() {
                    let _ = self.server.accept(&id, "Andy", self.now);
                }
            }
            Transition::AgentText => {
                if let Some(id) = self.conversation_id() {
                    let text = format!("agent {}", self.agent_sent.len());
                    if self.server.agent_text(&id, &text, self.now).is_ok() {
                        self.agent_sent.push(text);
                    }
                }
            }
            Transition::AgentEnd => {
                if let Some(id) = self.conversation_id() {
                    let _ = self.server.end_session_by_agent(&id, self.now);
                }
            }
            Transition::VisitorEnd => {
                self.feed(Input::Desk(DeskRequest::End));
            }
            Transition::Respond => self.respond(true, true),
            Transition::RespondLost => self.respond(true, false),
            Transition::DropRequest => self.respond(false, false),
            Transition::ServerError(status) => {
                self.server.fail_next_requests(status, 1);
                self.respond(true, true);
            }
            Transition::OpenStream => self.open_stream(),
            Transition::Deliver(n) => self.deliver(usize::from(n % 8) + 1),
            Transition::RepeatEvent => {
                if let (Some(frame), Some(stream)) = (self.last_frame.clone(), &mut self.stream) {
                    let id = stream.id;
                    let events = stream.parser.feed(frame.as_bytes()).expect("frame");
                    for event in events {
                        self.feed(Input::StreamEvent { id, event });
                    }
                }
            }
            Transition::DropStream(mid_frame) => {
                if let Some(mut stream) = self.stream.take() {
                    if mid_frame {
                        let next = self.server.events_after(&stream.subject, stream.after);
                        if let Some(event) = next.first() {
                            let frame = event.frame();
                            let half = &frame.as_bytes()[..frame.len() / 2];
                            let _ = stream.parser.feed(half);
                        }
                    }
                    self.coverage.stream_dropped = true;
                    self.feed(Input::StreamClosed {
                        id: stream.id,
                        status: None,
                    });
                }
            }
            Transition::ExpireToken => {
                if let Some(subject) = self
                    .server
                    .conversation(CONVERSATION)
                    .map(|c| c.subject().to_owned())
                {
                    self.server.expire_subject(&subject, self.now);
                    self.coverage.expired = true;
                }
            }
            Transition::Tick(secs) => self.tick(Duration::from_secs(u64::from(secs))),
            Transition::Restart => {
                self.coverage.restarted = true;
                self.uncommitted.clear();
                self.rest = None;
                self.connect = None;
                self.stream = None;
                self.chat =
                    EnhancedChat::restore(self.config.clone(), self.durable.clone(), self.now);
                self.drain();
            }
        }
    }

    fn respond(&mut self, reaches: bool, answered: bool) {
        let Some((id, request, bearer)) = self.rest.take() else {
            return;
        };
        let input = if reaches {
            let reply = self
                .server
                .handle(&Self::server_request(&request, bearer.as_deref()), self.now);
            match reply {
                Reply::Respond(response) if answered => Input::Response {
                    id,
                    status: response.status,
                    body: response.body,
                },
                _ => Input::Failed { id },
            }
        } else {
            Input::Failed { id }
        };
        self.feed(input);
    }

    fn open_stream(&mut self) {
        let Some((id, bearer, last)) = self.connect.take() else {
            return;
        };
        let mut request = ServerRequest::new(Method::Get, wire::SSE_PATH);
        request.headers = vec![
            ("Authorization".into(), format!("Bearer {bearer}")),
            ("X-Org-Id".into(), deployment().org_id_15().to_owned()),
            ("Last-Event-Id".into(), last.clone()),
        ];
        match self.server.handle(&request, self.now) {
            Reply::Stream(open) => {
                self.stream = Some(Stream {
                    id,
                    subject: open.subject,
                    after: open.after,
                    parser: SseParser::resuming(1 << 20, Some(last)),
                });
                self.feed(Input::StreamOpened { id });
            }
            Reply::Respond(response) => {
                self.feed(Input::StreamClosed {
                    id,
                    status: Some(response.status),
                });
            }
        }
    }

    fn deliver(&mut self, count: usize) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        let id = stream.id;
        let events: Vec<_> = self
            .server
            .events_after(&stream.subject, stream.after)
            .into_iter()
            .take(count)
            .collect();
        let mut inputs = Vec::new();
        for event in events {
            stream.after = event.id;
            let frame = event.frame();
            inputs.extend(stream.parser.feed(frame.as_bytes()).expect("frame"));
            self.last_frame = Some(frame);
        }
        for event in inputs {
            self.feed(Input::StreamEvent { id, event });
        }
    }

    fn tick(&mut self, by: Duration) {
        let end = self.now + by;
        let mut wakeups_now = 0;
        while let Some(at) = self.chat.poll_timeout().filter(|at| *at <= end) {
            if at <= self.now {
                wakeups_now += 1;
                assert!(
                    wakeups_now < 5,
                    "a timer in the past that waking does not clear (a busy loop in a driver)"
                );
            }
            self.now = self.now.max(at);
            self.server.advance(self.now);
            self.feed(Input::Timeout);
        }
        self.now = end;
        self.server.advance(self.now);
        self.feed(Input::Timeout);
    }

    fn agent_texts_taken(&self) -> Vec<String> {
        self.taken
            .iter()
            .filter_map(|e| match e {
                DeskEvent::AgentText(text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn ended(&self) -> Option<(&EndReason, &[String])> {
        self.taken.iter().find_map(|e| match e {
            DeskEvent::Ended { reason, unsent } => Some((reason, unsent.as_slice())),
            _ => None,
        })
    }

    fn check(&self) -> Result<(), String> {
        let at_agent: Vec<String> = self
            .server
            .conversation(CONVERSATION)
            .map(|c| c.end_user_texts().to_vec())
            .unwrap_or_default();
        let mut sent = self.visitor_sent.iter();
        for text in &at_agent {
            if !sent.any(|s| s == text) {
                return Err(format!(
                    "the agent read {at_agent:?}: not the visitor's {:?} once each in order",
                    self.visitor_sent
                ));
            }
        }
        let taken = self.agent_texts_taken();
        if !self.agent_sent.starts_with(&taken) {
            return Err(format!(
                "the conversation took {taken:?}; the agent wrote {:?}",
                self.agent_sent
            ));
        }
        let ends = self
            .taken
            .iter()
            .filter(|e| matches!(e, DeskEvent::Ended { .. }))
            .count();
        if ends > 1 {
            return Err(format!("{ends} ends reported"));
        }
        Ok(())
    }

    /// A fault-free network until nothing moves: what is owed both ways arrives.
    fn settle(&mut self) -> Result<(), String> {
        for _ in 0..400 {
            if self.chat.is_ended() && self.rest.is_none() {
                break;
            }
            self.respond(true, true);
            self.open_stream();
            self.deliver(64);
            if self.rest.is_none() && self.connect.is_none() {
                self.tick(Duration::from_secs(2));
            }
        }
        self.check()?;
        let at_agent: Vec<String> = self
            .server
            .conversation(CONVERSATION)
            .map(|c| c.end_user_texts().to_vec())
            .unwrap_or_default();
        let taken = self.agent_texts_taken();
        match self.ended() {
            None => {
                if at_agent != self.visitor_sent {
                    return Err(format!(
                        "settled, the agent read {at_agent:?} of {:?}",
                        self.visitor_sent
                    ));
                }
                if taken != self.agent_sent {
                    return Err(format!(
                        "settled, the conversation took {taken:?} of {:?}",
                        self.agent_sent
                    ));
                }
            }
            Some((reason, unsent)) => {
                for text in &self.visitor_sent {
                    if !at_agent.contains(text) && !unsent.contains(text) {
                        return Err(format!(
                            "{text:?} neither reached the agent nor was reported unsent ({reason:?})"
                        ));
                    }
                }
                if matches!(reason, EndReason::Agent) && taken != self.agent_sent {
                    return Err(format!(
                        "ended by the agent, the conversation took {taken:?} of {:?}",
                        self.agent_sent
                    ));
                }
            }
        }
        self.coverage.joined |= self
            .taken
            .iter()
            .any(|e| matches!(e, DeskEvent::AgentJoined(_)));
        self.coverage.both_ways |= !at_agent.is_empty() && !taken.is_empty();
        Ok(())
    }
}

struct Model;

impl ReferenceStateMachine for Model {
    type State = Setup;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Setup> {
        (
            prop_oneof![
                Just(DuplicateMessage::Ignore),
                Just(DuplicateMessage::Conflict),
                Just(DuplicateMessage::Duplicate)
            ],
            prop_oneof![Just(Replay::AfterLastEventId), Just(Replay::None)],
            prop_oneof![Just(ListPayload::Object), Just(ListPayload::String)],
            any::<u64>(),
        )
            .prop_map(|(duplicate_message, replay, list_payload, seed)| Setup {
                duplicate_message,
                replay,
                list_payload,
                seed,
            })
            .boxed()
    }

    fn transitions(_: &Setup) -> BoxedStrategy<Transition> {
        prop_oneof![
            40 => Just(Transition::Respond),
            20 => Just(Transition::OpenStream),
            40 => any::<u8>().prop_map(Transition::Deliver),
            20 => Just(Transition::VisitorText),
            20 => Just(Transition::AgentText),
            25 => Just(Transition::AgentAccept),
            4 => Just(Transition::RespondLost),
            4 => Just(Transition::DropRequest),
            3 => prop_oneof![Just(429u16), Just(500), Just(503)].prop_map(Transition::ServerError),
            4 => Just(Transition::RepeatEvent),
            4 => any::<bool>().prop_map(Transition::DropStream),
            8 => (0u16..20).prop_map(Transition::Tick),
            4 => Just(Transition::Restart),
            1 => Just(Transition::ExpireToken),
            1 => Just(Transition::AgentEnd),
            1 => Just(Transition::VisitorEnd),
        ]
        .boxed()
    }

    fn apply(state: Setup, _: &Transition) -> Setup {
        state
    }
}

impl StateMachineTest for Model {
    type SystemUnderTest = Harness;
    type Reference = Model;

    fn init_test(setup: &Setup) -> Harness {
        Harness::new(setup)
    }

    fn apply(mut harness: Harness, _: &Setup, transition: Transition) -> Harness {
        harness.apply(transition);
        harness
    }

    fn check_invariants(harness: &Harness, _: &Setup) {
        if let Err(violation) = harness.check() {
            panic!("invariant broken: {violation}");
        }
    }

    fn teardown(mut harness: Harness, _: Setup) {
        if let Err(violation) = harness.settle() {
            panic!("after settling: {violation}");
        }
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(500),
        failure_persistence: None,
        .. Config::default()
    })]

    #[test]
    fn enhanced_chat_relays_once_and_in_order_through_lost_answers_drops_expiry_and_restarts(sequential 1..150 => Model);
}

/// Guards against a vacuous model test: the runs reach agents, carry texts both ways, lose the
/// stream, expire tokens and restart.
#[test]
fn generated_runs_reach_agents_drop_streams_expire_tokens_and_restart() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = Model::sequential_strategy(1..150);
    let runs = 300;
    let mut counts = [0usize; 5];
    for _ in 0..runs {
        let (setup, transitions, _) = strategy.new_tree(&mut runner).unwrap().current();
        let mut harness = Harness::new(&setup);
        for transition in transitions {
            harness.apply(transition);
        }
        harness.settle().unwrap();
        let c = harness.coverage;
        for (i, hit) in [
            c.joined,
            c.both_ways,
            c.stream_dropped,
            c.expired,
            c.restarted,
        ]
        .into_iter()
        .enumerate()
        {
            counts[i] += usize::from(hit);
        }
    }
    eprintln!(
        "of {runs} runs: agent joined {}, texts both ways {}, stream dropped {}, token expired {}, restarted {}",
        counts[0], counts[1], counts[2], counts[3], counts[4]
    );
    assert!(counts[0] * 2 > runs, "most runs get an agent");
    assert!(
        counts[1] * 4 > runs,
        "a quarter of runs or more carry texts both ways"
    );
    assert!(
        counts[2] * 4 > runs,
        "a quarter of runs or more lose the stream"
    );
    assert!(
        counts[3] * 20 > runs,
        "one run in twenty or more expires the token"
    );
    assert!(counts[4] * 4 > runs, "a quarter of runs or more restart");
}
