//! The agent's side as a Rust handle, plus the operator's faults: what tests (and the console)
//! do to conversations and streams. Every action goes through the reference server at the
//! simulator's current time, so open streams see its events at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchboard_core::model::enhanced::{
    Acknowledgement, ControlError, Conversation, EnhancedServer, Knobs, Recorded, RoutingStatus,
    SessionState, SseEvent,
};
use switchboard_core::time::Timestamp;
use thiserror::Error;

use super::state::{DropMode, Shared, StreamCommand};

/// An agent action the simulator refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AgentError {
    /// The reference server refused it: unknown conversation or wrong state.
    #[error(transparent)]
    Refused(#[from] ControlError),
}

impl AgentError {
    /// The control API's status: 404 for an unknown conversation, 409 for a wrong state.
    pub fn http_status(&self) -> u16 {
        match self {
            AgentError::Refused(ControlError::UnknownConversation(_)) => 404,
            AgentError::Refused(_) => 409,
        }
    }
}

/// A conversation routed and waiting for an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingConversation {
    /// The conversation id.
    pub conversation_id: String,
    /// The end user's subject.
    pub subject: String,
    /// `routingAttributes` from create.
    pub routing_attributes: Value,
}

/// A snapshot of one conversation as the server sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationView {
    /// The conversation id.
    pub id: String,
    /// The end user's subject.
    pub subject: String,
    /// Not closed.
    pub open: bool,
    /// The current session.
    pub session: SessionState,
    /// What `GET /conversation/{id}` answers.
    pub routing_status: RoutingStatus,
    /// `routingAttributes`.
    pub routing_attributes: Value,
    /// Texts the end user sent, in order.
    pub end_user_texts: Vec<String>,
    /// Texts agents sent, in order.
    pub agent_texts: Vec<String>,
    /// Whether the end user is typing.
    pub end_user_typing: bool,
    /// Transcripted entries so far.
    pub entries: usize,
    /// Messaging sessions started.
    pub sessions_started: u32,
}

impl ConversationView {
    pub(crate) fn of(c: &Conversation) -> Self {
        Self {
            id: c.id().to_owned(),
            subject: c.subject().to_owned(),
            open: c.is_open(),
            session: c.session().clone(),
            routing_status: c.routing_status(),
            routing_attributes: c.routing_attributes().clone(),
            end_user_texts: c.end_user_texts().to_vec(),
            agent_texts: c.agent_texts().to_vec(),
            end_user_typing: c.end_user_typing(),
            entries: c.entries().len(),
            sessions_started: c.sessions_started(),
        }
    }

    /// The agent in the conversation, if any.
    pub fn agent(&self) -> Option<&str> {
        match &self.session {
            SessionState::Active { agent } => Some(agent),
            SessionState::Routing { .. } | SessionState::Waiting | SessionState::Ended => None,
        }
    }
}

/// An open SSE stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamView {
    /// Whose events it carries.
    pub subject: String,
    /// When it opened (model time).
    pub opened_at: Timestamp,
    /// Whether it is stalled.
    pub stalled: bool,
}

/// A handle on a running simulator's agent side. Cheap to clone; usable from any thread.
#[derive(Debug, Clone)]
pub struct EnhancedAgent {
    pub(crate) shared: Arc<Shared>,
}

impl EnhancedAgent {
    fn act<T>(
        &self,
        f: impl FnOnce(&mut EnhancedServer, Timestamp) -> Result<T, ControlError>,
    ) -> Result<T, AgentError> {
        self.shared
            .mutate(|state, now| f(&mut state.server, now))
            .map_err(AgentError::from)
    }

    /// Conversations waiting for an agent, oldest first.
    pub fn waiting(&self) -> Vec<WaitingConversation> {
        self.shared.read(|state| {
            state
                .server
                .waiting()
                .into_iter()
                .map(|c| WaitingConversation {
                    conversation_id: c.id().to_owned(),
                    subject: c.subject().to_owned(),
                    routing_attributes: c.routing_attributes().clone(),
                })
                .collect()
        })
    }

    /// An agent named `agent_name` accepts (`ParticipantChanged add`).
    pub fn accept(&self, id: &str, agent_name: &str) -> Result<(), AgentError> {
        self.act(|s, now| s.accept(id, agent_name, now))
    }

    /// Routing answers now instead of after the delay.
    pub fn route_now(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s, now| s.route_now(id, now))
    }

    /// Routing fails (`RoutingResult` with `RoutingError`); the session ends.
    pub fn fail_routing(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s, now| s.fail_routing(id, now))
    }

    /// The agent writes; returns the entry identifier.
    pub fn send_text(&self, id: &str, text: &str) -> Result<String, AgentError> {
        self.act(|s, now| s.agent_text(id, text, now))
    }

    /// The agent sends a file as an `Attachments` message with a download `url`.
    pub fn send_attachment(
        &self,
        id: &str,
        name: &str,
        mime_type: &str,
        url: &str,
    ) -> Result<String, AgentError> {
        self.act(|s, now| s.agent_attachment(id, name, mime_type, url, now))
    }

    /// The agent starts or stops typing.
    pub fn typing(&self, id: &str, typing: bool) -> Result<(), AgentError> {
        self.act(|s, now| s.agent_typing(id, typing, now))
    }

    /// A delivery or read receipt for the end user's message `message_id`.
    pub fn acknowledge(
        &self,
        id: &str,
        message_id: &str,
        kind: Acknowledgement,
    ) -> Result<(), AgentError> {
        self.act(|s, now| s.acknowledge(id, message_id, kind, now))
    }

    /// Transfer to `to_agent` (remove, `RoutingResult Transfer`, add), or to the queue.
    pub fn transfer(&self, id: &str, to_agent: Option<&str>) -> Result<(), AgentError> {
        self.act(|s, now| s.transfer(id, to_agent, now))
    }

    /// The agent ends the session (remove, `SessionStatusChanged Ended`, `NEEDS_ROUTING`).
    pub fn end_session(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s, now| s.end_session_by_agent(id, now))
    }

    /// Pushes an event named `name` that clients must ignore; returns its id.
    pub fn push_unknown_event(
        &self,
        id: &str,
        name: &str,
        payload: Value,
    ) -> Result<u64, AgentError> {
        self.act(|s, _| s.push_unknown_event(id, name, payload))
    }

    /// Cuts every open stream of `subject`; returns how many.
    pub fn drop_streams(&self, subject: &str, mode: DropMode) -> usize {
        self.shared
            .mutate(|state, _| state.command(subject, StreamCommand::Drop(mode)))
    }

    /// From now on every stream sends each event twice, the repeat under the same id (a
    /// delivery that is at least once, as after a proxy's retry); `false` goes back to once.
    pub fn repeat_stream_events(&self, on: bool) {
        self.shared.mutate(|state, _| state.repeat_events = on);
    }

    /// Stalls (no events, no pings) or resumes every open stream of `subject`.
    pub fn stall_streams(&self, subject: &str, stalled: bool) -> usize {
        self.shared
            .mutate(|state, _| state.command(subject, StreamCommand::Stall(stalled)))
    }

    /// Open streams, in opening order.
    pub fn streams(&self) -> Vec<StreamView> {
        self.shared.read(|state| {
            state
                .streams
                .values()
                .map(|e| StreamView {
                    subject: e.subject.clone(),
                    opened_at: e.opened_at,
                    stalled: e.stalled,
                })
                .collect()
        })
    }

    /// How many streams of `subject` are open.
    pub fn open_streams(&self, subject: &str) -> usize {
        self.streams()
            .iter()
            .filter(|s| s.subject == subject)
            .count()
    }

    /// Makes `token` expire now (401 from then on); false when unknown or already expired.
    pub fn expire_token(&self, token: &str) -> bool {
        self.shared
            .mutate(|state, now| state.server.expire_token(token, now))
    }

    /// Makes every token of `subject` expire now; returns how many.
    pub fn expire_subject(&self, subject: &str) -> usize {
        self.shared
            .mutate(|state, now| state.server.expire_subject(subject, now))
    }

    /// The next `count` REST requests get `status` (429, 503, …).
    pub fn fail_next_requests(&self, status: u16, count: usize) {
        self.shared
            .mutate(|state, _| state.server.fail_next_requests(status, count));
    }

    /// The next `count` SSE connects get `status`.
    pub fn fail_next_streams(&self, status: u16, count: usize) {
        self.shared
            .mutate(|state, _| state.server.fail_next_streams(status, count));
    }

    /// One conversation.
    pub fn conversation(&self, id: &str) -> Option<ConversationView> {
        self.shared
            .read(|state| state.server.conversation(id).map(ConversationView::of))
    }

    /// Every conversation, in id order.
    pub fn conversations(&self) -> Vec<ConversationView> {
        self.shared.read(|state| {
            state
                .server
                .conversations()
                .map(ConversationView::of)
                .collect()
        })
    }

    /// Every event of `subject`'s log.
    pub fn events(&self, subject: &str) -> Vec<SseEvent> {
        self.shared
            .read(|state| state.server.events(subject).to_vec())
    }

    /// Every request received so far (while `record_requests` is on), in arrival order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.shared.read(|state| state.server.recorded().to_vec())
    }

    /// The current settings.
    pub fn knobs(&self) -> Knobs {
        self.shared.read(|state| state.server.knobs().clone())
    }

    /// Replaces the settings; they apply to the next request.
    pub fn set_knobs(&self, knobs: Knobs) {
        self.shared
            .mutate(|state, _| *state.server.knobs_mut() = knobs);
    }

    /// Moves the model's clock forward (token expiry, rate windows, routing delays).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
        self.shared.mutate(|_, _| ());
    }

    /// The model's current time.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Waits until `check` returns something, re-checking after every change; `None` when
    /// `timeout` passes first.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&EnhancedAgent) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.shared.changes.subscribe();
        loop {
            if let Some(found) = check(self) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return check(self),
            }
        }
    }

    /// Waits for a conversation to be waiting for an agent; returns the oldest.
    pub async fn wait_for_waiting(&self, timeout: Duration) -> Option<WaitingConversation> {
        self.wait_until(timeout, |a| a.waiting().into_iter().next())
            .await
    }

    /// Waits until conversation `id` exists and satisfies `check`.
    pub async fn wait_for_conversation(
        &self,
        id: &str,
        timeout: Duration,
        mut check: impl FnMut(&ConversationView) -> bool,
    ) -> Option<ConversationView> {
        self.wait_until(timeout, |a| a.conversation(id).filter(|c| check(c)))
            .await
    }

    /// Waits until `subject` has at least `count` open streams.
    pub async fn wait_for_streams(&self, subject: &str, count: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |a| {
            (a.open_streams(subject) >= count).then_some(())
        })
        .await
        .is_some()
    }
}
