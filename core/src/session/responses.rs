//! How each answer moves the machine: one handler per request purpose, each matching on the
//! state it arrives in.

use super::io::{Lane, Verdict};
use super::lane::{Resync, VisitorPost};
use super::state::{Chat, ResyncStep, State};
use super::{EndReason, Session, SessionEvent};
use crate::liveagent::headers::RECONNECT_SESSION_SINCE;
use crate::liveagent::responses::{ResyncSessionResponse, decode_reconnect};
use crate::liveagent::{MessagesResponse, OutOfSync, Resource, SessionIdResponse};
use crate::time::Timestamp;
use std::time::Duration;

impl Session {
    /// The decoded body of a success answer; a body that does not decode is reported as a
    /// protocol error (the caller then retries as after a server error).
    fn decoded<T, E>(&mut self, resource: Resource, decoded: Result<T, E>) -> Option<T> {
        match decoded {
            Ok(value) => Some(value),
            Err(_) => {
                self.staged.protocol_errors.push(resource);
                None
            }
        }
    }

    pub(super) fn on_session_id(&mut self, verdict: Verdict, now: Timestamp) {
        if !matches!(self.persisted.state, State::Init) {
            return;
        }
        let created = match verdict {
            Verdict::Success(body) => {
                self.decoded(Resource::SessionId, SessionIdResponse::decode(&body))
            }
            Verdict::NoContent
            | Verdict::Conflict(_)
            | Verdict::Forbidden
            | Verdict::MethodNotAllowed
            | Verdict::Moved
            | Verdict::Rejected(_)
            | Verdict::Transient => None,
        };
        let Some(created) = created else {
            return self.retry_or_give_up(Lane::Control, now);
        };
        self.io.recovered(Lane::Control);
        let client_poll_timeout = created
            .client_poll_timeout
            .and_then(|s| u64::try_from(s).ok())
            .filter(|&s| s > 0)
            .map_or(self.config.default_client_poll_timeout, Duration::from_secs);
        self.persisted.state = State::Established(Chat {
            id: created.id,
            key: created.key,
            affinity_token: created.affinity_token,
            client_poll_timeout,
            ack: -1,
            offset: None,
            connection_timeout: self.config.default_connection_timeout,
            agent: None,
            delivered_texts: 0,
            request_confirmed: false,
            texts_on_server: None,
        });
    }

    pub(super) fn on_poll(&mut self, verdict: Verdict, now: Timestamp) {
        match &self.persisted.state {
            State::Established(_)
            | State::Polling(_)
            | State::Resyncing(_, ResyncStep::AwaitingSessionData | ResyncStep::ResyncingState) => {
            }
            State::Init | State::Resyncing(_, ResyncStep::Reconnecting) | State::Ended(_) => return,
        }
        match verdict {
            Verdict::Success(body) => {
                match self.decoded(Resource::Messages, MessagesResponse::decode(&body)) {
                    Some(batch) => {
                        self.io.recovered(Lane::Poll);
                        self.on_batch(batch);
                        self.after_poll();
                    }
                    None => self.retry_or_give_up(Lane::Poll, now),
                }
            }
            // 409 is a duplicate poll: real clients treat it like 204 and poll again; if the
            // server did terminate the chat, the next poll answers 403.
            Verdict::NoContent | Verdict::Conflict(_) => {
                self.io.recovered(Lane::Poll);
                self.after_poll();
            }
            Verdict::Forbidden => self.end(EndReason::SessionInvalid),
            Verdict::Moved => self.failover(),
            Verdict::MethodNotAllowed | Verdict::Rejected(_) | Verdict::Transient => {
                self.retry_or_give_up(Lane::Poll, now);
            }
        }
    }

    /// Any completed poll after a reconnect moves recovery on, with or without
    /// `ChasitorSessionData` (spec: expected first, but not every server sends it).
    fn after_poll(&mut self) {
        if let State::Resyncing(_, step @ ResyncStep::AwaitingSessionData) =
            &mut self.persisted.state
        {
            *step = ResyncStep::ResyncingState;
        }
    }

    pub(super) fn on_post(&mut self, verdict: Verdict, now: Timestamp) {
        let resyncing = match &self.persisted.state {
            State::Established(_) | State::Polling(_) => false,
            State::Resyncing(..) => true,
            State::Init | State::Ended(_) => return,
        };
        match verdict {
            Verdict::Success(_) | Verdict::NoContent => self.post_done(),
            Verdict::Conflict(body) => match OutOfSync::parse(&body) {
                Some(out_of_sync) => {
                    self.io.recovered(Lane::Post);
                    match self.persisted.lane.out_of_sync(out_of_sync.actual) {
                        Resync::AlreadyAccepted => self.post_done(),
                        Resync::Renumbered => {}
                    }
                }
                None => self.retry_or_give_up(Lane::Post, now),
            },
            Verdict::Forbidden => self.end(EndReason::SessionInvalid),
            // A POST that was out during a failover is replayed once the session is back.
            Verdict::Moved if resyncing => {}
            Verdict::Moved => self.failover(),
            Verdict::MethodNotAllowed => self.post_rejected(405),
            Verdict::Rejected(status) => self.post_rejected(status),
            Verdict::Transient => self.retry_or_give_up(Lane::Post, now),
        }
    }

    fn post_done(&mut self) {
        self.io.recovered(Lane::Post);
        let Some(post) = self.persisted.lane.complete_head() else {
            return;
        };
        match post {
            VisitorPost::ChasitorInit => self.chat_request_arrived(),
            VisitorPost::Text(_) => {
                if let Some(chat) = self.chat_mut() {
                    chat.delivered_texts += 1;
                }
            }
            VisitorPost::End => self.end(EndReason::VisitorEnded),
            VisitorPost::Typing
            | VisitorPost::NotTyping
            | VisitorPost::SneakPeek { .. }
            | VisitorPost::CustomEvent { .. } => {}
        }
    }

    fn post_rejected(&mut self, status: u16) {
        self.io.recovered(Lane::Post);
        let Some(post) = self.persisted.lane.complete_head() else {
            return;
        };
        match post {
            VisitorPost::ChasitorInit => self.end(EndReason::InitRejected(status)),
            // The server will not take ChatEnd: the chat is over either way.
            VisitorPost::End => self.end(EndReason::VisitorEnded),
            other @ (VisitorPost::Text(_)
            | VisitorPost::Typing
            | VisitorPost::NotTyping
            | VisitorPost::SneakPeek { .. }
            | VisitorPost::CustomEvent { .. }) => {
                self.staged.events.push(SessionEvent::PostRejected {
                    resource: other.resource(),
                    status,
                });
            }
        }
    }

    /// A 503: the session moved to another server (spec §7.4). Polling stops; a POST already
    /// out is left to answer for itself, and the rest wait for the session to be recovered.
    pub(super) fn failover(&mut self) {
        let state = std::mem::replace(&mut self.persisted.state, State::Init);
        self.persisted.state = match state {
            State::Established(chat) | State::Polling(chat) | State::Resyncing(chat, _) => {
                let cancelled = self.io.abandon(&[Lane::Control, Lane::Poll]);
                self.staged.cancels.extend(cancelled);
                State::Resyncing(chat, ResyncStep::Reconnecting)
            }
            other @ (State::Init | State::Ended(_)) => other,
        };
    }

    /// The server has the chat request: from its answer, or from chat events that only follow
    /// it. A ChasitorInit still waiting in the lane is then done and must not be sent again.
    pub(super) fn chat_request_arrived(&mut self) {
        if let Some(chat) = self.chat_mut() {
            chat.request_confirmed = true;
        }
        let init_waiting = self
            .persisted
            .lane
            .head()
            .is_some_and(|h| h.post == VisitorPost::ChasitorInit);
        let init_in_flight = self
            .io
            .inflight
            .values()
            .any(|f| f.purpose == super::io::Purpose::Post);
        if init_waiting && !init_in_flight {
            self.persisted.lane.complete_head();
            self.io.retry_at.remove(&Lane::Post);
            self.io.recovered(Lane::Post);
        }
        let state = std::mem::replace(&mut self.persisted.state, State::Init);
        self.persisted.state = match state {
            State::Established(chat) if !init_waiting || !init_in_flight => State::Polling(chat),
            other @ (State::Init
            | State::Established(_)
            | State::Polling(_)
            | State::Resyncing(..)
            | State::Ended(_)) => other,
        };
    }

    pub(super) fn on_reconnect(&mut self, verdict: Verdict, now: Timestamp) {
        if !matches!(
            self.persisted.state,
            State::Resyncing(_, ResyncStep::Reconnecting)
        ) {
            return;
        }
        match verdict {
            Verdict::Success(body) => {
                if self.config.api_version >= RECONNECT_SESSION_SINCE {
                    let decoded = decode_reconnect(&body);
                    let Some(reconnect) = self.decoded(Resource::ReconnectSession, decoded) else {
                        return self.retry_or_give_up(Lane::Control, now);
                    };
                    self.reconnected(None, reconnect.affinity_token, reconnect.reset_sequence);
                } else {
                    let decoded = ResyncSessionResponse::decode(&body);
                    let Some(resync) = self.decoded(Resource::ResyncSession, decoded) else {
                        return self.retry_or_give_up(Lane::Control, now);
                    };
                    if !resync.is_valid {
                        return self.end(EndReason::SessionInvalid);
                    }
                    let key = Some(resync.key).filter(|k| !k.is_empty());
                    self.reconnected(key, resync.affinity_token, false);
                }
            }
            // No failover pending after all: carry on where we were.
            Verdict::MethodNotAllowed => {
                self.io.recovered(Lane::Control);
                self.resume_polling(false);
            }
            Verdict::Forbidden => self.end(EndReason::SessionInvalid),
            Verdict::NoContent
            | Verdict::Conflict(_)
            | Verdict::Moved
            | Verdict::Rejected(_)
            | Verdict::Transient => self.retry_or_give_up(Lane::Control, now),
        }
    }

    fn reconnected(&mut self, key: Option<String>, affinity_token: String, reset_sequence: bool) {
        self.io.recovered(Lane::Control);
        if let State::Resyncing(chat, step) = &mut self.persisted.state {
            if !affinity_token.is_empty() {
                chat.affinity_token = affinity_token;
            }
            if let Some(key) = key {
                chat.key = key;
            }
            *step = ResyncStep::AwaitingSessionData;
        }
        if reset_sequence {
            self.persisted.lane.reset_numbering();
            self.io.numbering = self.io.numbering.wrapping_add(1);
        }
    }

    pub(super) fn on_resync_state(&mut self, verdict: Verdict, now: Timestamp) {
        if !matches!(
            self.persisted.state,
            State::Resyncing(_, ResyncStep::ResyncingState)
        ) {
            return;
        }
        match verdict {
            Verdict::Success(_) | Verdict::NoContent => {
                self.io.recovered(Lane::Control);
                self.resume_polling(true);
            }
            Verdict::Forbidden => self.end(EndReason::SessionInvalid),
            Verdict::Moved => self.failover(),
            Verdict::Conflict(_)
            | Verdict::MethodNotAllowed
            | Verdict::Rejected(_)
            | Verdict::Transient => self.retry_or_give_up(Lane::Control, now),
        }
    }

    fn resume_polling(&mut self, recovered: bool) {
        let state = std::mem::replace(&mut self.persisted.state, State::Init);
        self.persisted.state = match state {
            State::Resyncing(chat, _) if chat.request_confirmed => State::Polling(chat),
            State::Resyncing(chat, _) => State::Established(chat),
            other @ (State::Init | State::Established(_) | State::Polling(_) | State::Ended(_)) => {
                other
            }
        };
        if recovered {
            self.staged.events.push(SessionEvent::Reconnected);
        }
    }
}
