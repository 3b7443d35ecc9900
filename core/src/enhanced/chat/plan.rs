//! What goes out next, decided after every input: the event stream (open while the
//! conversation lives, closed when it ends), and at most one REST request at a time — a token
//! first, then the conversation, a catch-up when one is owed, the close, or the head of the
//! pending requests.

use super::state::{InFlight, Outgoing, Phase, Purpose, Stream};
use super::{EnhancedChat, Output};
use crate::desk::{DeskEnd, EndReason};
use crate::enhanced::wire::EnhancedRequest;
use crate::time::Timestamp;

impl EnhancedChat {
    pub(super) fn plan(&mut self, now: Timestamp) {
        self.plan_expiry(now);
        self.plan_stream(now);
        if self.io.rest.is_some() || self.io.rest_retry_at.is_some_and(|at| now < at) {
            return;
        }
        self.io.rest_retry_at = None;
        let conversation_id = self.persisted.start.conversation_id.clone();
        let stream_open = matches!(self.io.stream, Stream::Open { .. });
        let (purpose, request) = match self.persisted.phase.clone() {
            Phase::Ended => return,
            _ if self.persisted.token.is_none() || self.io.token_refused => {
                (Purpose::Token, self.token_request())
            }
            Phase::Authorizing => (Purpose::Token, self.token_request()),
            Phase::Creating if stream_open => (
                Purpose::Create,
                EnhancedRequest::CreateConversation {
                    conversation_id,
                    routing_attributes: self.persisted.start.routing_attributes.clone(),
                    language: self.persisted.start.language.clone(),
                },
            ),
            Phase::Creating => return,
            Phase::Closing { .. } => (Purpose::Close, EnhancedRequest::Close { conversation_id }),
            Phase::Open if self.persisted.catch_up => {
                if !stream_open {
                    // Listing before the stream is back could miss what arrives in between.
                    return;
                }
                let overlap = u64::try_from(self.config.catch_up_overlap.as_millis()).unwrap_or(0);
                (
                    Purpose::CatchUp,
                    EnhancedRequest::ListEntries {
                        conversation_id,
                        since: self
                            .persisted
                            .newest_entry_at
                            .map(|t| t.saturating_sub(overlap)),
                    },
                )
            }
            Phase::Open => {
                let Some(head) = self.persisted.pending.front() else {
                    return;
                };
                match &head.what {
                    Outgoing::Text(text) => (
                        Purpose::Send,
                        EnhancedRequest::SendMessage {
                            conversation_id,
                            message_id: head.id.clone(),
                            text: text.clone(),
                            new_session: false,
                        },
                    ),
                    Outgoing::Typing(started) => (
                        Purpose::Send,
                        EnhancedRequest::Typing {
                            conversation_id,
                            entry_id: head.id.clone(),
                            started: *started,
                        },
                    ),
                    Outgoing::End => {
                        self.persisted.pending.clear();
                        self.persisted.phase = Phase::Closing {
                            announce: Some(EndReason::Visitor),
                        };
                        (Purpose::Close, EnhancedRequest::Close { conversation_id })
                    }
                }
            }
        };
        let id = self.io.next_id();
        let bearer = if request.needs_token() {
            self.persisted.token.as_ref().map(|t| t.value.clone())
        } else {
            None
        };
        self.io.rest = Some(InFlight { id, purpose });
        self.staged.push(Output::Request {
            id,
            request,
            bearer,
            timeout: self.config.request_timeout,
        });
    }

    fn token_request(&self) -> EnhancedRequest {
        match &self.persisted.start.verified_subject {
            Some(subject) => EnhancedRequest::VerifiedToken {
                subject: subject.clone(),
            },
            None => EnhancedRequest::UnauthenticatedToken,
        }
    }

    /// A verified token nearing its end is renewed; an anonymous chat is closed while its
    /// token still works.
    fn plan_expiry(&mut self, now: Timestamp) {
        let Some(renew_at) = self.renew_at() else {
            return;
        };
        if now < renew_at || self.io.token_refused {
            return;
        }
        if self.persisted.start.verified_subject.is_some() {
            self.io.token_refused = true;
        } else if matches!(
            self.persisted.phase,
            Phase::Authorizing | Phase::Creating | Phase::Open
        ) {
            self.end(EndReason::Desk(DeskEnd::Expired), true);
        }
    }

    fn plan_stream(&mut self, now: Timestamp) {
        let wanted = matches!(self.persisted.phase, Phase::Creating | Phase::Open)
            && self.persisted.token.is_some()
            && !self.io.token_refused;
        match self.io.stream {
            Stream::Opening(id) | Stream::Open { id, .. } if !wanted => {
                if matches!(self.persisted.phase, Phase::Closing { .. } | Phase::Ended) {
                    self.staged.push(Output::CloseStream(id));
                    self.io.stream = Stream::Closed { retry_at: None };
                }
            }
            // Not wanted: no reconnect timer is left to wake for.
            Stream::Closed { retry_at: Some(_) } if !wanted => {
                self.io.stream = Stream::Closed { retry_at: None };
            }
            Stream::Closed { retry_at } if wanted && retry_at.is_none_or(|at| at <= now) => {
                let id = self.io.next_id();
                let bearer = self
                    .persisted
                    .token
                    .as_ref()
                    .map(|t| t.value.clone())
                    .unwrap_or_default();
                self.io.stream = Stream::Opening(id);
                self.staged.push(Output::OpenStream {
                    id,
                    bearer,
                    last_event_id: self
                        .persisted
                        .last_event_id
                        .clone()
                        .unwrap_or_else(|| "0".to_owned()),
                });
            }
            _ => {}
        }
    }
}
