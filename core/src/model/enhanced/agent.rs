//! The agent's side and the operator's faults (§10 "Agent side", fault injection): accept a
//! routed conversation, write, type, acknowledge, transfer, end the session, fail routing,
//! push an unknown event; expire tokens, make the next requests or stream connects fail.
//! Each action queues exactly the events the real service sends for it.

use serde_json::{Value, json};
use thiserror::Error;

use super::conversation::{RoutingStatus, SessionState};
use super::entry::{self, Role};
use super::{Conversation, EnhancedServer};
use crate::time::Timestamp;

/// An agent action that does not fit the conversation's state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    /// No such conversation.
    #[error("no conversation {0}")]
    UnknownConversation(String),
    /// The conversation is closed.
    #[error("conversation {0} is closed")]
    Closed(String),
    /// The session is not waiting for an agent.
    #[error("conversation {0} is not waiting for an agent")]
    NotWaiting(String),
    /// No agent is in the conversation.
    #[error("conversation {0} has no agent")]
    NoAgent(String),
    /// The session is not being routed.
    #[error("conversation {0} is not being routed")]
    NotRouting(String),
}

/// A receipt an agent's side sends for an end-user message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledgement {
    /// `CONVERSATION_DELIVERY_ACKNOWLEDGEMENT`.
    Delivered,
    /// `CONVERSATION_READ_ACKNOWLEDGEMENT`.
    Read,
}

impl EnhancedServer {
    fn open(&self, id: &str) -> Result<&Conversation, ControlError> {
        let c = self
            .conversations
            .get(id)
            .ok_or_else(|| ControlError::UnknownConversation(id.to_owned()))?;
        if !c.is_open() {
            return Err(ControlError::Closed(id.to_owned()));
        }
        Ok(c)
    }

    fn active_agent(&self, id: &str) -> Result<String, ControlError> {
        self.open(id)?
            .agent()
            .map(str::to_owned)
            .ok_or_else(|| ControlError::NoAgent(id.to_owned()))
    }

    /// Open conversations routed and waiting for an agent, oldest first.
    pub fn waiting(&self) -> Vec<&Conversation> {
        let mut waiting: Vec<&Conversation> = self
            .conversations
            .values()
            .filter(|c| c.is_open() && c.session == SessionState::Waiting)
            .collect();
        waiting.sort_by_key(|c| c.created_at);
        waiting
    }

    /// An agent accepts: `ParticipantChanged add` (role Agent); routing status `ROUTED`.
    pub fn accept(&mut self, id: &str, agent: &str, now: Timestamp) -> Result<(), ControlError> {
        if self.open(id)?.session != SessionState::Waiting {
            return Err(ControlError::NotWaiting(id.to_owned()));
        }
        self.participant(id, "add", agent, now);
        if let Some(c) = self.conversations.get_mut(id) {
            c.session = SessionState::Active {
                agent: agent.to_owned(),
            };
            c.routing_status = RoutingStatus::Routed;
        }
        Ok(())
    }

    /// Routing answers now instead of after the delay.
    pub fn route_now(&mut self, id: &str, now: Timestamp) -> Result<(), ControlError> {
        match self.open(id)?.session {
            SessionState::Routing { .. } => {}
            _ => return Err(ControlError::NotRouting(id.to_owned())),
        }
        if let Some(c) = self.conversations.get_mut(id) {
            let transfer = matches!(c.session, SessionState::Routing { transfer: true, .. });
            c.session = SessionState::Routing { due: now, transfer };
        }
        self.advance(now);
        Ok(())
    }

    /// No agent takes a waiting or routing session: `RoutingResult` with `RoutingError`; the
    /// session ends (routing status `NEEDS_ROUTING`).
    pub fn fail_routing(&mut self, id: &str, now: Timestamp) -> Result<(), ControlError> {
        let transfer = match self.open(id)?.session {
            SessionState::Waiting => false,
            SessionState::Routing { transfer, .. } => transfer,
            SessionState::Active { .. } | SessionState::Ended => {
                return Err(ControlError::NotWaiting(id.to_owned()));
            }
        };
        self.routing_result(id, transfer, true, now);
        if let Some(c) = self.conversations.get_mut(id) {
            c.session = SessionState::Ended;
            c.routing_status = RoutingStatus::NeedsRouting;
        }
        Ok(())
    }

    /// The agent writes: a `Message` entry with role Agent; returns its identifier.
    pub fn agent_text(
        &mut self,
        id: &str,
        text: &str,
        now: Timestamp,
    ) -> Result<String, ControlError> {
        let agent = self.active_agent(id)?;
        let entry_id = self.uuid();
        let payload = entry::text_payload(&entry_id, &entry_id, text, None);
        self.push_entry(
            id,
            entry_id.clone(),
            Role::Agent,
            Some(&agent),
            payload,
            Vec::new(),
            now,
        );
        if let Some(c) = self.conversations.get_mut(id) {
            c.agent_texts.push(text.to_owned());
        }
        Ok(entry_id)
    }

    /// The agent sends a file: an `Attachments` message pointing at `url`.
    pub fn agent_attachment(
        &mut self,
        id: &str,
        name: &str,
        mime_type: &str,
        url: &str,
        now: Timestamp,
    ) -> Result<String, ControlError> {
        let agent = self.active_agent(id)?;
        let entry_id = self.uuid();
        let payload = entry::attachment_payload(&entry_id, name, mime_type, url);
        self.push_entry(
            id,
            entry_id.clone(),
            Role::Agent,
            Some(&agent),
            payload,
            Vec::new(),
            now,
        );
        Ok(entry_id)
    }

    /// The agent starts or stops typing (not transcripted).
    pub fn agent_typing(
        &mut self,
        id: &str,
        typing: bool,
        now: Timestamp,
    ) -> Result<(), ControlError> {
        let agent = self.active_agent(id)?;
        let entry_id = self.uuid();
        let payload = entry::typing_payload(&entry_id, typing);
        self.push_entry(
            id,
            entry_id,
            Role::Agent,
            Some(&agent),
            payload,
            Vec::new(),
            now,
        );
        Ok(())
    }

    /// The agent's side acknowledges the end user's message `message_id`
    /// (`relatedRecords[0]` = that id).
    pub fn acknowledge(
        &mut self,
        id: &str,
        message_id: &str,
        kind: Acknowledgement,
        now: Timestamp,
    ) -> Result<(), ControlError> {
        let agent = self.active_agent(id)?;
        let entry_id = self.uuid();
        let read = kind == Acknowledgement::Read;
        let payload = entry::ack_payload(&entry_id, read, now.as_millis());
        let related = vec![message_id.to_owned()];
        self.push_entry(
            id,
            entry_id,
            Role::Agent,
            Some(&agent),
            payload,
            related,
            now,
        );
        Ok(())
    }

    /// A transfer: the agent leaves, `RoutingResult Transfer`, and `to_agent` joins. With
    /// `None` the session waits (routing status `TRANSFER`) until an agent accepts.
    pub fn transfer(
        &mut self,
        id: &str,
        to_agent: Option<&str>,
        now: Timestamp,
    ) -> Result<(), ControlError> {
        let agent = self.active_agent(id)?;
        self.participant(id, "remove", &agent, now);
        if let Some(c) = self.conversations.get_mut(id) {
            c.routing_status = RoutingStatus::Transfer;
            c.session = SessionState::Waiting;
        }
        self.routing_result(id, true, false, now);
        match to_agent {
            Some(next) => self.accept(id, next, now),
            None => Ok(()),
        }
    }

    /// The agent ends the session: the agent leaves, `SessionStatusChanged Ended`
    /// (`sessionEndedByRole` Agent), routing status `NEEDS_ROUTING`; the conversation stays open.
    pub fn end_session_by_agent(&mut self, id: &str, now: Timestamp) -> Result<(), ControlError> {
        self.active_agent(id)?;
        self.end_session(id, Role::Agent, now);
        Ok(())
    }

    /// An event of a type clients must ignore (§7.3: new ones appear), as `name`.
    pub fn push_unknown_event(
        &mut self,
        id: &str,
        name: &str,
        payload: Value,
    ) -> Result<u64, ControlError> {
        let subject = self.open(id)?.subject.clone();
        let data = json!({
            "channelType": "embedded_messaging",
            "conversationId": id,
            "payload": payload,
        });
        Ok(self.push_event(&subject, name, data.to_string()))
    }

    /// Makes `token` expire now; false when unknown or already expired.
    pub fn expire_token(&mut self, token: &str, now: Timestamp) -> bool {
        self.expire_tokens(|t, _| t == token, now) > 0
    }

    /// Makes every token of `subject` expire now; returns how many.
    pub fn expire_subject(&mut self, subject: &str, now: Timestamp) -> usize {
        self.expire_tokens(|_, info| info.subject == subject, now)
    }

    /// The next `count` REST requests (SSE connects excluded) get `status` (e.g. 429, 503).
    pub fn fail_next_requests(&mut self, status: u16, count: usize) {
        self.rest_faults.extend(std::iter::repeat_n(status, count));
    }

    /// The next `count` SSE connects get `status`.
    pub fn fail_next_streams(&mut self, status: u16, count: usize) {
        self.stream_faults
            .extend(std::iter::repeat_n(status, count));
    }
}
