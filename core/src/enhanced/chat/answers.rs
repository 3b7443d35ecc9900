//! How REST answers (and their absence) move the conversation: each request's outcome by
//! purpose and status, the token taken in, a catch-up finished, and the retry timer after a
//! failure.

use std::mem;

use super::state::{Outgoing, Pending, Phase, Purpose, Stream, Token};
use super::{EnhancedChat, Output, RequestId, backoff};
use crate::desk::{DeskEnd, EndReason};
use crate::enhanced::wire::{Entry, TokenAnswer};
use crate::time::Timestamp;

impl EnhancedChat {
    pub(super) fn on_response(&mut self, id: RequestId, status: u16, body: &str, now: Timestamp) {
        let Some(flight) = self.io.rest.filter(|f| f.id == id) else {
            return;
        };
        self.io.rest = None;
        match (flight.purpose, status) {
            (_, 429 | 500..=599) => self.rest_failed(now),
            (Purpose::Token, 200..=299) => match TokenAnswer::parse(body) {
                Ok(answer) => {
                    // Not a success of the request the token was renewed for.
                    let renewed = self.io.renewed_after_refusal;
                    self.succeeded();
                    self.io.renewed_after_refusal = renewed;
                    self.take_token(answer, now);
                }
                Err(_) => {
                    self.refused("token answer", status);
                    self.rest_failed(now);
                }
            },
            (Purpose::Token, _) => {
                self.refused("access token", status);
                let reason = format!("the access token was refused (HTTP {status})");
                self.end(EndReason::Desk(DeskEnd::Other(reason)), false);
            }
            (Purpose::Close, _) => {
                // Closed, or already gone: either way the chat is over.
                let announce = match mem::replace(&mut self.persisted.phase, Phase::Ended) {
                    Phase::Closing { announce } => announce,
                    _ => None,
                };
                if let Some(reason) = announce {
                    self.announce_end(reason);
                }
            }
            (_, 401) => self.unauthorized(now),
            (Purpose::Create, 200..=299 | 409) => {
                self.succeeded();
                self.persisted.phase = Phase::Open;
                // A create whose first answer was lost (409 now), or a stream that broke while
                // it was made, may have let entries by: one list before anything is sent.
                self.persisted.catch_up = true;
            }
            (Purpose::Create, _) => {
                self.refused("conversation", status);
                let reason = format!("the conversation was refused (HTTP {status})");
                self.end(EndReason::Desk(DeskEnd::Other(reason)), false);
            }
            (Purpose::CatchUp, 200..=299) => {
                match Entry::list(body, &self.persisted.start.conversation_id) {
                    Ok(entries) => {
                        self.succeeded();
                        let full = entries.len() >= crate::enhanced::wire::ENTRIES_PAGE;
                        let newest = self.persisted.newest_entry_at;
                        for entry in entries {
                            self.take_entry(entry);
                        }
                        // A full page whose newest entry moved on: list the next one.
                        let more = full && self.persisted.newest_entry_at > newest;
                        if !more {
                            self.caught_up();
                        }
                    }
                    Err(_) => {
                        self.refused("entries", status);
                        self.caught_up();
                    }
                }
            }
            (Purpose::Send | Purpose::CatchUp, 404 | 417) => {
                self.end(EndReason::Desk(DeskEnd::Expired), status == 417);
            }
            (Purpose::CatchUp, _) => {
                self.refused("entries", status);
                self.caught_up();
            }
            // 409: a resend of an id Salesforce already has.
            (Purpose::Send, 200..=299 | 409) => {
                self.succeeded();
                self.io.head_unsure = false;
                self.persisted.pending.pop_front();
            }
            (Purpose::Send, _) => {
                // Refused for good (400, 403, 413…): this request will never pass.
                self.refused("message", status);
                self.io.head_unsure = false;
                self.persisted.pending.pop_front();
            }
        }
    }

    /// The catch-up is over: the entries held meanwhile are taken, after the listed ones.
    pub(super) fn caught_up(&mut self) {
        self.persisted.catch_up = false;
        self.io.head_unsure = false;
        for entry in mem::take(&mut self.io.held) {
            self.take_entry(entry);
        }
    }

    pub(super) fn on_failed(&mut self, id: RequestId, now: Timestamp) {
        let Some(flight) = self.io.rest.filter(|f| f.id == id) else {
            return;
        };
        self.io.rest = None;
        if flight.purpose == Purpose::Send
            && matches!(
                self.persisted.pending.front(),
                Some(Pending {
                    what: Outgoing::Text(_),
                    ..
                })
            )
        {
            // It may have arrived: the entries tell before it is sent again.
            self.io.head_unsure = true;
            self.persisted.catch_up = true;
        }
        self.rest_failed(now);
    }

    pub(super) fn take_token(&mut self, answer: TokenAnswer, now: Timestamp) {
        let lifetime = answer
            .lifetime_secs
            .map(std::time::Duration::from_secs)
            .unwrap_or(self.config.token_lifetime);
        let renewing = self.persisted.token.is_some();
        self.persisted.token = Some(Token {
            value: answer.access_token,
            expires_at: now + lifetime,
        });
        if self.persisted.last_event_id.is_none() {
            self.persisted.last_event_id = answer.last_event_id;
        }
        self.io.token_refused = false;
        if self.persisted.phase == Phase::Authorizing {
            self.persisted.phase = Phase::Creating;
        }
        if renewing {
            // The stream belongs to the old token: reconnect with the new one.
            if let Some(id) = self.stream_id() {
                self.staged.push(Output::CloseStream(id));
            }
            self.io.stream = Stream::Closed { retry_at: None };
        }
    }

    /// A `401`: a verified user's token is renewed once; otherwise the chat cannot go on.
    pub(super) fn unauthorized(&mut self, now: Timestamp) {
        let verified = self.persisted.start.verified_subject.is_some();
        if verified && !self.io.renewed_after_refusal {
            self.io.renewed_after_refusal = true;
            self.io.token_refused = true;
            self.io.rest_retry_at = Some(now);
        } else {
            self.end(EndReason::Desk(DeskEnd::Expired), false);
        }
    }

    pub(super) fn succeeded(&mut self) {
        self.io.rest_failures = 0;
        self.io.rest_retry_at = None;
        self.io.renewed_after_refusal = false;
        if self.io.stream_failures == 0 {
            self.io.failing_since = None;
        }
    }

    pub(super) fn rest_failed(&mut self, now: Timestamp) {
        self.io.failing_since.get_or_insert(now);
        let wait = backoff(
            self.config.first_backoff,
            2.0,
            self.io.rest_failures,
            self.config.max_backoff,
        );
        self.io.rest_failures += 1;
        self.io.rest_retry_at = Some(now + wait);
    }
}
