//! One bridged user's Salesforce Enhanced Chat conversation, as a pure state machine speaking
//! the [desk vocabulary](crate::desk) — the same contract as the Live Agent
//! [`Session`](crate::session::Session): feed [`Input`]s with the time, drain [`Output`]s
//! (events, then `Persist` when the state changed — commit the snapshot with the events before
//! it — then requests), wake at [`poll_timeout`](EnhancedChat::poll_timeout).
//! It never performs I/O and never reads a clock.
//!
//! `Authorizing → Creating → Open → (Closing →) Ended`:
//! - **Token.** An access token (anonymous, or for a verified user whose identity token the
//!   driver signs), renewed `renew_margin` before it expires for a verified user. An anonymous
//!   token cannot be renewed without becoming another end user (spec §4.4), so an anonymous chat
//!   is closed before its token expires and ends as expired. A `401` renews a verified token and
//!   retries once; otherwise it ends the chat.
//! - **Stream.** One event stream per conversation, opened before the conversation is created
//!   and reopened (with `Last-Event-Id`, backing off 1 s × 1.5ⁿ up to `max_backoff`) whenever it
//!   ends, is refused or falls silent for `stream_silence`.
//! - **Catch-up.** After every reopen, and after a send whose answer was lost, the entries since
//!   the newest one seen (less `catch_up_overlap`) are listed before anything more is sent.
//!   Entries from the stream and the list go through one filter that drops repeats by
//!   identifier, so nothing is missed and nothing is relayed twice.
//! - **Sends**, one at a time and in order, each with a client-made id that a resend reuses.
//!   `429`, `5xx` and lost answers are retried with doubling waits; failing for longer than
//!   `unreachable_after` ends the chat as unreachable. `417` or `404` mean the messaging session
//!   is gone: the chat ends, with the texts not sent.
//! - **Entries → desk events**: routing results (queued, or no agent), agents joining (then
//!   transfers), agent and bot texts, typing, and the session's end by whoever ended it. Echoes
//!   of our own texts only confirm a send whose answer was lost.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the machine's contract: inputs in, outputs and timers out, ending |
//! | `plan.rs` | what goes out next after each input |
//! | `answers.rs` | REST answers and failures by purpose and status |
//! | `stream.rs` | the stream connection opening, closing, failing |
//! | `entries.rs` | entries → desk events, repeats dropped |
//! | `state.rs` | [`Snapshot`] and the transient half |
//! | `config.rs`, `io.rs`, `ids.rs` | settings and start, inputs and outputs, client ids |

mod answers;
mod config;
mod entries;
mod ids;
mod io;
mod plan;
mod state;
mod stream;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::mem;

pub use config::{EnhancedConfig, EnhancedStart};
pub use io::{Input, Output, RequestId};
pub use state::Snapshot;

use state::{Io, Outgoing, Pending, Phase, Stream};

use crate::desk::{DeskEvent, DeskRequest, EndReason};
use crate::enhanced::wire::{Entry, carries_entry};
use crate::time::Timestamp;

/// Where a conversation is (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// Getting the first access token.
    Authorizing,
    /// Creating the conversation.
    Creating,
    /// Open: texts go out, entries come in.
    Open,
    /// Being closed at Salesforce.
    Closing,
    /// Over.
    Ended,
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnhancedError {
    /// The chat is over (or being closed): nothing more goes to the desk.
    #[error("the Enhanced Chat conversation has ended")]
    Ended,
}

/// One Enhanced Chat conversation. See the [module docs](self).
#[derive(Debug)]
pub struct EnhancedChat {
    config: EnhancedConfig,
    persisted: Snapshot,
    io: Io,
    staged_events: Vec<DeskEvent>,
    staged: Vec<Output>,
    outputs: VecDeque<Output>,
}

impl EnhancedChat {
    /// A new conversation: it asks for a token at once.
    pub fn new(config: EnhancedConfig, start: EnhancedStart, now: Timestamp) -> EnhancedChat {
        let snapshot = Snapshot {
            start,
            phase: Phase::Authorizing,
            token: None,
            last_event_id: None,
            newest_entry_at: None,
            seen: VecDeque::new(),
            pending: VecDeque::new(),
            next_id: 0,
            agent: None,
            joined: false,
            catch_up: false,
        };
        let mut chat = EnhancedChat::build(config, snapshot);
        chat.plan(now);
        chat.release(true);
        chat
    }

    /// Resumes from a stored snapshot; the requests its state needs go out at once.
    pub fn restore(config: EnhancedConfig, snapshot: Snapshot, now: Timestamp) -> EnhancedChat {
        let mut chat = EnhancedChat::build(config, snapshot);
        if chat.persisted.phase == Phase::Open {
            // Whatever happened while we were down is listed before anything is sent, and the
            // text at the head may have gone out just before the crash: its echo tells.
            chat.persisted.catch_up = true;
            chat.io.head_unsure = true;
        }
        chat.plan(now);
        chat.release(false);
        chat
    }

    fn build(config: EnhancedConfig, snapshot: Snapshot) -> EnhancedChat {
        EnhancedChat {
            config,
            persisted: snapshot,
            io: Io::new(),
            staged_events: Vec::new(),
            staged: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Feeds one input. On `Err` nothing changed.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), EnhancedError> {
        let before = self.persisted.clone();
        match input {
            Input::Desk(request) => self.on_desk_request(request)?,
            Input::Response { id, status, body } => self.on_response(id, status, &body, now),
            Input::Failed { id } => self.on_failed(id, now),
            Input::StreamOpened { id } => self.on_stream_opened(id, now),
            Input::StreamEvent { id, event } => {
                if self.stream_id() == Some(id) {
                    self.io.stream = Stream::Open { id, heard_at: now };
                    if carries_entry(&event.event) {
                        match Entry::from_event_data(&event.data) {
                            // A list is owed (always after the create), and it may hold older
                            // entries: this one waits for it.
                            Ok(entry)
                                if self.persisted.catch_up
                                    || self.persisted.phase != Phase::Open =>
                            {
                                self.io.held.push(entry);
                            }
                            Ok(entry) => self.take_entry(entry),
                            Err(_) => self.refused("stream event", 200),
                        }
                        if let Some(last) = event.id {
                            self.persisted.last_event_id = Some(last);
                        }
                    }
                }
            }
            Input::StreamClosed { id, status } => self.on_stream_closed(id, status, now),
            Input::Timeout => self.on_timeout(now),
        }
        self.plan(now);
        self.release(self.persisted != before);
        Ok(())
    }

    /// The next output, until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed [`Input::Timeout`] next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let mut at: Option<Timestamp> = None;
        let mut earliest = |t: Option<Timestamp>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        if self.io.rest.is_none() {
            earliest(self.io.rest_retry_at);
        }
        match self.io.stream {
            Stream::Closed { retry_at } => earliest(retry_at),
            Stream::Open { heard_at, .. } => earliest(Some(heard_at + self.config.stream_silence)),
            Stream::Opening(_) => {}
        }
        let live = matches!(
            self.persisted.phase,
            Phase::Authorizing | Phase::Creating | Phase::Open
        );
        if live && !self.io.token_refused {
            earliest(self.renew_at());
        }
        if self.persisted.phase != Phase::Ended {
            earliest(
                self.io
                    .failing_since
                    .map(|t| t + self.config.unreachable_after),
            );
        }
        at
    }

    /// The state to persist.
    pub fn snapshot(&self) -> &Snapshot {
        &self.persisted
    }

    /// Whether the chat is over.
    pub fn is_ended(&self) -> bool {
        self.persisted.is_ended()
    }

    /// Where the conversation is.
    pub fn phase(&self) -> PhaseKind {
        match self.persisted.phase {
            Phase::Authorizing => PhaseKind::Authorizing,
            Phase::Creating => PhaseKind::Creating,
            Phase::Open => PhaseKind::Open,
            Phase::Closing { .. } => PhaseKind::Closing,
            Phase::Ended => PhaseKind::Ended,
        }
    }

    /// Whether the event stream is connected.
    pub fn stream_open(&self) -> bool {
        matches!(self.io.stream, Stream::Open { .. })
    }

    /// Whether an agent is in the chat.
    pub fn has_agent(&self) -> bool {
        self.persisted.agent.is_some()
    }

    fn on_desk_request(&mut self, request: DeskRequest) -> Result<(), EnhancedError> {
        match self.persisted.phase {
            Phase::Closing { .. } | Phase::Ended => return Err(EnhancedError::Ended),
            Phase::Authorizing | Phase::Creating | Phase::Open => {}
        }
        if self
            .persisted
            .pending
            .iter()
            .any(|p| p.what == Outgoing::End)
        {
            // The visitor is ending the chat: nothing more goes to it.
            return Err(EnhancedError::Ended);
        }
        let what = match request {
            DeskRequest::Text(text) => Outgoing::Text(text),
            DeskRequest::Typing(on) => Outgoing::Typing(on),
            DeskRequest::End => Outgoing::End,
        };
        let id = ids::client_id(
            &self.persisted.start.conversation_id,
            self.persisted.next_id,
        );
        self.persisted.next_id += 1;
        self.persisted.pending.push_back(Pending { id, what });
        Ok(())
    }

    fn on_timeout(&mut self, now: Timestamp) {
        if let Stream::Open { id, heard_at } = self.io.stream
            && now >= heard_at + self.config.stream_silence
        {
            self.staged.push(Output::CloseStream(id));
            self.stream_failed(now);
        }
        if self
            .io
            .failing_since
            .is_some_and(|since| now >= since + self.config.unreachable_after)
            && !matches!(self.persisted.phase, Phase::Ended)
        {
            self.end(EndReason::Unreachable, false);
        }
    }

    /// When the token needs renewing (a verified user) or the chat closing (anonymous).
    fn renew_at(&self) -> Option<Timestamp> {
        let token = self.persisted.token.as_ref()?;
        let margin = self.config.renew_margin;
        Some(Timestamp::from_millis(
            token
                .expires_at
                .as_millis()
                .saturating_sub(u64::try_from(margin.as_millis()).unwrap_or(u64::MAX)),
        ))
    }

    fn refused(&mut self, what: &'static str, status: u16) {
        self.staged.push(Output::Refused { what, status });
    }

    /// Ends the chat: the conversation hears it now (with the texts never sent); `close` asks
    /// Salesforce to close the conversation first if the token still allows it.
    fn end(&mut self, reason: EndReason, close: bool) {
        match &mut self.persisted.phase {
            Phase::Ended => return,
            Phase::Closing { announce } => {
                // Already ending: the end is reported once, as it was going to be.
                if let Some(pending) = announce.take() {
                    self.announce_end(pending);
                }
                self.persisted.phase = Phase::Ended;
                return;
            }
            Phase::Authorizing | Phase::Creating | Phase::Open => {}
        }
        self.announce_end(reason);
        self.persisted.phase = if close && self.persisted.token.is_some() {
            Phase::Closing { announce: None }
        } else {
            Phase::Ended
        };
    }

    fn announce_end(&mut self, reason: EndReason) {
        let unsent = mem::take(&mut self.persisted.pending)
            .into_iter()
            .filter_map(|p| match p.what {
                Outgoing::Text(text) => Some(text),
                Outgoing::Typing(_) | Outgoing::End => None,
            })
            .collect();
        self.persisted.agent = None;
        self.staged_events.push(DeskEvent::Ended { reason, unsent });
    }

    /// Moves what this input produced to the outputs: the events, then the `Persist` mark
    /// when the state `changed` (it commits the snapshot with the events before it), then the
    /// requests.
    fn release(&mut self, changed: bool) {
        let events = !self.staged_events.is_empty();
        self.outputs
            .extend(self.staged_events.drain(..).map(Output::Event));
        if changed || events {
            self.outputs.push_back(Output::Persist);
        }
        self.outputs.extend(self.staged.drain(..));
    }
}

/// `first × factorⁿ`, capped.
fn backoff(
    first: std::time::Duration,
    factor: f64,
    n: u32,
    cap: std::time::Duration,
) -> std::time::Duration {
    let scaled = first.as_secs_f64() * factor.powi(i32::try_from(n.min(64)).unwrap_or(64));
    std::time::Duration::from_secs_f64(scaled.min(cap.as_secs_f64()))
}
