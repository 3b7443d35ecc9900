//! A reference Salesforce Enhanced Chat (MIAW) server as a pure model: it takes an
//! [`EnhancedRequest`] and the time and answers as `spec/enhanced-chat.md` §4–§8 and §10 say the
//! real service does — tokens and their expiry, subjects owning conversations, the lowercase
//! UUID rule, routing, the per-conversation message limit, 417 after a session ended, entries
//! and their list, close and session end — with the UNCONFIRMED parts as [`Knobs`].
//!
//! Contract: no I/O, no clock. `now` is Unix milliseconds as the driver tells it (identity
//! tokens carry Unix-second `exp`). Everything the server pushes goes into one event log per
//! subject with ids increasing across the server ([`SseEvent`]); an accepted SSE connect is a
//! [`Reply::Stream`] naming the subject and the id to stream after, and the driver reads
//! [`EnhancedServer::events_after`] whenever [`EnhancedServer::take_wakeups`] names that
//! subject. Timed work (routing after a delay) happens in [`EnhancedServer::advance`], due at
//! [`EnhancedServer::next_deadline`]; [`EnhancedServer::handle`] advances first. The agent's
//! side and fault injection are methods too (`agent.rs`). It is the engine of the HTTP
//! simulator in `switchboard-sim` and independent of the client in `crate::enhanced`.
//!
//! | module | holds |
//! |---|---|
//! | `knobs` | [`Knobs`] and the enums of the UNCONFIRMED behaviours |
//! | `request` | [`EnhancedRequest`], [`Method`], [`Route`] |
//! | `reply` | [`Reply`], [`Response`], [`StreamOpen`], [`SseEvent`] |
//! | `identity` | verified-user JWT checks, the test key pair |
//! | `tokens` | the token endpoints and Bearer authentication |
//! | `conversation` | [`Conversation`], [`SessionState`], [`RoutingStatus`] |
//! | `entry` | [`Entry`] and the payload of each entry type |
//! | `routes` | conversation create, status, list, close, session end |
//! | `messages` | message, typing, acknowledgements, entries list |
//! | `session` | entries into logs, session start, routing when due, session end |
//! | `stream` | SSE connect rules and the event logs |
//! | `agent` | the agent's actions, routing, fault injection, [`ControlError`] |

mod agent;
mod conversation;
mod entry;
pub mod identity;
mod knobs;
mod messages;
mod reply;
mod request;
mod routes;
mod session;
mod stream;
mod tokens;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use agent::{Acknowledgement, ControlError};
pub use conversation::{Conversation, RoutingStatus, SessionState};
pub use entry::{Entry, Role, Sender};
pub use knobs::{
    DuplicateMessage, ExpiredStreamShape, IdentityKeyset, Knobs, ListPayload, Replay,
    RoutingOutcome, UnverifiedIdentity,
};
pub use reply::{Reply, Response, SseEvent, StreamOpen, ping_frame};
pub use request::{EnhancedRequest, Method, NoRoute, REST_BASE, Route, SSE_PATH};
pub use tokens::TokenInfo;

use crate::time::Timestamp;

/// One request as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// When it arrived.
    pub at: Timestamp,
    /// The request.
    pub request: EnhancedRequest,
    /// The status it got (200 for an opened stream).
    pub status: u16,
}

/// The reference server. Deterministic for a given seed and sequence of calls.
#[derive(Debug)]
pub struct EnhancedServer {
    pub(crate) knobs: Knobs,
    rng: u64,
    /// The id the next event gets.
    next_event_id: u64,
    /// The last `transcriptedTimestamp` given out (they strictly increase).
    last_stamp: u64,
    pub(crate) tokens: BTreeMap<String, TokenInfo>,
    pub(crate) logs: BTreeMap<String, Vec<SseEvent>>,
    pub(crate) conversations: BTreeMap<String, Conversation>,
    pub(crate) token_requests: VecDeque<Timestamp>,
    /// Statuses the next REST requests get, one each.
    pub(crate) rest_faults: VecDeque<u16>,
    /// Statuses the next SSE connects get, one each.
    pub(crate) stream_faults: VecDeque<u16>,
    recorded: Vec<Recorded>,
    wakeups: BTreeSet<String>,
}

impl EnhancedServer {
    /// A server with these settings; `seed` makes ids and tokens reproducible.
    pub fn new(knobs: Knobs, seed: u64) -> Self {
        let mut server = Self {
            knobs,
            rng: seed | 1,
            next_event_id: 0,
            last_stamp: 0,
            tokens: BTreeMap::new(),
            logs: BTreeMap::new(),
            conversations: BTreeMap::new(),
            token_requests: VecDeque::new(),
            rest_faults: VecDeque::new(),
            stream_faults: VecDeque::new(),
            recorded: Vec::new(),
            wakeups: BTreeSet::new(),
        };
        // Ids look like the one recorded sample: a large number (§4.1).
        server.next_event_id = 2_000_000_000 + server.random() % 100_000_000;
        server
    }

    /// The settings.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    /// Changes the settings; they apply from the next call.
    pub fn knobs_mut(&mut self) -> &mut Knobs {
        &mut self.knobs
    }

    /// Answers one request (after running timed work due by `now`).
    pub fn handle(&mut self, request: &EnhancedRequest, now: Timestamp) -> Reply {
        self.advance(now);
        let reply = self.route(request, now);
        if self.knobs.record_requests {
            self.recorded.push(Recorded {
                at: now,
                request: request.clone(),
                status: reply.status(),
            });
        }
        reply
    }

    fn route(&mut self, request: &EnhancedRequest, now: Timestamp) -> Reply {
        let route = match Route::parse(request.method, &request.path) {
            Ok(route) => route,
            Err(NoRoute::NotFound) => return Response::error(404, "Not Found").into(),
            Err(NoRoute::WrongMethod) => return Response::error(405, "Method Not Allowed").into(),
        };
        let fault = if route == Route::Sse {
            self.stream_faults.pop_front()
        } else {
            self.rest_faults.pop_front()
        };
        if let Some(status) = fault {
            return self.fault_response(status).into();
        }
        match route {
            Route::Sse => self.connect(request, now),
            Route::UnauthenticatedToken => self.unauthenticated_token(request, now).into(),
            Route::AuthenticatedToken => self.authenticated_token(request, now).into(),
            Route::RevokeToken => self.revoke_token(request, now).into(),
            Route::ContinuationToken => self.continuation_token(request, now).into(),
            Route::CreateConversation => self.create_conversation(request, now).into(),
            Route::ListConversations => self.list_conversations(request, now).into(),
            Route::RoutingStatus(id) => self.routing_status(request, &id, now).into(),
            Route::CloseConversation(id) => self.close_conversation(request, &id, now).into(),
            Route::EndSession(id) => self.end_session_request(request, &id, now).into(),
            Route::SendMessage(id) => self.send_message(request, &id, now).into(),
            Route::SendEntry(id) => self.send_entry(request, &id, now).into(),
            Route::Acknowledge(id) => self.acknowledge_entries(request, &id, now).into(),
            Route::ListEntries(id) => self.list_entries(request, &id, now).into(),
            Route::Transcript(id) => self.transcript(request, &id, now).into(),
            Route::SendFile(_) => Response::error(501, "File upload is not simulated").into(),
        }
    }

    /// A 429 (with `Retry-After` per knob) or any other injected status.
    pub(crate) fn fault_response(&self, status: u16) -> Response {
        let mut response = Response::error(status, "Injected fault");
        if status == 429 {
            response.body =
                serde_json::json!({"message": "Too Many Requests", "status": 429}).to_string();
            if let Some(secs) = self.knobs.retry_after_secs {
                response
                    .headers
                    .push(("Retry-After".into(), secs.to_string()));
            }
        }
        response
    }

    /// Every request received so far (when `record_requests` is on).
    pub fn recorded(&self) -> &[Recorded] {
        &self.recorded
    }

    /// A conversation by id.
    pub fn conversation(&self, id: &str) -> Option<&Conversation> {
        self.conversations.get(id)
    }

    /// All conversations, in id order.
    pub fn conversations(&self) -> impl Iterator<Item = &Conversation> {
        self.conversations.values()
    }

    /// A token's record.
    pub fn token(&self, token: &str) -> Option<&TokenInfo> {
        self.tokens.get(token)
    }

    /// Subjects whose event log grew since the last call, in order. A driver streaming events
    /// reads [`EnhancedServer::events_after`] for each.
    pub fn take_wakeups(&mut self) -> Vec<String> {
        std::mem::take(&mut self.wakeups).into_iter().collect()
    }

    /// The id of the last event given out anywhere (what a token answer calls `lastEventId`).
    pub fn last_event_id(&self) -> u64 {
        self.next_event_id.saturating_sub(1)
    }

    pub(crate) fn random(&mut self) -> u64 {
        // xorshift64*: reproducible ids without a dependency.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A fresh lowercase v4 UUID.
    pub(crate) fn uuid(&mut self) -> String {
        let (a, b) = (self.random(), self.random());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// A `transcriptedTimestamp`: `now`, or one more than the last if that is not later.
    pub(crate) fn stamp(&mut self, now: Timestamp) -> u64 {
        self.last_stamp = now.as_millis().max(self.last_stamp + 1);
        self.last_stamp
    }

    /// Appends an event to `subject`'s log and wakes its streams; returns its id.
    pub(crate) fn push_event(&mut self, subject: &str, name: &str, data: String) -> u64 {
        let id = self.next_event_id;
        self.next_event_id += 1;
        self.logs
            .entry(subject.to_owned())
            .or_default()
            .push(SseEvent {
                id,
                name: name.to_owned(),
                data,
            });
        self.wakeups.insert(subject.to_owned());
        id
    }
}
