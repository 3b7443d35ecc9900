//! The user's pushes: what reopens the reply window, what starts or ends a chat, and what is
//! forwarded to the agent.

use super::Conversation;
use super::config::ConversationConfig;
use super::describe::describe;
use super::input::{UserMessage, UserRef};
use super::output::Output;
use super::state::{Coordinates, Ending, State, Waiting, Window};
use crate::desk::{ChatStart, DeskRequest, Detail};
use crate::time::Timestamp;

impl Conversation {
    pub(super) fn on_user(&mut self, message: UserMessage, now: Timestamp) {
        match &message {
            UserMessage::Text(_)
            | UserMessage::Image { .. }
            | UserMessage::Voice { .. }
            | UserMessage::Video { .. }
            | UserMessage::Location { .. }
            | UserMessage::UnreadableLocation { .. }
            | UserMessage::Link { .. }
            | UserMessage::MenuClick { .. } => self.reopen_window(now),
            // Nothing can reach the user any more; agent lines waiting to go out are kept.
            UserMessage::Unsubscribe => self.close_window(true),
            UserMessage::LocationReport {
                latitude,
                longitude,
            } => {
                self.persisted.last_location = Some(Coordinates {
                    latitude: *latitude,
                    longitude: *longitude,
                });
            }
            // A follow grants a much smaller quota than a message, and unknown pushes and
            // events may grant none: the window is left as it was.
            UserMessage::Subscribe
            | UserMessage::Other { .. }
            | UserMessage::Navigation { .. }
            | UserMessage::Notification { .. } => {}
        }
        self.dispatch_user(message);
    }

    /// Whether `message` is content for the agent (as opposed to a command, or an event the
    /// channel's [`Forwarding`](super::Forwarding) leaves out).
    fn is_chat_line(&self, message: &UserMessage) -> bool {
        let forward = &self.config.forward;
        match message {
            UserMessage::Text(_)
            | UserMessage::Image { .. }
            | UserMessage::Voice { .. }
            | UserMessage::Video { .. }
            | UserMessage::Location { .. }
            | UserMessage::UnreadableLocation { .. }
            | UserMessage::Link { .. }
            | UserMessage::Other { .. } => true,
            UserMessage::LocationReport { .. } => forward.location_reports,
            UserMessage::Navigation { .. } => forward.navigation,
            UserMessage::Notification { .. } => forward.notifications,
            UserMessage::MenuClick { .. } | UserMessage::Subscribe | UserMessage::Unsubscribe => {
                false
            }
        }
    }

    /// Acts on a message in the current state (the window is already accounted for).
    pub(super) fn dispatch_user(&mut self, message: UserMessage) {
        let holds = match &message {
            UserMessage::MenuClick { .. } => true,
            UserMessage::Unsubscribe | UserMessage::Subscribe => false,
            other => self.is_chat_line(other),
        };
        match &mut self.persisted.state {
            State::Idle => self.idle_user(message),
            State::Waiting(_) | State::Chatting(_) => self.live_user(message),
            // Kept for when the chat is over: they may start the next one.
            State::Ending(ending) => match message {
                UserMessage::Unsubscribe => ending.held.clear(),
                message if holds => ending.held.push(message),
                _ => {}
            },
        }
    }

    fn idle_user(&mut self, message: UserMessage) {
        let any_message_starts = self.config.start_keywords.is_empty();
        // (starts a chat, is forwarded as the first visitor text)
        let (starts, forwarded) = match &message {
            UserMessage::Text(text) if text.trim().is_empty() => (false, false),
            // Nothing to end; never start a chat with a goodbye.
            UserMessage::Text(text) if self.config.is_end_keyword(text) => (false, false),
            UserMessage::Text(_) if any_message_starts => (true, true),
            // A keyword is a command, not something to tell the agent.
            UserMessage::Text(text) => (self.config.is_start_keyword(text), false),
            UserMessage::Image { .. }
            | UserMessage::Voice { .. }
            | UserMessage::Video { .. }
            | UserMessage::Location { .. }
            | UserMessage::UnreadableLocation { .. }
            | UserMessage::Link { .. } => (any_message_starts, true),
            UserMessage::MenuClick { key } => (self.config.is_start_keyword(key), false),
            UserMessage::Subscribe
            | UserMessage::Unsubscribe
            | UserMessage::Other { .. }
            | UserMessage::LocationReport { .. }
            | UserMessage::Navigation { .. }
            | UserMessage::Notification { .. } => (false, false),
        };
        if !starts {
            return;
        }
        self.start_chat();
        if forwarded && let Some(text) = describe(&self.config.templates, &message, false) {
            self.tell_agent(text);
        }
    }

    fn live_user(&mut self, message: UserMessage) {
        match message {
            UserMessage::Text(text) if self.config.is_end_keyword(&text) => self.end_by_user(),
            UserMessage::Text(text) if text.trim().is_empty() => {}
            UserMessage::MenuClick { key } if self.config.is_end_keyword(&key) => {
                self.end_by_user();
            }
            UserMessage::MenuClick { .. } | UserMessage::Subscribe => {}
            UserMessage::Unsubscribe => self.end_by_user(),
            UserMessage::Image { url: Some(_), .. } if self.file_requested() => {
                if let State::Chatting(chatting) = &mut self.persisted.state {
                    chatting.file_requested = false;
                }
                if let Some(text) = describe(&self.config.templates, &message, true) {
                    self.tell_agent(text);
                }
            }
            message => {
                if self.is_chat_line(&message)
                    && let Some(text) = describe(&self.config.templates, &message, false)
                {
                    self.tell_agent(text);
                }
            }
        }
    }

    fn start_chat(&mut self) {
        let mut request = chat_request(&self.persisted.user, &self.config);
        if let Some(at) = self.persisted.last_location {
            let place = format!("{}, {}", at.latitude, at.longitude);
            request
                .details
                .push(Detail::new("Last known location", place));
        }
        self.persisted.chats_started += 1;
        self.persisted.state = State::Waiting(Waiting::default());
        self.staged.push(Output::StartChat(request));
    }

    pub(super) fn end_by_user(&mut self) {
        let agent = match &self.persisted.state {
            State::Chatting(chatting) => Some(chatting.agent.name.clone()),
            State::Idle | State::Waiting(_) | State::Ending(_) => None,
        };
        self.staged.push(Output::Desk(DeskRequest::End));
        self.persisted.state = State::Ending(Ending {
            agent,
            held: Vec::new(),
        });
    }

    fn reopen_window(&mut self, now: Timestamp) {
        let generation = self.persisted.window.generation + 1;
        self.persisted.window = Window {
            remaining: self.config.window_budget,
            expires_at: Some(now + self.config.window),
            warned: false,
            closed_told: false,
            generation,
        };
        self.release_kept(now);
    }
}

/// The chat request for `user`: their name for the agent and their channel id as a detail.
fn chat_request(user: &UserRef, config: &ConversationConfig) -> ChatStart {
    let nickname = user
        .nickname
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let mut details = Vec::new();
    if !config.channel_name.is_empty() {
        details.push(Detail::new("Channel", config.channel_name.clone()));
    }
    details.push(Detail::new(&config.user_id_label, user.id.clone()));
    if let Some(nickname) = nickname {
        details.push(Detail::new("Nickname", nickname));
    }
    ChatStart {
        visitor_name: nickname.map_or_else(|| short_id(&user.id), str::to_owned),
        language: config.templates.language.clone(),
        details,
    }
}

/// The last six characters of a long id (channel ids share long prefixes), marked as cut.
fn short_id(id: &str) -> String {
    let count = id.chars().count();
    if count <= 8 {
        return id.to_owned();
    }
    let tail: String = id.chars().skip(count - 6).collect();
    format!("…{tail}")
}
