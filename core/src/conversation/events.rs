//! The desk's events: queue reports, agents joining and taking over, agent text and typing,
//! file requests, and the end of the chat.

use std::mem;

use super::Conversation;
use super::state::{Chatting, QueueInfo, State, Told};
use super::templates::Notice;
use crate::desk::{Agent, DeskEnd, DeskEvent, EndReason};
use crate::time::Timestamp;

impl Conversation {
    /// An event of the live chat's desk (the caller checked that there is one).
    pub(super) fn on_desk(&mut self, event: DeskEvent, now: Timestamp) {
        match event {
            DeskEvent::Queued {
                position,
                wait_secs,
            } => {
                if let State::Waiting(waiting) = &mut self.persisted.state {
                    waiting.latest = Some(QueueInfo {
                        position,
                        wait_secs,
                    });
                }
            }
            DeskEvent::AgentJoined(agent) => self.on_agent(agent, true, now),
            DeskEvent::Transferred(agent) => self.on_agent(agent, false, now),
            DeskEvent::AgentText(text) => self.relay_agent_text(text, now),
            DeskEvent::AgentTyping(true) => {
                if self.agent_reachable() {
                    self.typing(now);
                }
            }
            DeskEvent::AgentTyping(false) => {}
            DeskEvent::FileRequested => self.on_file_requested(now),
            DeskEvent::FileRequestDone => {
                if let State::Chatting(chatting) = &mut self.persisted.state {
                    chatting.file_requested = false;
                }
            }
            DeskEvent::Ended { reason, unsent } => self.on_ended(reason, unsent.len(), now),
        }
    }

    fn on_agent(&mut self, agent: Agent, joined: bool, now: Timestamp) {
        let name = agent.name.clone();
        match &mut self.persisted.state {
            State::Waiting(_) => {
                self.persisted.state = State::Chatting(Chatting {
                    agent,
                    file_requested: false,
                });
            }
            State::Chatting(chatting) => {
                // A new agent did not ask for the previous one's file.
                chatting.file_requested &= chatting.agent == agent;
                chatting.agent = agent;
            }
            State::Ending(ending) => {
                ending.agent = Some(name);
                return;
            }
            State::Idle => return,
        }
        let notice = if joined {
            Notice::AgentJoined { agent: &name }
        } else {
            Notice::Transferred { agent: &name }
        };
        let text = self.config.templates.render(&notice);
        self.tell_user(text, now);
    }

    fn on_file_requested(&mut self, now: Timestamp) {
        let State::Chatting(chatting) = &mut self.persisted.state else {
            return;
        };
        chatting.file_requested = true;
        let notice = Notice::FileRequested {
            agent: &chatting.agent.name,
        };
        let text = self.config.templates.render(&notice);
        self.tell_user(text, now);
    }

    /// The chat is over: merged agent lines go out first, then why it ended; messages the user
    /// wrote while it was ending are then handled as new ones. `unsent`: visitor texts the
    /// desk never passed to an agent (typed while queued).
    fn on_ended(&mut self, reason: EndReason, unsent: usize, now: Timestamp) {
        let previous = mem::replace(&mut self.persisted.state, State::Idle);
        // (agent name, messages held meanwhile, the user withdrew before an agent joined)
        let (agent, held, withdrawn) = match previous {
            State::Chatting(chatting) => (Some(chatting.agent.name), Vec::new(), false),
            State::Ending(ending) => {
                let withdrawn = ending.agent.is_none();
                (ending.agent, ending.held, withdrawn)
            }
            State::Waiting(_) | State::Idle => (None, Vec::new(), false),
        };
        self.flush_relay(now);
        let notice = match (&reason, agent.as_deref()) {
            (EndReason::Visitor, None) if withdrawn => Notice::Withdrawn { unsent },
            (EndReason::Agent, Some(agent)) => Notice::EndedByAgent { agent },
            (EndReason::Agent | EndReason::Desk(DeskEnd::Other(_)), _) => Notice::Ended,
            (EndReason::Visitor, _) => Notice::EndedByUser,
            (EndReason::Desk(DeskEnd::VisitorIdle), _) => Notice::EndedIdle,
            (EndReason::Desk(DeskEnd::NoAgent), _) => Notice::NoAgent,
            (EndReason::Desk(DeskEnd::Expired), _) => Notice::SessionExpired,
            (EndReason::Unreachable, _) => Notice::ConnectionLost,
        };
        let text = self.config.templates.render(&notice);
        self.tell_user(text, now);
        for message in held {
            self.dispatch_user(message);
        }
    }

    /// When the next throttled queue notice may go out, if the position changed meanwhile.
    pub(super) fn queue_notice_due(&self) -> Option<Timestamp> {
        let State::Waiting(waiting) = &self.persisted.state else {
            return None;
        };
        let (latest, told) = (waiting.latest?, waiting.told?);
        (latest.position != told.position).then(|| told.at + self.config.queue_notice_interval)
    }

    /// Tells the user their queue position if it changed and the last notice is old enough.
    pub(super) fn queue_notice(&mut self, now: Timestamp) {
        let interval = self.config.queue_notice_interval;
        let State::Waiting(waiting) = &mut self.persisted.state else {
            return;
        };
        let Some(latest) = waiting.latest else {
            return;
        };
        let due = match waiting.told {
            None => true,
            Some(told) => latest.position != told.position && now >= told.at + interval,
        };
        if !due {
            return;
        }
        // Counted as told even when the user cannot receive it: a stale position is not worth
        // keeping for later.
        waiting.told = Some(Told {
            position: latest.position,
            at: now,
        });
        let text = self.config.templates.render(&Notice::Queued {
            position: latest.position,
            wait_secs: latest.wait_secs,
        });
        self.tell_user(text, now);
    }
}
