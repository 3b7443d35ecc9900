//! Visitor actions: what is sent now, what waits for an agent, what is dropped.

use super::lane::VisitorPost;
use super::state::State;
use super::{EndReason, Session, SessionError, VisitorAction};
use crate::time::Timestamp;

impl Session {
    pub(super) fn on_visitor(
        &mut self,
        action: VisitorAction,
        _now: Timestamp,
    ) -> Result<(), SessionError> {
        let agent_joined = match &self.persisted.state {
            State::Ended(_) => return Err(SessionError::Ended),
            State::Init => false,
            State::Established(chat) | State::Polling(chat) | State::Resyncing(chat, _) => {
                chat.agent.is_some()
            }
        };
        if self.persisted.lane.contains_end() {
            return Err(SessionError::Ended);
        }
        let post = match action {
            VisitorAction::Text(text) => VisitorPost::Text(text),
            VisitorAction::CustomEvent { kind, data } => VisitorPost::CustomEvent { kind, data },
            VisitorAction::Typing => VisitorPost::Typing,
            VisitorAction::NotTyping => VisitorPost::NotTyping,
            VisitorAction::SneakPeek { position, text } => {
                VisitorPost::SneakPeek { position, text }
            }
            VisitorAction::End => {
                if matches!(self.persisted.state, State::Init) {
                    // No chat was requested yet: there is nothing to end on the server.
                    self.end(EndReason::VisitorEnded);
                } else {
                    self.persisted.lane.push(VisitorPost::End);
                }
                return Ok(());
            }
        };
        match post {
            VisitorPost::Text(_) | VisitorPost::CustomEvent { .. } if agent_joined => {
                self.persisted.lane.push(post);
            }
            VisitorPost::Text(_) | VisitorPost::CustomEvent { .. } => {
                self.persisted.held.push_back(post);
            }
            // Typing and sneak peeks only mean something to an agent who is there.
            VisitorPost::Typing | VisitorPost::NotTyping | VisitorPost::SneakPeek { .. } => {
                if agent_joined {
                    self.persisted.lane.push(post);
                }
            }
            VisitorPost::ChasitorInit | VisitorPost::End => {}
        }
        Ok(())
    }
}
