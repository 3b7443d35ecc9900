//! Runs one [`Session`] against the [`ReferenceServer`] through an unreliable network, with
//! crashes, and checks the session invariants (DESIGN.md) after every step:
//!
//! 1. at most one `Messages` poll outstanding;
//! 2. POST sequence numbers strictly increase within a numbering epoch, except exact retries;
//! 3. every visitor text reaches the agent once, in order;
//! 4. every agent message reaches the visitor once, in order, across restarts;
//! 5. no request after the session ended.
//!
//! [`Harness::settle`] then runs the network without faults and checks that everything sent
//! was delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::server::{Knobs, ReferenceServer, Reply};
use crate::liveagent::{LiveAgentRequest, Resource};
use crate::session::{
    ChatRequest, Input, Output, RequestId, Session, SessionConfig, SessionError, SessionEvent,
    Snapshot, TransportFailure, VisitorAction,
};
use crate::time::Timestamp;

/// One step of a model run. Indices pick among the requests or answers in transit (modulo
/// their count); a step that finds nothing to act on does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The visitor sends a new, unique text.
    VisitorText,
    /// The visitor starts typing.
    VisitorTyping,
    /// The visitor ends the chat.
    VisitorEnd,
    /// An agent accepts the waiting chat.
    AgentAccept,
    /// The agent sends a new, unique text.
    AgentText,
    /// The agent starts (true) or stops typing.
    AgentTyping(bool),
    /// Another agent takes over.
    AgentTransfer,
    /// The agent ends the chat.
    AgentEnd,
    /// No agent is available.
    AgentReject,
    /// The queue moves.
    QueueUpdate,
    /// A request reaches the server.
    Deliver(u8),
    /// An answer reaches the client.
    Respond(u8),
    /// A request is lost before the server sees it.
    DropRequest(u8),
    /// The server handles a request but its answer is lost.
    DropResponse(u8),
    /// Held polls time out on the server (204).
    ReleasePolls,
    /// The chat server restarts: the session's affinity token stops working.
    Failover,
    /// Time passes.
    Tick(u16),
    /// The process crashes and restarts from its last persisted snapshot.
    Restart,
    /// An answer reaches the client and the process crashes before persisting.
    RespondThenCrash(u8),
}

impl Transition {
    /// Decodes a run from raw bytes, two bytes a step (for fuzzers).
    pub fn decode_run(bytes: &[u8]) -> Vec<Transition> {
        bytes
            .chunks_exact(2)
            .map(|pair| {
                let (op, arg) = (pair[0], pair[1]);
                match op % 19 {
                    0 => Transition::VisitorText,
                    1 => Transition::VisitorTyping,
                    2 => Transition::VisitorEnd,
                    3 => Transition::AgentAccept,
                    4 => Transition::AgentText,
                    5 => Transition::AgentTyping(arg % 2 == 0),
                    6 => Transition::AgentTransfer,
                    7 => Transition::AgentEnd,
                    8 => Transition::AgentReject,
                    9 => Transition::QueueUpdate,
                    10 => Transition::Deliver(arg),
                    11 => Transition::Respond(arg),
                    12 => Transition::DropRequest(arg),
                    13 => Transition::DropResponse(arg),
                    14 => Transition::ReleasePolls,
                    15 => Transition::Failover,
                    16 => Transition::Tick(u16::from(arg) * 2),
                    17 => Transition::Restart,
                    _ => Transition::RespondThenCrash(arg),
                }
            })
            .collect()
    }
}

/// What a run went through, to show that generated runs reach the interesting states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// An agent joined.
    pub agent_joined: bool,
    /// At least one failover was recovered.
    pub reconnected: bool,
    /// The process restarted at least once.
    pub restarted: bool,
    /// Visitor texts the agent received.
    pub visitor_texts_delivered: usize,
    /// Agent texts the visitor received.
    pub agent_texts_delivered: usize,
    /// The session ended.
    pub ended: bool,
}

/// A broken invariant, with what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
struct Flight {
    id: RequestId,
    request: LiveAgentRequest,
    /// Sent by the current process and not cancelled: its answer is wanted.
    live: bool,
}

/// The client, the server and everything in between.
#[derive(Debug)]
pub struct Harness {
    config: SessionConfig,
    server: ReferenceServer,
    client: Session,
    now: Timestamp,
    persisted: Snapshot,
    uncommitted: Vec<SessionEvent>,
    committed: Vec<SessionEvent>,
    network: Vec<Flight>,
    held: Vec<(Flight, String)>,
    responses: Vec<(RequestId, u16, String)>,
    open_polls: BTreeSet<RequestId>,
    ended_in_process: bool,
    texts_sent: Vec<String>,
    counter: u32,
    /// Numbering epoch: bumped by every reconnect request the client sends.
    epoch: u32,
    numbers: BTreeMap<(String, u32), BTreeMap<u32, Option<String>>>,
    /// What the server's sessions received and sent, kept after a session is deleted.
    seen_by_agent: BTreeMap<String, (Vec<String>, Vec<String>)>,
    violations: Vec<Violation>,
    restarts: u32,
}

/// The session settings the harness uses: the reference server's ids, short timers.
pub fn session_config(knobs: &Knobs) -> SessionConfig {
    SessionConfig {
        organization_id: knobs.organization_id.clone(),
        deployment_id: knobs.deployment_id.clone(),
        button_id: knobs.button_id.clone(),
        ..SessionConfig::default()
    }
}

impl Harness {
    /// A fresh run: the client (speaking `api_version`) has just asked for a session.
    pub fn new(knobs: Knobs, seed: u64, api_version: u32) -> Harness {
        let config = SessionConfig {
            api_version,
            ..session_config(&knobs)
        };
        let now = Timestamp::from_millis(1_000_000);
        let request = ChatRequest {
            visitor_name: "Model Visitor".into(),
            ..ChatRequest::default()
        };
        let client = Session::new(config.clone(), request, now);
        let persisted = client.snapshot().clone();
        let mut harness = Harness {
            config,
            server: ReferenceServer::new(knobs, seed),
            client,
            now,
            persisted,
            uncommitted: Vec::new(),
            committed: Vec::new(),
            network: Vec::new(),
            held: Vec::new(),
            responses: Vec::new(),
            open_polls: BTreeSet::new(),
            ended_in_process: false,
            texts_sent: Vec::new(),
            counter: 0,
            epoch: 0,
            numbers: BTreeMap::new(),
            seen_by_agent: BTreeMap::new(),
            violations: Vec::new(),
            restarts: 0,
        };
        harness.drain(false);
        harness
    }

    /// Applies one transition.
    pub fn apply(&mut self, transition: Transition) {
        match transition {
            Transition::VisitorText => {
                self.counter += 1;
                let text = format!("visitor-{}", self.counter);
                if self.visitor(VisitorAction::Text(text.clone())) {
                    self.texts_sent.push(text);
                }
            }
            Transition::VisitorTyping => {
                self.visitor(VisitorAction::Typing);
            }
            Transition::VisitorEnd => {
                self.visitor(VisitorAction::End);
            }
            Transition::AgentAccept => self.agent(|s, id, _| s.accept(id, "Andy L.").is_ok()),
            Transition::AgentText => {
                self.counter += 1;
                let n = self.counter;
                self.agent(|s, id, _| s.agent_text(id, &format!("agent-{n}")).is_ok());
            }
            Transition::AgentTyping(on) => self.agent(|s, id, _| s.agent_typing(id, on).is_ok()),
            Transition::AgentTransfer => self.agent(|s, id, _| s.transfer(id, "Bo R.").is_ok()),
            Transition::AgentEnd => self.agent(|s, id, _| s.end(id).is_ok()),
            Transition::AgentReject => self.agent(|s, id, _| s.reject(id, "Unavailable").is_ok()),
            Transition::QueueUpdate => self.agent(|s, id, _| s.queue_update(id, 0).is_ok()),
            Transition::Failover => self.agent(|s, id, _| s.inject_failover(id).is_ok()),
            Transition::Deliver(k) => {
                if let Some(flight) = take(&mut self.network, k) {
                    self.deliver(flight, false);
                }
            }
            Transition::DropRequest(k) => {
                if let Some(flight) = take(&mut self.network, k)
                    && flight.live
                {
                    self.feed(Input::Failed {
                        id: flight.id,
                        failure: TransportFailure::Connect,
                    });
                }
            }
            Transition::DropResponse(k) => {
                if let Some(flight) = take(&mut self.network, k) {
                    self.deliver(flight, true);
                }
            }
            Transition::Respond(k) => {
                if let Some((id, status, body)) = take(&mut self.responses, k) {
                    self.feed(Input::Response { id, status, body });
                }
            }
            Transition::RespondThenCrash(k) => {
                if let Some((id, status, body)) = take(&mut self.responses, k) {
                    self.feed_then_crash(Input::Response { id, status, body });
                }
            }
            Transition::ReleasePolls => {
                for (flight, session_id) in std::mem::take(&mut self.held) {
                    if let Reply::Respond { status, body } =
                        self.server.release_poll(&session_id, self.now)
                        && flight.live
                    {
                        self.responses.push((flight.id, status, body));
                    }
                }
            }
            Transition::Tick(secs) => {
                self.now = self.now + Duration::from_secs(u64::from(secs));
                self.remember_server_sessions();
                self.server.expire_idle(self.now);
                self.fire_timers();
            }
            Transition::Restart => self.restart(),
        }
        self.wake_held();
        self.remember_server_sessions();
    }

    /// Checks invariants 1–5 as of now.
    pub fn check(&self) -> Result<(), Violation> {
        if let Some(v) = self.violations.first() {
            return Err(v.clone());
        }
        let agent_texts: Vec<&String> = self.seen_by_agent.values().flat_map(|(_, a)| a).collect();
        let received: Vec<&String> = self
            .committed
            .iter()
            .filter_map(|e| match e {
                SessionEvent::AgentText { text, .. } => Some(text),
                _ => None,
            })
            .collect();
        if !agent_texts.starts_with(&received) {
            return Err(Violation(format!(
                "agent texts reached the visitor out of order or twice: sent {agent_texts:?}, received {received:?}"
            )));
        }
        let visitor_texts: Vec<&String> =
            self.seen_by_agent.values().flat_map(|(v, _)| v).collect();
        let sent: Vec<&String> = self.texts_sent.iter().collect();
        if !sent.starts_with(&visitor_texts) {
            return Err(Violation(format!(
                "visitor texts reached the agent out of order or twice: sent {sent:?}, agent saw {visitor_texts:?}"
            )));
        }
        let joined = self
            .committed
            .iter()
            .filter(|e| matches!(e, SessionEvent::AgentJoined(_)))
            .count();
        let ended = self
            .committed
            .iter()
            .filter(|e| matches!(e, SessionEvent::Ended { .. }))
            .count();
        if joined > 1 || ended > 1 {
            return Err(Violation(format!(
                "AgentJoined {joined} times, Ended {ended} times"
            )));
        }
        Ok(())
    }

    /// Runs the network without faults (an agent accepting, polls released when idle) until
    /// nothing moves, then checks that every text reached the other side, unless the chat ended.
    pub fn settle(&mut self) -> Result<(), Violation> {
        for _ in 0..5_000 {
            if !self.responses.is_empty() {
                self.apply(Transition::Respond(0));
            } else if !self.network.is_empty() {
                self.apply(Transition::Deliver(0));
            } else if self.delivered_everything() {
                break;
            } else {
                // Quiet network: an agent takes the chat; the client's next timer fires if it
                // comes before the server would end a held poll (30 s), else the hold ends.
                self.apply(Transition::AgentAccept);
                let hold_ends = self.now + Duration::from_secs(30);
                match self.client.poll_timeout() {
                    Some(at) if at <= hold_ends || self.held.is_empty() => {
                        self.now = self.now.max(at);
                        self.fire_timers();
                        self.wake_held();
                    }
                    Some(_) | None if !self.held.is_empty() => {
                        self.now = hold_ends;
                        self.apply(Transition::ReleasePolls);
                    }
                    Some(_) | None => break,
                }
            }
            self.check()?;
        }
        self.check()?;
        if !self.client.is_ended() && !self.delivered_everything() {
            return Err(Violation(format!(
                "not everything was delivered: visitor sent {:?}, agent saw {:?}; agent sent {:?}, visitor got {:?}",
                self.texts_sent,
                self.seen_by_agent
                    .values()
                    .flat_map(|(v, _)| v)
                    .collect::<Vec<_>>(),
                self.seen_by_agent
                    .values()
                    .flat_map(|(_, a)| a)
                    .collect::<Vec<_>>(),
                self.committed
            )));
        }
        Ok(())
    }

    /// What this run went through so far.
    pub fn coverage(&self) -> Coverage {
        let has = |f: fn(&SessionEvent) -> bool| self.committed.iter().any(f);
        Coverage {
            agent_joined: has(|e| matches!(e, SessionEvent::AgentJoined(_))),
            reconnected: has(|e| matches!(e, SessionEvent::Reconnected)),
            restarted: self.restarts > 0,
            visitor_texts_delivered: self.seen_by_agent.values().map(|(v, _)| v.len()).sum(),
            agent_texts_delivered: self
                .committed
                .iter()
                .filter(|e| matches!(e, SessionEvent::AgentText { .. }))
                .count(),
            ended: self.persisted.is_ended(),
        }
    }

    /// Whether the session has ended (as persisted).
    pub fn is_ended(&self) -> bool {
        self.persisted.is_ended()
    }

    fn delivered_everything(&self) -> bool {
        let saw: Vec<&String> = self.seen_by_agent.values().flat_map(|(v, _)| v).collect();
        let sent_by_agent: Vec<&String> =
            self.seen_by_agent.values().flat_map(|(_, a)| a).collect();
        let received = self
            .committed
            .iter()
            .filter(|e| matches!(e, SessionEvent::AgentText { .. }))
            .count();
        saw.len() == self.texts_sent.len() && received == sent_by_agent.len()
    }

    fn visitor(&mut self, action: VisitorAction) -> bool {
        match self.client.handle(Input::Visitor(action), self.now) {
            Ok(()) => {
                self.drain(false);
                true
            }
            Err(SessionError::Ended) => false,
            Err(other) => {
                self.violations
                    .push(Violation(format!("visitor input refused: {other}")));
                false
            }
        }
    }

    fn agent(&mut self, act: impl FnOnce(&mut ReferenceServer, &str, Timestamp) -> bool) {
        let Some(id) = self.client.snapshot().session_id().map(str::to_owned) else {
            return;
        };
        act(&mut self.server, &id, self.now);
    }

    fn deliver(&mut self, flight: Flight, drop_answer: bool) {
        match self.server.handle(&flight.request, self.now) {
            Reply::Respond { status, body } => {
                if drop_answer {
                    if flight.live {
                        self.feed(Input::Failed {
                            id: flight.id,
                            failure: TransportFailure::Reset,
                        });
                    }
                } else if flight.live {
                    self.responses.push((flight.id, status, body));
                }
            }
            Reply::Hold { session_id } => {
                if flight.live && !drop_answer {
                    self.held.push((flight, session_id));
                } else {
                    // The connection is gone: the server stops holding it.
                    self.server.release_poll(&session_id, self.now);
                    if drop_answer && flight.live {
                        self.feed(Input::Failed {
                            id: flight.id,
                            failure: TransportFailure::Reset,
                        });
                    }
                }
            }
        }
    }

    fn wake_held(&mut self) {
        let held = std::mem::take(&mut self.held);
        for (flight, session_id) in held {
            match self.server.complete_poll(&session_id, self.now) {
                Some(Reply::Respond { status, body }) => {
                    if flight.live {
                        self.responses.push((flight.id, status, body));
                    }
                }
                Some(Reply::Hold { .. }) | None => {
                    if self.server.session(&session_id).is_some() {
                        self.held.push((flight, session_id));
                    }
                }
            }
        }
    }

    fn fire_timers(&mut self) {
        while let Some(at) = self.client.poll_timeout() {
            if at > self.now {
                break;
            }
            self.feed(Input::Timeout);
        }
    }

    fn feed(&mut self, input: Input) {
        if let Input::Response { id, .. } | Input::Failed { id, .. } = &input {
            self.open_polls.remove(id);
        }
        match self.client.handle(input, self.now) {
            Ok(()) => self.drain(false),
            Err(e) => self
                .violations
                .push(Violation(format!("client refused an answer: {e}"))),
        }
    }

    fn feed_then_crash(&mut self, input: Input) {
        if let Input::Response { id, .. } = &input {
            self.open_polls.remove(id);
        }
        if self.client.handle(input, self.now).is_ok() {
            self.drain(true);
        }
        self.restart();
    }

    /// Processes the client's outputs as the engine would; with `crash_at_persist`, stops at
    /// the first `Persist` as if the process died there.
    fn drain(&mut self, crash_at_persist: bool) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Persist if crash_at_persist => return,
                Output::Persist => {
                    self.committed.append(&mut self.uncommitted);
                    self.persisted = self.client.snapshot().clone();
                }
                Output::Event(event) => {
                    if matches!(event, SessionEvent::Ended { .. }) {
                        self.ended_in_process = true;
                    }
                    self.uncommitted.push(event);
                }
                Output::Cancel(id) => {
                    self.open_polls.remove(&id);
                    self.responses.retain(|(r, _, _)| *r != id);
                    for flight in &mut self.network {
                        if flight.id == id {
                            flight.live = false;
                        }
                    }
                    let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
                        .into_iter()
                        .partition(|(f, _)| f.id == id);
                    self.held = kept;
                    for (_, session_id) in gone {
                        self.server.release_poll(&session_id, self.now);
                    }
                }
                Output::Request { id, request, .. } => self.sent(id, request),
                // The reference server only sends what the spec describes.
                Output::ProtocolError(resource) => self.violations.push(Violation(format!(
                    "the reference server's answer to {resource:?} did not decode"
                ))),
            }
        }
    }

    fn sent(&mut self, id: RequestId, request: LiveAgentRequest) {
        if self.ended_in_process {
            self.violations.push(Violation(format!(
                "request after Ended: {}",
                request.path_and_query()
            )));
        }
        match request.resource {
            Resource::Messages => {
                self.open_polls.insert(id);
                if self.open_polls.len() > 1 {
                    self.violations.push(Violation(format!(
                        "two polls outstanding: {:?}",
                        self.open_polls
                    )));
                }
            }
            Resource::ReconnectSession | Resource::ResyncSession => self.epoch += 1,
            Resource::SessionId
            | Resource::ChasitorInit
            | Resource::ChatMessage
            | Resource::ChasitorTyping
            | Resource::ChasitorNotTyping
            | Resource::ChasitorSneakPeek
            | Resource::CustomEvent
            | Resource::ChatEnd
            | Resource::ChasitorIdleTimeoutWarningEvent
            | Resource::ChasitorResyncState
            | Resource::MultiNoun
            | Resource::Availability
            | Resource::Settings
            | Resource::Breadcrumb
            | Resource::VisitorId => {}
        }
        if let Some(number) = request.sequence_number() {
            let key = request
                .header_value(crate::liveagent::headers::SESSION_KEY)
                .unwrap_or_default()
                .to_owned();
            let seen = self.numbers.entry((key, self.epoch)).or_default();
            match seen.get(&number) {
                Some(body) if *body != request.body => self.violations.push(Violation(format!(
                    "sequence {number} reused for a different POST: {body:?} then {:?}",
                    request.body
                ))),
                Some(_) => {}
                None if seen.keys().next_back().is_some_and(|&max| number < max) => {
                    self.violations.push(Violation(format!(
                        "sequence went backwards: {number} after {:?}",
                        seen.keys().collect::<Vec<_>>()
                    )));
                }
                None => {
                    seen.insert(number, request.body.clone());
                }
            }
        }
        self.network.push(Flight {
            id,
            request,
            live: true,
        });
    }

    fn restart(&mut self) {
        self.restarts += 1;
        self.uncommitted.clear();
        for flight in &mut self.network {
            flight.live = false;
        }
        self.responses.clear();
        for (_, session_id) in std::mem::take(&mut self.held) {
            self.server.release_poll(&session_id, self.now);
        }
        self.open_polls.clear();
        self.ended_in_process = self.persisted.is_ended();
        self.client = Session::restore(self.config.clone(), self.persisted.clone(), self.now);
        self.drain(false);
    }

    fn remember_server_sessions(&mut self) {
        for session in self.server.sessions() {
            self.seen_by_agent.insert(
                session.id().to_owned(),
                (
                    session.visitor_texts().to_vec(),
                    session.agent_texts().to_vec(),
                ),
            );
        }
    }
}

fn take<T>(items: &mut Vec<T>, k: u8) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        let at = usize::from(k) % items.len();
        Some(items.remove(at))
    }
}
