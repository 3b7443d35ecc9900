//! The Live Agent visitor session as a pure state machine (quinn-proto style).
//!
//! `Init → Established → Polling ⇄ Resyncing → Ended`. The machine is fed [`Input`]s carrying
//! the time, and hands out [`Output`]s: requests with ids, events for the conversation,
//! cancellations, and `Persist` marks. It never performs I/O and never reads a clock.
//!
//! ```
//! use switchboard_core::session::{ChatRequest, Input, Output, Session, SessionConfig};
//! use switchboard_core::time::Timestamp;
//!
//! let now = Timestamp::from_millis(0);
//! let mut session = Session::new(SessionConfig::default(), ChatRequest::default(), now);
//! // A new session asks for a Live Agent session (nothing to store yet: whoever created the
//! // session stores its first snapshot).
//! let Some(Output::Request { id, request, .. }) = session.poll_output() else { panic!() };
//! assert_eq!(request.path_and_query(), "/chat/rest/System/SessionId");
//! let body = r#"{"id":"ec55","key":"ec55!1!sig","affinityToken":"878a1fa0","clientPollTimeout":40}"#;
//! session.handle(Input::Response { id, status: 200, body: body.into() }, now).unwrap();
//! // The snapshot must be stored before anything goes out; then the first poll and the
//! // chat request (POST number 1) leave together.
//! assert_eq!(session.poll_output(), Some(Output::Persist));
//! let mut sent = Vec::new();
//! while let Some(Output::Request { request, .. }) = session.poll_output() {
//!     sent.push(request);
//! }
//! assert_eq!(sent[0].path_and_query(), "/chat/rest/System/Messages?ack=-1");
//! assert_eq!(sent[1].path_and_query(), "/chat/rest/Chasitor/ChasitorInit");
//! assert_eq!(sent[1].sequence_number(), Some(1));
//! assert!(session.poll_timeout().is_some());
//! ```

mod config;
pub mod desk;
mod error;
mod events;
mod input;
mod io;
mod lane;
mod output;
mod requests;
mod responses;
mod state;
mod visitor;

use std::collections::VecDeque;
use std::time::Duration;

pub use config::{ChatRequest, SessionConfig};
pub use error::SessionError;
pub use input::{Input, RequestId, TransportFailure, VisitorAction};
pub use output::{
    Agent, ChatEndedBy, EndReason, FileTransferEvent, FileTransferKind, Output, RequestFailReason,
    SessionEvent,
};
pub use state::Snapshot;

use io::{Io, Lane, Purpose, Verdict};
use lane::PostLane;
use state::{Chat, State};

use crate::liveagent::{LiveAgentRequest, Resource};
use crate::time::Timestamp;

/// One Live Agent visitor session. See the [module docs](self) for the contract.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    persisted: Snapshot,
    io: Io,
    staged: Staged,
    outputs: VecDeque<Output>,
}

/// Outputs gathered while handling one input, released in contract order by `finish`.
#[derive(Debug, Default)]
struct Staged {
    protocol_errors: Vec<Resource>,
    cancels: Vec<RequestId>,
    events: Vec<SessionEvent>,
    requests: Vec<(RequestId, LiveAgentRequest, Duration)>,
}

/// Coarse state, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateKind {
    /// Creating the Live Agent session.
    Init,
    /// Requesting the chat.
    Established,
    /// Long-polling; queued or chatting.
    Polling,
    /// Recovering from a failover.
    Resyncing,
    /// Over.
    Ended,
}

impl Session {
    /// A new session; its first output asks for `System/SessionId`.
    pub fn new(config: SessionConfig, request: ChatRequest, now: Timestamp) -> Session {
        let snapshot = Snapshot {
            state: State::Init,
            request,
            lane: PostLane::with_chat_request(),
            held: VecDeque::new(),
            next_request_id: 0,
        };
        Session::restore(config, snapshot, now)
    }

    /// Resumes a session from a stored snapshot: polling restarts with the stored key, affinity
    /// token and `ack`, and un-acknowledged POSTs go out again with their original numbers.
    pub fn restore(config: SessionConfig, snapshot: Snapshot, now: Timestamp) -> Session {
        let mut session = Session {
            config,
            persisted: snapshot,
            io: Io::default(),
            staged: Staged::default(),
            outputs: VecDeque::new(),
        };
        let before = session.persisted.clone();
        session.drive(now);
        session.finish(&before);
        session
    }

    /// Feeds one input. On `Err` nothing changed.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), SessionError> {
        let before = self.persisted.clone();
        match input {
            Input::Response { id, status, body } => {
                self.on_answer(id, Verdict::of_status(status, body), now)?;
            }
            Input::Failed { id, failure } => {
                self.on_answer(id, Verdict::of_failure(failure), now)?;
            }
            Input::Visitor(action) => self.on_visitor(action, now)?,
            Input::Timeout => self.on_timeout(now),
        }
        self.drive(now);
        self.finish(&before);
        Ok(())
    }

    /// The next output, until `None`. Drain fully after every [`handle`](Self::handle).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed [`Input::Timeout`] next; `None` once ended.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.io.next_wakeup()
    }

    /// The state to persist (after a [`Output::Persist`]).
    pub fn snapshot(&self) -> &Snapshot {
        &self.persisted
    }

    /// The coarse state.
    pub fn state(&self) -> StateKind {
        match &self.persisted.state {
            State::Init => StateKind::Init,
            State::Established(_) => StateKind::Established,
            State::Polling(_) => StateKind::Polling,
            State::Resyncing(..) => StateKind::Resyncing,
            State::Ended(_) => StateKind::Ended,
        }
    }

    /// Whether the session is over.
    pub fn is_ended(&self) -> bool {
        self.state() == StateKind::Ended
    }

    fn on_answer(
        &mut self,
        id: RequestId,
        verdict: Verdict,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        let Some(flight) = self.io.inflight.remove(&id) else {
            // Answers to cancelled or pre-restart requests are ignored; unknown ids are a bug.
            return if id.0 < self.persisted.next_request_id {
                Ok(())
            } else {
                Err(SessionError::UnknownRequest(id))
            };
        };
        let verdict = match verdict {
            // A 409 "Out of sync" about a POST numbered before the server reset its sequence
            // speaks of numbers that no longer count: the POST is sent again, renumbered.
            Verdict::Conflict(_) if flight.numbering != self.io.numbering => Verdict::Transient,
            other => other,
        };
        self.on_verdict(flight.purpose, verdict, now);
        Ok(())
    }

    fn on_verdict(&mut self, purpose: Purpose, verdict: Verdict, now: Timestamp) {
        match purpose {
            Purpose::SessionId => self.on_session_id(verdict, now),
            Purpose::Reconnect => self.on_reconnect(verdict, now),
            Purpose::ResyncState => self.on_resync_state(verdict, now),
            Purpose::Poll => self.on_poll(verdict, now),
            Purpose::Post => self.on_post(verdict, now),
        }
    }

    fn on_timeout(&mut self, now: Timestamp) {
        for (id, purpose) in self.io.expire(now) {
            self.staged.cancels.push(id);
            self.on_verdict(purpose, Verdict::Transient, now);
        }
    }

    /// Ends the session: everything in flight is cancelled and nothing leaves it any more.
    fn end(&mut self, reason: EndReason) {
        if matches!(self.persisted.state, State::Ended(_)) {
            return;
        }
        let mut undelivered: Vec<String> = self.persisted.lane.texts().map(str::to_owned).collect();
        undelivered.extend(self.persisted.held.iter().filter_map(|p| match p {
            lane::VisitorPost::Text(t) => Some(t.clone()),
            lane::VisitorPost::ChasitorInit
            | lane::VisitorPost::Typing
            | lane::VisitorPost::NotTyping
            | lane::VisitorPost::SneakPeek { .. }
            | lane::VisitorPost::CustomEvent { .. }
            | lane::VisitorPost::End => None,
        }));
        let cancelled = self.io.abandon(&[Lane::Control, Lane::Poll, Lane::Post]);
        self.staged.cancels.extend(cancelled);
        self.persisted.lane = PostLane::with_chat_request();
        self.persisted.held.clear();
        self.persisted.state = State::Ended(reason.clone());
        self.staged.events.push(SessionEvent::Ended {
            reason,
            undelivered,
        });
    }

    /// The failing-request budget: the deployment's connection timeout once known.
    fn budget(&self) -> Duration {
        self.persisted
            .chat()
            .map_or(self.config.default_connection_timeout, |c| {
                c.connection_timeout
            })
    }

    /// A lane's request failed transiently: retry later, or end once the budget is spent.
    fn retry_or_give_up(&mut self, lane: Lane, now: Timestamp) {
        let delay = match lane {
            Lane::Post => {
                let doubling = 1u32 << self.io.post_attempts.min(8);
                self.io.post_attempts = self.io.post_attempts.saturating_add(1);
                (self.config.retry_delay * doubling).min(self.config.max_retry_delay)
            }
            Lane::Control | Lane::Poll => self.config.retry_delay,
        };
        if !self.io.failed(lane, now, self.budget(), delay) {
            self.end(EndReason::ConnectionLost);
        }
    }

    /// Releases the staged outputs in contract order.
    fn finish(&mut self, before: &Snapshot) {
        let staged = std::mem::take(&mut self.staged);
        self.outputs.extend(
            staged
                .protocol_errors
                .into_iter()
                .map(Output::ProtocolError),
        );
        self.outputs
            .extend(staged.cancels.into_iter().map(Output::Cancel));
        let had_events = !staged.events.is_empty();
        self.outputs
            .extend(staged.events.into_iter().map(Output::Event));
        if had_events || self.persisted.differs_from(before) {
            self.outputs.push_back(Output::Persist);
        }
        self.outputs
            .extend(
                staged
                    .requests
                    .into_iter()
                    .map(|(id, request, timeout)| Output::Request {
                        id,
                        request,
                        timeout,
                    }),
            );
    }

    fn chat_mut(&mut self) -> Option<&mut Chat> {
        match &mut self.persisted.state {
            State::Established(chat) | State::Polling(chat) | State::Resyncing(chat, _) => {
                Some(chat)
            }
            State::Init | State::Ended(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
