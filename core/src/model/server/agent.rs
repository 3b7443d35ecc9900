//! The agent's side of the simulator: what an agent (or an operator injecting faults) can do to
//! a session. Each action queues the events a real server would send.

use thiserror::Error;

use super::{Phase, ReferenceServer};
use crate::liveagent::event::{
    AgentInfo, AgentMessage, AgentRef, ChatRequestFail, Event, FileTransfer, IdleTimeout,
    QueueUpdate, TranscriptEntry,
};

/// A control action that does not fit the session's state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    /// No such session (never created, ended and deleted, or expired).
    #[error("no session {0}")]
    UnknownSession(String),
    /// The chat is not waiting for an agent.
    #[error("session {0} is not waiting for an agent")]
    NotWaiting(String),
    /// No agent is in the chat.
    #[error("session {0} has no agent in the chat")]
    NotEstablished(String),
}

impl ReferenceServer {
    fn phase_of(&self, id: &str) -> Result<Phase, ControlError> {
        self.sessions
            .get(id)
            .map(|s| s.phase.clone())
            .ok_or_else(|| ControlError::UnknownSession(id.to_owned()))
    }

    fn require_agent(&self, id: &str) -> Result<String, ControlError> {
        match self.phase_of(id)? {
            Phase::Established { agent } => Ok(agent),
            Phase::Created | Phase::Requested | Phase::Ended => {
                Err(ControlError::NotEstablished(id.to_owned()))
            }
        }
    }

    /// Chats waiting for an agent, oldest first.
    pub fn waiting(&self) -> Vec<&super::ServerSession> {
        self.sessions
            .values()
            .filter(|s| s.phase == Phase::Requested)
            .collect()
    }

    /// An agent accepts a waiting chat.
    pub fn accept(&mut self, id: &str, agent: &str) -> Result<(), ControlError> {
        if self.phase_of(id)? != Phase::Requested {
            return Err(ControlError::NotWaiting(id.to_owned()));
        }
        if let Some(session) = self.sessions.get_mut(id) {
            session.phase = Phase::Established {
                agent: agent.to_owned(),
            };
        }
        self.push_event(id, Event::ChatEstablished(agent_info(agent)));
        Ok(())
    }

    /// No agent takes the chat.
    pub fn reject(&mut self, id: &str, reason: &str) -> Result<(), ControlError> {
        if self.phase_of(id)? != Phase::Requested {
            return Err(ControlError::NotWaiting(id.to_owned()));
        }
        self.push_event(
            id,
            Event::ChatRequestFail(ChatRequestFail {
                reason: reason.to_owned(),
                post_chat_url: None,
            }),
        );
        if let Some(session) = self.sessions.get_mut(id) {
            session.phase = Phase::Ended;
        }
        Ok(())
    }

    /// The queue moved.
    pub fn queue_update(&mut self, id: &str, position: i64) -> Result<(), ControlError> {
        if self.phase_of(id)? != Phase::Requested {
            return Err(ControlError::NotWaiting(id.to_owned()));
        }
        self.push_event(
            id,
            Event::QueueUpdate(QueueUpdate {
                position: Some(position),
                estimated_wait_time: Some(position.saturating_mul(30)),
            }),
        );
        Ok(())
    }

    /// The agent sends text.
    pub fn agent_text(&mut self, id: &str, text: &str) -> Result<(), ControlError> {
        let agent = self.require_agent(id)?;
        if let Some(session) = self.sessions.get_mut(id) {
            session.agent_texts.push(text.to_owned());
            session.transcript.push(TranscriptEntry {
                kind: "Agent".into(),
                name: agent.clone(),
                content: text.to_owned(),
                timestamp: None,
                sequence: i64::try_from(session.transcript.len()).ok(),
            });
        }
        self.push_event(
            id,
            Event::ChatMessage(AgentMessage {
                name: agent,
                text: text.to_owned(),
                agent_id: Some(AGENT_USER_ID.to_owned()),
            }),
        );
        Ok(())
    }

    /// The agent starts or stops typing.
    pub fn agent_typing(&mut self, id: &str, typing: bool) -> Result<(), ControlError> {
        let agent = self.require_agent(id)?;
        let who = AgentRef {
            name: Some(agent),
            agent_id: None,
        };
        self.push_event(
            id,
            if typing {
                Event::AgentTyping(who)
            } else {
                Event::AgentNotTyping(who)
            },
        );
        Ok(())
    }

    /// Another agent takes over.
    pub fn transfer(&mut self, id: &str, to_agent: &str) -> Result<(), ControlError> {
        self.require_agent(id)?;
        if let Some(session) = self.sessions.get_mut(id) {
            session.phase = Phase::Established {
                agent: to_agent.to_owned(),
            };
        }
        self.push_event(id, Event::ChatTransferred(agent_info(to_agent)));
        Ok(())
    }

    /// The agent asks the visitor for a file.
    pub fn request_file(&mut self, id: &str) -> Result<(), ControlError> {
        self.require_agent(id)?;
        let token = format!("{:016x}", self.random());
        self.push_event(
            id,
            Event::FileTransfer(FileTransfer {
                kind: "Requested".into(),
                file_token: Some(token),
                upload_servlet_url: Some("https://sim.invalid/content/upload".into()),
                cdm_servlet_url: Some("https://sim.invalid/content/cdm".into()),
            }),
        );
        Ok(())
    }

    /// The agent's connection drops; the chat stays open.
    pub fn disconnect_agent(&mut self, id: &str) -> Result<(), ControlError> {
        self.require_agent(id)?;
        self.push_event(id, Event::AgentDisconnect);
        Ok(())
    }

    /// The agent ends the chat.
    pub fn end(&mut self, id: &str) -> Result<(), ControlError> {
        match self.phase_of(id)? {
            Phase::Ended => Err(ControlError::NotEstablished(id.to_owned())),
            Phase::Created | Phase::Requested | Phase::Established { .. } => {
                self.end_chat(id, "agent");
                Ok(())
            }
        }
    }

    /// The chat server holding the session restarts: its affinity token stops working (503)
    /// until the client runs ReconnectSession.
    pub fn inject_failover(&mut self, id: &str) -> Result<(), ControlError> {
        let session = self
            .sessions
            .get_mut(id)
            .ok_or_else(|| ControlError::UnknownSession(id.to_owned()))?;
        session.moved = true;
        session.ever_moved = true;
        self.wake(id);
        Ok(())
    }

    /// Every session fails over at once.
    pub fn inject_failover_all(&mut self) -> usize {
        for session in self.sessions.values_mut() {
            session.moved = true;
            session.ever_moved = true;
            self.wakeups.insert(session.id.clone());
        }
        self.sessions.len()
    }

    /// Deletes a session now, as if nobody had polled it (403 from then on).
    pub fn expire(&mut self, id: &str) -> Result<(), ControlError> {
        self.sessions
            .remove(id)
            .map(|_| self.expired += 1)
            .ok_or_else(|| ControlError::UnknownSession(id.to_owned()))
    }
}

const AGENT_USER_ID: &str = "005B0000000F3b2";

fn agent_info(name: &str) -> AgentInfo {
    AgentInfo {
        name: name.to_owned(),
        user_id: AGENT_USER_ID.to_owned(),
        sneak_peek_enabled: true,
        chasitor_idle_timeout: Some(IdleTimeout {
            is_enabled: false,
            warning_time: None,
            timeout: None,
        }),
    }
}
