//! One channel user joined to at most one live chat at an agent desk at a time, as a pure state
//! machine (same contract as the session). It speaks only the [desk vocabulary](crate::desk):
//! which desk runs the chat (Live Agent, or another) is the driver's business.
//!
//! `Idle → Waiting → Chatting → (Ending →) Idle`. The machine is fed [`Input`]s carrying the
//! time — the user's pushes, the desk's [`DeskEvent`](crate::desk::DeskEvent)s, delivery
//! outcomes and timeouts — and hands out [`Output`]s: start a chat, pass a request to the desk,
//! send something to the user, persist. It decides what starts and ends a chat, what the user is
//! told (queue position, agent joined, no agent, chat over), how agent lines are merged to fit
//! the channel's send quota, and what the agent is told when the user cannot be reached. It
//! never performs I/O and never reads a clock.
//!
//! The send window: every user message reopens it with
//! [`window_budget`](ConversationConfig::window_budget) sends for
//! [`window`](ConversationConfig::window). Each text `Send` uses one (typing does not). Agent
//! text that cannot go out is kept and sent when the user writes again; the agent is told once
//! per closure, and once what was lost (see `relay.rs`). Notices the user cannot receive are
//! dropped. A send whose attempt fails for now is retried with growing waits and given up after
//! a while ([`RetryPolicy`]); nothing queued behind it goes first. Channel events that are not messages (periodic location reports, menu links) are
//! not chat lines unless [`Forwarding`] says so.
//!
//! ```
//! use switchboard_core::conversation::{
//!     Conversation, ConversationConfig, Input, Output, ToUser, UserMessage, UserRef,
//! };
//! use switchboard_core::desk::{Agent, DeskEvent, DeskRequest};
//! use switchboard_core::time::Timestamp;
//!
//! let now = Timestamp::from_millis(0);
//! let user = UserRef { id: "oUser1".into(), nickname: Some("Wei".into()), channel: "wechat".into() };
//! let mut chat = Conversation::new(ConversationConfig::default(), user, now);
//!
//! // The first message starts a chat and becomes the first visitor text.
//! chat.handle(Input::User(UserMessage::Text("hello".into())), now).unwrap();
//! assert_eq!(chat.poll_output(), Some(Output::Persist));
//! let Some(Output::StartChat(start)) = chat.poll_output() else { panic!() };
//! assert_eq!(start.visitor_name, "Wei");
//! assert_eq!(chat.poll_output(), Some(Output::Desk(DeskRequest::Text("hello".into()))));
//! assert_eq!(chat.poll_output(), None);
//!
//! // The agent's name is announced to the user.
//! let agent = Agent { name: "Andy".into(), id: "005x".into() };
//! chat.handle(Input::Desk(DeskEvent::AgentJoined(agent)), now).unwrap();
//! assert_eq!(chat.poll_output(), Some(Output::Persist));
//! let Some(Output::Send { id, message }) = chat.poll_output() else { panic!() };
//! assert_eq!(message, ToUser::Text("Andy is now with you.".into()));
//! chat.handle(Input::Delivered { id }, now).unwrap();
//! ```

mod config;
mod describe;
mod error;
mod events;
mod input;
pub mod legacy;
mod output;
mod relay;
mod retry;
mod split;
mod state;
mod templates;
mod user;

use std::collections::{BTreeMap, VecDeque};

pub use config::{ConversationConfig, Forwarding};
pub use error::ConversationError;
pub use input::{DeliveryFailure, DeliveryId, Input, UserMessage, UserRef};
pub use output::{Output, ToUser};
pub use retry::RetryPolicy;
pub use state::{Coordinates, Snapshot};
pub use templates::{Notice, Templates};

use state::{Relay, State, Window};

use crate::time::Timestamp;

/// One channel user's conversation. See the [module docs](self) for the contract.
#[derive(Debug)]
pub struct Conversation {
    config: ConversationConfig,
    persisted: Snapshot,
    /// Failed attempts of sends still in flight (not persisted: a restart starts afresh).
    attempts: BTreeMap<u64, retry::Attempts>,
    /// Outputs of the input being handled, released by `finish` after the `Persist` mark.
    staged: Vec<Output>,
    outputs: VecDeque<Output>,
}

/// Coarse state, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateKind {
    /// No live chat.
    Idle,
    /// Chat requested; no agent yet.
    Waiting,
    /// An agent is in the chat.
    Chatting,
    /// The user ended the chat; the desk has not confirmed yet.
    Ending,
}

impl Conversation {
    /// A conversation without a chat; the user's reply window is closed until they write.
    pub fn new(config: ConversationConfig, user: UserRef, now: Timestamp) -> Conversation {
        let snapshot = Snapshot {
            user,
            state: State::Idle,
            window: Window::CLOSED,
            relay: Relay::default(),
            in_flight: BTreeMap::new(),
            next_delivery: 0,
            typing_since: None,
            chats_started: 0,
            kept: Default::default(),
            last_location: None,
        };
        Conversation::restore(config, snapshot, now)
    }

    /// Resumes from a stored snapshot. Nothing is output: what followed the last `Persist` was
    /// the driver's to perform. Overdue timers fire at the next [`Input::Timeout`].
    pub fn restore(config: ConversationConfig, snapshot: Snapshot, _now: Timestamp) -> Self {
        Conversation {
            config,
            persisted: snapshot,
            attempts: BTreeMap::new(),
            staged: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Feeds one input. On `Err` nothing changed.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), ConversationError> {
        let before = self.persisted.clone();
        match (self.state(), input) {
            (StateKind::Idle, Input::Desk(_)) => return Err(ConversationError::NoLiveChat),
            (StateKind::Waiting | StateKind::Chatting | StateKind::Ending, Input::Desk(event)) => {
                self.on_desk(event, now);
            }
            (
                StateKind::Idle | StateKind::Waiting | StateKind::Chatting | StateKind::Ending,
                Input::User(message),
            ) => self.on_user(message, now),
            (
                StateKind::Idle | StateKind::Waiting | StateKind::Chatting | StateKind::Ending,
                Input::Delivered { id },
            ) => self.on_delivered(id)?,
            (
                StateKind::Idle | StateKind::Waiting | StateKind::Chatting | StateKind::Ending,
                Input::DeliveryFailed { id, failure },
            ) => self.on_delivery_failed(id, failure, now)?,
            (
                StateKind::Idle | StateKind::Waiting | StateKind::Chatting | StateKind::Ending,
                Input::Timeout,
            ) => {}
            (StateKind::Waiting | StateKind::Chatting, Input::EndChat) => self.end_by_user(),
            (StateKind::Idle | StateKind::Ending, Input::EndChat) => {
                return Err(ConversationError::NoLiveChat);
            }
        }
        self.run_due(now);
        self.finish(&before);
        Ok(())
    }

    /// The next output, until `None`. Drain fully after every [`handle`](Self::handle).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed [`Input::Timeout`] next (merging agent lines, a throttled queue notice).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let relay = self.persisted.relay.flush_at;
        let queue = self.queue_notice_due();
        match (relay, queue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The state to persist (after an [`Output::Persist`]).
    pub fn snapshot(&self) -> &Snapshot {
        &self.persisted
    }

    /// The user this conversation belongs to.
    pub fn user(&self) -> &UserRef {
        &self.persisted.user
    }

    /// The coarse state.
    pub fn state(&self) -> StateKind {
        match &self.persisted.state {
            State::Idle => StateKind::Idle,
            State::Waiting(_) => StateKind::Waiting,
            State::Chatting(_) => StateKind::Chatting,
            State::Ending(_) => StateKind::Ending,
        }
    }

    /// Whether a live chat belongs to this conversation (from `StartChat` until the
    /// desk's `Ended` event was handled).
    pub fn has_live_chat(&self) -> bool {
        self.state() != StateKind::Idle
    }

    /// Whether a queue report has arrived since the chat was requested (and no agent joined).
    pub fn queue_reported(&self) -> bool {
        matches!(&self.persisted.state, State::Waiting(waiting) if waiting.latest.is_some())
    }

    /// Agent lines kept for when the user writes again (their reply window is closed).
    pub fn kept_lines(&self) -> &[String] {
        &self.persisted.kept.lines
    }

    /// Whether the agent asked for a file that the user has not sent yet.
    pub fn file_requested(&self) -> bool {
        match &self.persisted.state {
            State::Chatting(chatting) => chatting.file_requested,
            State::Idle | State::Waiting(_) | State::Ending(_) => false,
        }
    }

    /// Sends the user can still receive at `now` before they write again.
    pub fn remaining_sends(&self, now: Timestamp) -> u32 {
        let window = &self.persisted.window;
        if window.expires_at.is_some_and(|end| now < end) {
            window.remaining
        } else {
            0
        }
    }

    /// Whether requests can reach the live chat's desk now (it exists and the user has not
    /// asked to end it: a desk refuses them after `End`).
    fn agent_reachable(&self) -> bool {
        match &self.persisted.state {
            State::Waiting(_) | State::Chatting(_) => true,
            State::Idle | State::Ending(_) => false,
        }
    }

    /// Passes `text` to the desk, if it can take it.
    fn tell_agent(&mut self, text: String) {
        if self.agent_reachable() {
            self.staged
                .push(Output::Desk(crate::desk::DeskRequest::Text(text)));
        }
    }

    /// Timers that are due at `now`: merged agent lines, then a throttled queue notice.
    fn run_due(&mut self, now: Timestamp) {
        if self.persisted.relay.flush_at.is_some_and(|at| at <= now) {
            self.flush_relay(now);
        }
        self.queue_notice(now);
    }

    /// Releases the staged outputs, after a `Persist` mark when the snapshot changed.
    fn finish(&mut self, before: &Snapshot) {
        if self.persisted != *before {
            self.outputs.push_back(Output::Persist);
        }
        self.outputs.extend(self.staged.drain(..));
    }
}

#[cfg(test)]
mod tests;
