//! A reference Live Agent visitor-API server as a pure model: it takes a
//! [`LiveAgentRequest`] and the time, and answers as `spec/live-agent.md` §8 says the real
//! server does — status codes, envelopes, sequence rules, failover — with the UNCONFIRMED parts
//! as [`Knobs`]. It is the oracle of the session model test and the engine of the HTTP
//! simulator in `switchboard-sim`, which adds sockets and long-poll holds around it.

mod agent;
mod knobs;
mod routes;
mod session;

use std::collections::{BTreeMap, BTreeSet};

pub use agent::ControlError;
pub use knobs::{DuplicatePost, Knobs, PollTimeoutShape};
pub use session::{Phase, ServerSession};

use crate::liveagent::event::Event;
use crate::liveagent::headers::{API_VERSION, SESSION_KEY};
use crate::liveagent::responses::error_text;
use crate::liveagent::{LiveAgentRequest, MessagesResponse, Resource};
use crate::time::Timestamp;

/// The server's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer now.
    Respond {
        /// HTTP status.
        status: u16,
        /// Body (JSON, `OK`, or a short error text).
        body: String,
    },
    /// A `Messages` poll with nothing to deliver: hold it, then call
    /// [`ReferenceServer::complete_poll`] when events arrive or [`ReferenceServer::release_poll`]
    /// when the hold time is up.
    Hold {
        /// The session whose poll is held.
        session_id: String,
    },
}

impl Reply {
    pub(crate) fn status(status: u16, body: impl Into<String>) -> Reply {
        Reply::Respond {
            status,
            body: body.into(),
        }
    }

    pub(crate) fn ok() -> Reply {
        Reply::status(200, "OK")
    }
}

/// One request as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// When it arrived.
    pub at: Timestamp,
    /// The request.
    pub request: LiveAgentRequest,
    /// The status it got (`None` while held).
    pub status: Option<u16>,
}

/// The reference server. Deterministic for a given seed.
#[derive(Debug)]
pub struct ReferenceServer {
    knobs: Knobs,
    sessions: BTreeMap<String, ServerSession>,
    rng: u64,
    next_offset: i64,
    recorded: Vec<Recorded>,
    expired: u64,
    /// Sessions whose held poll may have something to answer since the last
    /// [`ReferenceServer::take_wakeups`].
    wakeups: BTreeSet<String>,
}

impl ReferenceServer {
    /// A server with these settings; `seed` makes ids, keys and tokens reproducible.
    pub fn new(knobs: Knobs, seed: u64) -> Self {
        let mut server = Self {
            knobs,
            sessions: BTreeMap::new(),
            rng: seed | 1,
            next_offset: 0,
            recorded: Vec::new(),
            expired: 0,
            wakeups: BTreeSet::new(),
        };
        // Offsets are large, increasing, and start at a random 10-digit value (spec §8).
        server.next_offset =
            1_000_000_000 + i64::try_from(server.random() % 1_000_000_000).unwrap_or(0);
        server
    }

    /// The settings.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    /// Changes the settings.
    pub fn knobs_mut(&mut self) -> &mut Knobs {
        &mut self.knobs
    }

    /// Answers one request.
    pub fn handle(&mut self, request: &LiveAgentRequest, now: Timestamp) -> Reply {
        let reply = self.route(request, now);
        if self.knobs.record_requests {
            let status = match &reply {
                Reply::Respond { status, .. } => Some(*status),
                Reply::Hold { .. } => None,
            };
            self.recorded.push(Recorded {
                at: now,
                request: request.clone(),
                status,
            });
        }
        reply
    }

    fn route(&mut self, request: &LiveAgentRequest, now: Timestamp) -> Reply {
        if request.header_value(API_VERSION).is_none() {
            return Reply::status(400, error_text::NO_VERSION);
        }
        let expected = request.resource.method(request.path_suffix.is_some());
        if request.method != expected {
            return Reply::status(405, "Method not allowed");
        }
        match request.resource {
            Resource::SessionId if request.path_suffix.is_some() => self.delete_session(request),
            Resource::SessionId => self.create_session(now),
            Resource::Availability => self.availability(request),
            Resource::Settings | Resource::VisitorId | Resource::Breadcrumb => Reply::ok(),
            Resource::Messages => self.messages(request, now),
            Resource::ReconnectSession | Resource::ResyncSession => self.reconnect(request, now),
            Resource::ChasitorResyncState => self.resync_state(request, now),
            Resource::ChasitorInit
            | Resource::ChatMessage
            | Resource::ChasitorTyping
            | Resource::ChasitorNotTyping
            | Resource::ChasitorSneakPeek
            | Resource::CustomEvent
            | Resource::ChatEnd
            | Resource::ChasitorIdleTimeoutWarningEvent
            | Resource::MultiNoun => self.visitor_post(request, now),
        }
    }

    /// Answers a held poll if it has something to deliver now (or if its session moved or
    /// ended); `None` means keep holding.
    pub fn complete_poll(&mut self, session_id: &str, now: Timestamp) -> Option<Reply> {
        let session = self.sessions.get_mut(session_id)?;
        if !session.poll_open {
            return None;
        }
        session.last_activity = now;
        if session.moved {
            session.poll_open = false;
            return Some(Reply::status(503, error_text::INVALID_AFFINITY));
        }
        let from = session.next_undelivered;
        if session.has_pending(from) {
            session.poll_open = false;
            return Some(Self::batch(session, from));
        }
        None
    }

    /// The hold time is up (or the client went away): a held poll gets its 204.
    pub fn release_poll(&mut self, session_id: &str, now: Timestamp) -> Reply {
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.poll_open = false;
            session.last_activity = now;
        }
        Reply::status(204, "")
    }

    /// Deletes sessions nobody polled for `connection_timeout`; returns their ids.
    pub fn expire_idle(&mut self, now: Timestamp) -> Vec<String> {
        let timeout = self.knobs.connection_timeout;
        let idle: Vec<String> = self
            .sessions
            .values()
            .filter(|s| !s.poll_open && now.saturating_since(s.last_activity) >= timeout)
            .map(|s| s.id.clone())
            .collect();
        for id in &idle {
            self.sessions.remove(id);
            self.expired += 1;
        }
        idle
    }

    /// A session by id.
    pub fn session(&self, id: &str) -> Option<&ServerSession> {
        self.sessions.get(id)
    }

    /// All live sessions.
    pub fn sessions(&self) -> impl Iterator<Item = &ServerSession> {
        self.sessions.values()
    }

    /// Every request received so far (when `record_requests` is on).
    pub fn recorded(&self) -> &[Recorded] {
        &self.recorded
    }

    /// Sessions that queued events, moved or reconnected since the last call, in id order. A
    /// driver that holds polls calls [`ReferenceServer::complete_poll`] for each of them; the
    /// model itself never needs this.
    pub fn take_wakeups(&mut self) -> Vec<String> {
        std::mem::take(&mut self.wakeups).into_iter().collect()
    }

    pub(crate) fn wake(&mut self, session_id: &str) {
        if !self.wakeups.contains(session_id) {
            self.wakeups.insert(session_id.to_owned());
        }
    }

    /// Sessions deleted for not being polled.
    pub fn expired_count(&self) -> u64 {
        self.expired
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: reproducible ids without a dependency.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn create_session(&mut self, now: Timestamp) -> Reply {
        let (a, b) = (self.random(), self.random());
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        );
        let signature = format!("{:016x}{:016x}", self.random(), self.random());
        let key = format!("{id}!{}!{signature}=", now.as_millis());
        let token = self.token();
        let poll_timeout = match self.knobs.client_poll_timeout_shape {
            PollTimeoutShape::Number => serde_json::json!(self.knobs.client_poll_timeout_secs),
            PollTimeoutShape::String => {
                serde_json::json!(self.knobs.client_poll_timeout_secs.to_string())
            }
        };
        let body = serde_json::json!({
            "key": key, "id": id, "clientPollTimeout": poll_timeout, "affinityToken": token,
        });
        self.sessions
            .insert(id.clone(), ServerSession::new(id, key, token, now));
        Reply::status(200, body.to_string())
    }

    fn token(&mut self) -> String {
        format!("{:08x}", self.random() & 0xffff_ffff)
    }

    fn offset(&mut self) -> i64 {
        self.next_offset += 1;
        self.next_offset
    }

    pub(crate) fn push_event(&mut self, session_id: &str, event: Event) {
        let offset = self.offset();
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.push(offset, event);
            self.wake(session_id);
        }
    }

    fn delete_session(&mut self, request: &LiveAgentRequest) -> Reply {
        let key = request.path_suffix.clone().unwrap_or_default();
        let id = key.split('!').next().unwrap_or_default().to_owned();
        match self.sessions.get(&id) {
            Some(s) if s.key == key => {
                self.sessions.remove(&id);
                Reply::ok()
            }
            Some(_) | None => Reply::status(403, error_text::SESSION_INVALID),
        }
    }

    /// Finds the session a request's key names and checks its affinity token: 403 for an
    /// unknown key or a wrong pairing, 503 for a session that moved.
    fn authorise(
        &mut self,
        request: &LiveAgentRequest,
        affinity_required: bool,
    ) -> Result<String, Reply> {
        let key = request.header_value(SESSION_KEY).unwrap_or_default();
        let id = key.split('!').next().unwrap_or_default();
        let Some(session) = self.sessions.get(id).filter(|s| s.key == key) else {
            return Err(Reply::status(403, error_text::SESSION_INVALID));
        };
        if affinity_required {
            let affinity = request
                .header_value(crate::liveagent::headers::AFFINITY)
                .unwrap_or_default();
            if session.moved || affinity != session.affinity_token {
                return Err(if session.moved || session.ever_moved {
                    Reply::status(503, error_text::INVALID_AFFINITY)
                } else {
                    Reply::status(403, error_text::SESSION_INVALID)
                });
            }
        }
        Ok(session.id.clone())
    }

    fn messages(&mut self, request: &LiveAgentRequest, now: Timestamp) -> Reply {
        let id = match self.authorise(request, true) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let ack = request
            .query_value("ack")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let Some(session) = self.sessions.get_mut(&id) else {
            return Reply::status(403, error_text::SESSION_INVALID);
        };
        session.last_activity = now;
        if session.poll_open {
            // Spec §4.4: only one outstanding poll; the newer one gets 409.
            return Reply::status(409, "Conflict");
        }
        let from = session.pending_from(ack);
        if session.has_pending(from) {
            return Self::batch(session, from);
        }
        if session.phase == Phase::Ended {
            return Reply::status(403, error_text::SESSION_INVALID);
        }
        session.poll_open = true;
        Reply::Hold { session_id: id }
    }

    fn batch(session: &mut ServerSession, from: usize) -> Reply {
        let events: Vec<Event> = session.log[from..]
            .iter()
            .map(|l| l.event.clone())
            .collect();
        let last = session.log.len() - 1;
        session.next_undelivered = session.log.len();
        let response = MessagesResponse {
            messages: events,
            sequence: i64::try_from(last).ok(),
            offset: Some(session.log[last].offset),
        };
        match serde_json::to_string(&response) {
            Ok(body) => Reply::status(200, body),
            Err(_) => Reply::status(500, "Internal Server Error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveagent::Method;

    fn session(server: &mut ReferenceServer) -> String {
        let request = LiveAgentRequest::new(Method::Get, Resource::SessionId, 52).affinity(None);
        let Reply::Respond { status: 200, body } =
            server.handle(&request, Timestamp::from_millis(0))
        else {
            panic!("SessionId failed");
        };
        let value: serde_json::Value = serde_json::from_str(&body).expect("json");
        value["id"].as_str().expect("id").to_owned()
    }

    #[test]
    fn reports_sessions_to_wake_once_per_change() {
        let mut server = ReferenceServer::new(Knobs::default(), 7);
        let id = session(&mut server);
        assert!(
            server.take_wakeups().is_empty(),
            "a new session has no events"
        );
        server.inject_failover(&id).expect("failover");
        assert_eq!(server.take_wakeups(), vec![id.clone()]);
        assert!(server.take_wakeups().is_empty(), "taken once");
        server.end(&id).expect("end");
        assert_eq!(server.take_wakeups(), vec![id]);
    }
}
