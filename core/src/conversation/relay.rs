//! Agent → user: merging agent lines into one message, the channel's send budget, typing, and
//! what happens to agent lines while the user cannot be reached.
//!
//! An agent line is checked when it arrives: if the window will still be open when the merged
//! message leaves and a send is left, it joins the pending message; otherwise it is *kept* for
//! when the user writes again (up to [`kept_max_bytes`](super::ConversationConfig::kept_max_bytes),
//! oldest first). When the user writes, the kept lines go out first, as one message. The agent
//! hears of a closed window once per closure (a notice without any agent text), and of lines
//! that will never arrive — a send the closing window refused, lines beyond the keeping limit —
//! in one report with their count and the latest of them, shortened, when the window reopens.
//! No report carries another report's text and none is ever a reply to one: an agent that
//! answers every visitor line cannot make the gateway write to it without the user writing.
//!
//! So every agent line ends up in exactly one `Send`, in the kept lines, counted as lost, or in
//! a give-up report — except while the user is ending the chat, when the session no longer
//! takes visitor text.

use std::mem;
use std::time::Duration;

use super::input::{DeliveryFailure, DeliveryId};
use super::output::{Output, ToUser};
use super::retry::{Attempts, Verdict};
use super::split::split_text;
use super::state::InFlight;
use super::templates::Notice;
use super::{Conversation, ConversationError};
use crate::time::Timestamp;

/// The typing indicator lasts this long on WeChat and cannot be renewed while it shows.
const TYPING_REFRESH: Duration = Duration::from_secs(15);

/// Agent text quoted in a report to the agent is cut to this many characters.
const QUOTE_CHARS: usize = 120;

impl Conversation {
    pub(super) fn relay_agent_text(&mut self, text: String, now: Timestamp) {
        let relay = &mut self.persisted.relay;
        if !relay.lines.is_empty() {
            // Joins a message that was admitted and leaves before the window closes.
            relay.lines.push(text);
            return;
        }
        let flush_at = now + self.config.merge_window;
        let window = &self.persisted.window;
        // Checked at the moment the merged message will leave.
        let open = window.remaining > 0 && window.expires_at.is_some_and(|end| flush_at < end);
        if open {
            relay.lines.push(text);
            relay.flush_at = Some(flush_at);
        } else {
            self.keep(vec![text]);
        }
    }

    /// Sends the pending agent lines as one message.
    pub(super) fn flush_relay(&mut self, now: Timestamp) {
        let relay = &mut self.persisted.relay;
        relay.flush_at = None;
        let lines = mem::take(&mut relay.lines);
        if lines.is_empty() {
            return;
        }
        // Only when the driver woke up late, past the window's end.
        if !self.persisted.window.allows_send_at(now) {
            self.keep(lines);
            return;
        }
        self.send_text(lines, now);
    }

    /// Sends agent lines as one text, in as many messages as the channel's size limit needs,
    /// each one send of the budget. What the budget cannot carry is kept for the next window.
    fn send_text(&mut self, lines: Vec<String>, now: Timestamp) {
        let text = lines.join("\n");
        let parts = split_text(&text, self.config.max_text_bytes);
        // Each line is carried (for the lost count, should its message fail) by the part its
        // last byte falls in.
        let mut line_ends = Vec::with_capacity(lines.len());
        let mut end = 0;
        for line in &lines {
            end += line.len();
            line_ends.push(end);
            end += 1;
        }
        let mut owners = lines.into_iter().zip(line_ends).peekable();
        for part in parts {
            if !self.persisted.window.allows_send_at(now) {
                self.keep(vec![text[part.start..].to_owned()]);
                return;
            }
            let stop = part.end;
            let mut carried = Vec::new();
            while let Some((_, line_end)) = owners.peek()
                && *line_end <= stop
            {
                carried.extend(owners.next().map(|(line, _)| line));
            }
            self.send(ToUser::Text(text[part].to_owned()), carried);
        }
    }

    /// Keeps agent lines for the next window, oldest first, as far as they fit; the rest are
    /// lost. The agent hears once per closure that the window is closed.
    fn keep(&mut self, lines: Vec<String>) {
        let limit = self.config.kept_max_bytes;
        let kept = &mut self.persisted.kept;
        for line in lines {
            if kept.lines.is_empty() || kept.bytes() + line.len() <= limit {
                kept.lines.push(line);
            } else {
                Self::lose(kept, &line);
            }
        }
        self.tell_window_closed();
    }

    fn lose(kept: &mut super::state::Kept, line: &str) {
        kept.lost = kept.lost.saturating_add(1);
        kept.latest_lost = Some(shorten(line));
    }

    /// Tells the agent, once per closure, that the user cannot be reached until they write.
    fn tell_window_closed(&mut self) {
        if !self.persisted.window.closed_told {
            self.persisted.window.closed_told = true;
            let notice = self.config.templates.render(&Notice::WindowClosed);
            self.tell_agent(notice);
        }
    }

    /// The window reopened: the kept lines go out first, as one message after the merge
    /// window; the agent hears once what was lost.
    pub(super) fn release_kept(&mut self, now: Timestamp) {
        let lines = mem::take(&mut self.persisted.kept.lines);
        if !lines.is_empty() {
            let relay = &mut self.persisted.relay;
            let newer = mem::replace(&mut relay.lines, lines);
            relay.lines.extend(newer);
            relay.flush_at.get_or_insert(now + self.config.merge_window);
        }
        self.report_lost();
    }

    /// One report of the lines that will never reach the user, if there are any.
    fn report_lost(&mut self) {
        let kept = &mut self.persisted.kept;
        if kept.lost == 0 {
            return;
        }
        let count = mem::take(&mut kept.lost);
        let latest = kept.latest_lost.take().unwrap_or_default();
        let report = self.config.templates.render(&Notice::Undelivered {
            count,
            text: &latest,
        });
        self.tell_agent(report);
    }

    /// A notice for the user: after the agent lines already pending, and only if the user can
    /// receive it (otherwise it is dropped).
    pub(super) fn tell_user(&mut self, text: String, now: Timestamp) {
        self.flush_relay(now);
        if self.persisted.window.allows_send_at(now) {
            self.send(ToUser::Text(text), Vec::new());
        }
    }

    /// Shows the typing indicator, if the window is open and it is not showing already.
    pub(super) fn typing(&mut self, now: Timestamp) {
        if !self.config.typing {
            return;
        }
        let showing = self
            .persisted
            .typing_since
            .is_some_and(|since| now < since + TYPING_REFRESH);
        if !showing && self.persisted.window.allows_send_at(now) {
            self.persisted.typing_since = Some(now);
            self.send(ToUser::Typing, Vec::new());
        }
    }

    fn send(&mut self, message: ToUser, agent_lines: Vec<String>) {
        let id = self.persisted.next_delivery;
        self.persisted.next_delivery += 1;
        let generation = self.persisted.window.generation;
        self.persisted.in_flight.insert(
            id,
            InFlight {
                agent_lines,
                generation,
            },
        );
        let uses_quota = match &message {
            ToUser::Text(_) | ToUser::Image { .. } => true,
            ToUser::Typing => false,
        };
        self.staged.push(Output::Send {
            id: DeliveryId(id),
            message,
        });
        if uses_quota {
            // A message replaces the typing indicator.
            self.persisted.typing_since = None;
            let window = &mut self.persisted.window;
            window.remaining = window.remaining.saturating_sub(1);
            if !window.warned
                && window.remaining <= self.config.budget_warning_at
                && self.agent_reachable()
            {
                self.persisted.window.warned = true;
                let remaining = self.persisted.window.remaining;
                let text = self
                    .config
                    .templates
                    .render(&Notice::BudgetWarning { remaining });
                self.tell_agent(text);
            }
        }
    }

    /// No more sends in this window. Agent lines waiting to be merged are kept for the next.
    pub(super) fn close_window(&mut self, forget_expiry: bool) {
        let window = &mut self.persisted.window;
        window.remaining = 0;
        if forget_expiry {
            window.expires_at = None;
        }
        let relay = &mut self.persisted.relay;
        relay.flush_at = None;
        let lines = mem::take(&mut relay.lines);
        if !lines.is_empty() {
            self.keep(lines);
        }
    }

    fn check_delivery(&self, id: DeliveryId) -> Result<(), ConversationError> {
        if id.0 < self.persisted.next_delivery {
            Ok(())
        } else {
            Err(ConversationError::UnknownDelivery(id))
        }
    }

    pub(super) fn on_delivered(&mut self, id: DeliveryId) -> Result<(), ConversationError> {
        self.check_delivery(id)?;
        self.persisted.in_flight.remove(&id.0);
        self.attempts.remove(&id.0);
        Ok(())
    }

    /// Whether a failed attempt at `id` is tried again: `Some(failure)` when the send is settled
    /// (the failure to act on), `None` when a `Retry` was staged.
    fn retry_or_settle(
        &mut self,
        id: DeliveryId,
        failure: DeliveryFailure,
        now: Timestamp,
    ) -> Option<DeliveryFailure> {
        let policy = self.config.retry;
        let attempts = self
            .attempts
            .entry(id.0)
            .or_insert_with(|| Attempts::new(now));
        let (verdict, reason) = match failure {
            DeliveryFailure::Transient { reason, after } => {
                (attempts.transient(&policy, after, now), reason)
            }
            DeliveryFailure::CredentialsRenewed(reason) => (attempts.renewed(&policy, now), reason),
            settled => {
                self.attempts.remove(&id.0);
                return Some(settled);
            }
        };
        match verdict {
            Verdict::RetryAt(at) => {
                self.staged.push(Output::Retry { id, at });
                None
            }
            Verdict::GiveUp => {
                self.attempts.remove(&id.0);
                Some(DeliveryFailure::GaveUp(reason))
            }
        }
    }

    pub(super) fn on_delivery_failed(
        &mut self,
        id: DeliveryId,
        failure: DeliveryFailure,
        now: Timestamp,
    ) -> Result<(), ConversationError> {
        self.check_delivery(id)?;
        // A second report for the same send is ignored.
        if !self.persisted.in_flight.contains_key(&id.0) {
            return Ok(());
        }
        let Some(failure) = self.retry_or_settle(id, failure, now) else {
            return Ok(());
        };
        let Some(flight) = self.persisted.in_flight.remove(&id.0) else {
            return Ok(());
        };
        match failure {
            DeliveryFailure::WindowClosed | DeliveryFailure::QuotaExhausted => {
                // Sending these again later could put them after lines that did arrive.
                for line in &flight.agent_lines {
                    Self::lose(&mut self.persisted.kept, line);
                }
                if flight.generation == self.persisted.window.generation {
                    self.close_window(false);
                    self.tell_window_closed();
                } else if self.persisted.window.allows_send_at(now) {
                    // From an older window: the one the user reopened is not closed by it, so
                    // there is no reopening to wait for before telling the agent.
                    self.report_lost();
                }
            }
            DeliveryFailure::GaveUp(reason)
            | DeliveryFailure::Transient { reason, .. }
            | DeliveryFailure::CredentialsRenewed(reason) => {
                if let Some(latest) = flight.agent_lines.last() {
                    let notice = self.config.templates.render(&Notice::DeliveryFailed {
                        count: flight.agent_lines.len(),
                        text: &shorten(latest),
                        reason: &reason,
                    });
                    self.tell_agent(notice);
                }
            }
        }
        Ok(())
    }
}

/// `text` cut to [`QUOTE_CHARS`] characters (marked with `…`), on one line.
fn shorten(text: &str) -> String {
    let line = text.replace(['\n', '\r'], " ");
    if line.chars().count() <= QUOTE_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(QUOTE_CHARS - 1).collect();
    cut.push('…');
    cut
}
