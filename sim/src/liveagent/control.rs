//! The agent's side, as a Rust handle: what tests (and the console) do to chats. Every action
//! goes through the reference server and wakes the session's held poll.

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::model::server::{ControlError, Knobs, Phase, Recorded, ServerSession};
use thiserror::Error;

use super::state::Shared;

/// A control action the simulator refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AgentError {
    /// The reference server refused it: unknown session or wrong phase.
    #[error(transparent)]
    Refused(#[from] ControlError),
}

impl AgentError {
    /// The HTTP status the control API answers with: 404 for an unknown session, 409 for a
    /// session in the wrong phase.
    pub fn http_status(&self) -> u16 {
        match self {
            AgentError::Refused(ControlError::UnknownSession(_)) => 404,
            AgentError::Refused(ControlError::NotWaiting(_) | ControlError::NotEstablished(_)) => {
                409
            }
        }
    }
}

/// A chat waiting for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingChat {
    /// The Live Agent session id.
    pub session_id: String,
    /// `visitorName` from ChasitorInit.
    pub visitor_name: String,
    /// Pre-chat details, `(label, value)`.
    pub prechat: Vec<(String, String)>,
}

/// A snapshot of one session as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The session id.
    pub id: String,
    /// The session key (a secret in production; here for assertions).
    pub key: String,
    /// The current affinity token.
    pub affinity_token: String,
    /// Where the chat stands.
    pub phase: Phase,
    /// `visitorName` from ChasitorInit.
    pub visitor_name: String,
    /// Pre-chat details, `(label, value)`.
    pub prechat: Vec<(String, String)>,
    /// Texts the agent received from the visitor, in order.
    pub visitor_texts: Vec<String>,
    /// Texts the agent sent, in order.
    pub agent_texts: Vec<String>,
    /// Whether the visitor is typing.
    pub visitor_typing: bool,
    /// Custom events from the visitor, `(type, data)`.
    pub custom_events: Vec<(String, String)>,
    /// Whether a `Messages` poll is being held.
    pub polling: bool,
    /// Whether a failover is pending (ReconnectSession not yet done).
    pub moved: bool,
}

impl SessionView {
    pub(crate) fn of(session: &ServerSession) -> Self {
        Self {
            id: session.id().to_owned(),
            key: session.key().to_owned(),
            affinity_token: session.affinity_token().to_owned(),
            phase: session.phase().clone(),
            visitor_name: session.visitor_name().to_owned(),
            prechat: session.prechat().to_vec(),
            visitor_texts: session.visitor_texts().to_vec(),
            agent_texts: session.agent_texts().to_vec(),
            visitor_typing: session.visitor_typing(),
            custom_events: session.custom_events().to_vec(),
            polling: session.poll_open(),
            moved: session.moved(),
        }
    }
}

/// A handle on a running simulator's agent side. Cheap to clone; usable from any thread.
#[derive(Debug, Clone)]
pub struct AgentControl {
    pub(crate) shared: Arc<Shared>,
}

impl AgentControl {
    fn act(
        &self,
        f: impl FnOnce(
            &mut switchboard_core::model::server::ReferenceServer,
        ) -> Result<(), ControlError>,
    ) -> Result<(), AgentError> {
        self.shared
            .mutate(|state, _| f(&mut state.server))
            .map_err(AgentError::from)
    }

    /// Chats waiting for an agent, oldest first.
    pub fn waiting(&self) -> Vec<WaitingChat> {
        self.shared.read(|state| {
            state
                .server
                .waiting()
                .into_iter()
                .map(|s| WaitingChat {
                    session_id: s.id().to_owned(),
                    visitor_name: s.visitor_name().to_owned(),
                    prechat: s.prechat().to_vec(),
                })
                .collect()
        })
    }

    /// An agent named `agent_name` accepts a waiting chat (ChatEstablished).
    pub fn accept(&self, id: &str, agent_name: &str) -> Result<(), AgentError> {
        self.act(|s| s.accept(id, agent_name))
    }

    /// No agent takes a waiting chat (ChatRequestFail with `reason`, e.g. `Unavailable`).
    pub fn reject(&self, id: &str, reason: &str) -> Result<(), AgentError> {
        self.act(|s| s.reject(id, reason))
    }

    /// A waiting chat moves in the queue (QueueUpdate).
    pub fn queue_update(&self, id: &str, position: i64) -> Result<(), AgentError> {
        self.act(|s| s.queue_update(id, position))
    }

    /// The agent sends text (ChatMessage).
    pub fn send_text(&self, id: &str, text: &str) -> Result<(), AgentError> {
        self.act(|s| s.agent_text(id, text))
    }

    /// The agent starts or stops typing (AgentTyping / AgentNotTyping).
    pub fn typing(&self, id: &str, typing: bool) -> Result<(), AgentError> {
        self.act(|s| s.agent_typing(id, typing))
    }

    /// The chat goes to another agent (ChatTransferred).
    pub fn transfer(&self, id: &str, agent_name: &str) -> Result<(), AgentError> {
        self.act(|s| s.transfer(id, agent_name))
    }

    /// The agent asks the visitor for a file (FileTransfer `Requested`).
    pub fn request_file(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s| s.request_file(id))
    }

    /// The agent's connection drops; the chat stays open (AgentDisconnect).
    pub fn disconnect_agent(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s| s.disconnect_agent(id))
    }

    /// The agent ends the chat (ChatEnded).
    pub fn end(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s| s.end(id))
    }

    /// The session's chat server restarts: its requests get 503 (a held poll at once) until
    /// ReconnectSession.
    pub fn failover(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s| s.inject_failover(id))
    }

    /// Every session fails over; returns how many.
    pub fn failover_all(&self) -> usize {
        self.shared
            .mutate(|state, _| state.server.inject_failover_all())
    }

    /// Deletes a session now, as if nobody had polled it (403 from then on).
    pub fn expire(&self, id: &str) -> Result<(), AgentError> {
        self.act(|s| s.expire(id))
    }

    /// One session.
    pub fn session(&self, id: &str) -> Option<SessionView> {
        self.shared
            .read(|state| state.server.session(id).map(SessionView::of))
    }

    /// Every live session, in id order.
    pub fn sessions(&self) -> Vec<SessionView> {
        self.shared
            .read(|state| state.server.sessions().map(SessionView::of).collect())
    }

    /// Every request received so far (while `record_requests` is on), in arrival order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.shared.read(|state| state.server.recorded().to_vec())
    }

    /// The simulator's clock now, as [`Recorded::at`] reads it.
    pub fn now(&self) -> switchboard_core::time::Timestamp {
        self.shared.clock.now()
    }

    /// Sessions deleted so far for not being polled (or by [`AgentControl::expire`]).
    pub fn expired_count(&self) -> u64 {
        self.shared.read(|state| state.server.expired_count())
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

    /// Moves the model's clock forward (session expiry, key timestamps). Hold timers keep
    /// running on wall time.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
        self.shared.mutate(|_, _| ());
    }

    /// Waits until `check` returns something, re-checking after every change to the simulator;
    /// `None` when `timeout` passes first.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&AgentControl) -> Option<T>,
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

    /// Waits for a chat to be waiting for an agent; returns the oldest.
    pub async fn wait_for_waiting_chat(&self, timeout: Duration) -> Option<WaitingChat> {
        self.wait_until(timeout, |c| c.waiting().into_iter().next())
            .await
    }

    /// Waits until session `id` exists and satisfies `check`; returns its view then.
    pub async fn wait_for_session(
        &self,
        id: &str,
        timeout: Duration,
        mut check: impl FnMut(&SessionView) -> bool,
    ) -> Option<SessionView> {
        self.wait_until(timeout, |c| c.session(id).filter(|view| check(view)))
            .await
    }
}
