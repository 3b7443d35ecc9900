//! Entries, from the stream or a catch-up list, become desk events: repeats (by identifier)
//! are dropped, echoes of our own texts only settle a send whose answer was lost, and the rest
//! is translated.

use super::EnhancedChat;
use super::state::{Outgoing, Phase};
use crate::desk::{Agent, DeskEnd, DeskEvent, EndReason};
use crate::enhanced::wire::{Entry, Payload, Role};

impl EnhancedChat {
    pub(super) fn take_entry(&mut self, entry: Entry) {
        let ours = &self.persisted.start.conversation_id;
        if !entry.conversation_id.is_empty() && entry.conversation_id != *ours {
            // The stream serves every conversation of the token's subject.
            return;
        }
        if self.persisted.seen.contains(&entry.identifier) {
            return;
        }
        self.persisted.seen.push_back(entry.identifier.clone());
        while self.persisted.seen.len() > self.config.remembered_entries {
            self.persisted.seen.pop_front();
        }
        if let Some(at) = entry.transcripted_at {
            self.persisted.newest_entry_at =
                Some(self.persisted.newest_entry_at.map_or(at, |n| n.max(at)));
        }
        if matches!(self.persisted.phase, Phase::Ended | Phase::Closing { .. }) {
            return;
        }
        let from_agent = matches!(entry.role, Role::Agent | Role::Chatbot);
        match entry.payload {
            Payload::Message { message_id, text } => {
                if entry.role == Role::EndUser {
                    self.settle_echo(&message_id);
                } else if from_agent && !text.trim().is_empty() {
                    self.staged_events.push(DeskEvent::AgentText(text));
                }
            }
            Payload::ParticipantChanged(changes) => {
                for change in changes {
                    if !matches!(change.role, Role::Agent | Role::Chatbot) {
                        continue;
                    }
                    if change.added {
                        let agent = Agent {
                            name: change.name,
                            id: change.subject,
                        };
                        let event = if self.persisted.joined {
                            DeskEvent::Transferred(agent.clone())
                        } else {
                            DeskEvent::AgentJoined(agent.clone())
                        };
                        if self.persisted.agent.as_ref() != Some(&agent) {
                            self.staged_events.push(event);
                        }
                        self.persisted.joined = true;
                        self.persisted.agent = Some(agent);
                    } else if self
                        .persisted
                        .agent
                        .as_ref()
                        .is_some_and(|a| a.id == change.subject)
                    {
                        self.persisted.agent = None;
                    }
                }
            }
            Payload::RoutingResult {
                routing_type,
                failure_type,
                wait_secs,
            } => {
                if failure_type != "None" && self.persisted.agent.is_none() {
                    self.end(EndReason::Desk(DeskEnd::NoAgent), true);
                } else if routing_type == "Initial" && !self.persisted.joined {
                    self.staged_events.push(DeskEvent::Queued {
                        position: None,
                        wait_secs,
                    });
                }
            }
            Payload::Typing(on) if from_agent => {
                self.staged_events.push(DeskEvent::AgentTyping(on));
            }
            Payload::SessionStatus { status, ended_by } if status == "Ended" => {
                let reason = match ended_by {
                    Some(Role::Agent | Role::Chatbot | Role::Supervisor) => EndReason::Agent,
                    Some(Role::EndUser) => EndReason::Visitor,
                    Some(Role::Other(_)) | None => {
                        EndReason::Desk(DeskEnd::Other("the messaging session ended".into()))
                    }
                };
                self.end(reason, true);
            }
            Payload::Closed => self.end(EndReason::Visitor, false),
            Payload::Typing(_)
            | Payload::SessionStatus { .. }
            | Payload::Acknowledgement
            | Payload::Other(_) => {}
        }
    }

    /// Our own text came back: if it is the send whose answer was lost, it arrived.
    fn settle_echo(&mut self, message_id: &str) {
        let head_matches =
            self.persisted.pending.front().is_some_and(|head| {
                head.id == message_id && matches!(head.what, Outgoing::Text(_))
            });
        if head_matches && self.io.head_unsure && self.io.rest.is_none() {
            self.persisted.pending.pop_front();
            self.io.head_unsure = false;
        }
    }
}
