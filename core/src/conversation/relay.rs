//! Agent → user: merging agent lines into one message, the channel's send budget, typing, and
//! what the agent is told when the user cannot be reached.
//!
//! An agent line is checked when it arrives: if the window will still be open when the merged
//! message leaves and a send is left, it joins the pending message (which then always goes out);
//! otherwise it goes straight back to the agent as undelivered. A delivery failure that closes
//! the window reports the pending lines at once. So every agent line ends up in exactly one
//! `Send` or in one report to the agent — except while the user is ending the chat, when the
//! session no longer takes visitor text.

use std::mem;
use std::time::Duration;

use super::input::{DeliveryFailure, DeliveryId};
use super::output::{Output, ToUser};
use super::state::InFlight;
use super::templates::Notice;
use super::{Conversation, ConversationError};
use crate::time::Timestamp;

/// The typing indicator lasts this long on WeChat and cannot be renewed while it shows.
const TYPING_REFRESH: Duration = Duration::from_secs(15);

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
            self.report_undelivered(&text);
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
        let text = lines.join("\n");
        // Only when the driver woke up late, past the window's end: the agent is told if the
        // session still takes text, else the send is tried (the channel reports the outcome).
        if !self.persisted.window.allows_send_at(now) && self.agent_reachable() {
            self.report_undelivered(&text);
            return;
        }
        self.send(ToUser::Text(text), lines);
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

    /// No more sends in this window. Pending agent lines go back to the agent when `report`.
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
            self.report_undelivered(&lines.join("\n"));
        }
    }

    fn report_undelivered(&mut self, text: &str) {
        let report = self.config.templates.render(&Notice::Undelivered { text });
        self.tell_agent(report);
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
        Ok(())
    }

    pub(super) fn on_delivery_failed(
        &mut self,
        id: DeliveryId,
        failure: DeliveryFailure,
    ) -> Result<(), ConversationError> {
        self.check_delivery(id)?;
        // A second report for the same send is ignored.
        let Some(flight) = self.persisted.in_flight.remove(&id.0) else {
            return Ok(());
        };
        let text = flight.agent_lines.join("\n");
        match failure {
            DeliveryFailure::WindowClosed | DeliveryFailure::QuotaExhausted => {
                if !flight.agent_lines.is_empty() {
                    self.report_undelivered(&text);
                }
                // A failure from an older window says nothing about the one the user reopened.
                if flight.generation != self.persisted.window.generation {
                    return Ok(());
                }
                if flight.agent_lines.is_empty() && !self.persisted.window.closed_told {
                    let notice = self.config.templates.render(&Notice::WindowClosed);
                    self.tell_agent(notice);
                }
                self.persisted.window.closed_told = true;
                self.close_window(false);
            }
            DeliveryFailure::GaveUp(reason) => {
                if !flight.agent_lines.is_empty() {
                    let notice = self.config.templates.render(&Notice::DeliveryFailed {
                        text: &text,
                        reason: &reason,
                    });
                    self.tell_agent(notice);
                }
            }
        }
        Ok(())
    }
}
