//! Visitor POSTs with sequence checking, the failover resources, and Availability.

use super::{DuplicatePost, Phase, ReferenceServer, Reply};
use crate::liveagent::bodies::{
    ChasitorInit, ChatEndBody, ChatMessageBody, CustomEventBody, ResyncStateBody,
};
use crate::liveagent::event::{
    Availability, AvailabilityResult, ChatEnded, ChatRequestSuccess, Event, ReconnectSession,
    TranscriptEntry,
};
use crate::liveagent::responses::{OutOfSync, error_text};
use crate::liveagent::{LiveAgentRequest, MessagesResponse, Resource};
use crate::time::Timestamp;

impl ReferenceServer {
    pub(super) fn availability(&mut self, request: &LiveAgentRequest) -> Reply {
        let param = |name: &str| request.query_value(name).map(str::to_owned);
        if param("org_id").as_deref() != Some(self.knobs.organization_id.as_str()) {
            return Reply::status(400, "Invalid org_id");
        }
        let ids = param("Availability.ids").unwrap_or_default();
        let wait = param("Availability.needEstimatedWaitTime").is_some_and(|v| v == "1");
        let results = ids
            .trim_matches(['[', ']'])
            .split(',')
            .filter(|id| !id.is_empty())
            .map(|id| AvailabilityResult {
                id: id.to_owned(),
                is_available: self.knobs.agents_available && id == self.knobs.button_id,
                estimated_wait_time: wait.then_some(if self.knobs.agents_available {
                    30
                } else {
                    -1
                }),
            })
            .collect();
        let response = MessagesResponse {
            messages: vec![Event::Availability(Availability { results })],
            sequence: None,
            offset: None,
        };
        Reply::status(200, serde_json::to_string(&response).unwrap_or_default())
    }

    pub(super) fn reconnect(&mut self, request: &LiveAgentRequest, now: Timestamp) -> Reply {
        let id = match self.authorise(request, false) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let legacy = request.resource == Resource::ResyncSession;
        let Some(session) = self.sessions.get(&id) else {
            return Reply::status(403, error_text::SESSION_INVALID);
        };
        if !session.ever_moved {
            // Observed: ReconnectSession without a failover answers 405.
            return Reply::status(405, "Method not allowed");
        }
        let token = if session.moved {
            self.token()
        } else {
            session.affinity_token.clone()
        };
        let data_offset = self.offset();
        let reset = self.knobs.reset_sequence && !legacy;
        let with_data = self.knobs.session_data_after_reconnect;
        let Some(session) = self.sessions.get_mut(&id) else {
            return Reply::status(403, error_text::SESSION_INVALID);
        };
        session.moved = false;
        session.poll_open = false;
        session.affinity_token = token.clone();
        session.awaiting_resync_state = true;
        session.last_activity = now;
        if reset {
            session.last_sequence = 0;
        }
        if with_data {
            session.push_session_data(data_offset);
        }
        // A poll held across the reconnect is closed; its holder should answer it.
        self.wakeups.insert(id.clone());
        let body = if legacy {
            serde_json::json!({"isValid": true, "key": session.key, "affinityToken": token})
                .to_string()
        } else {
            let response = MessagesResponse {
                messages: vec![Event::ReconnectSession(ReconnectSession {
                    reset_sequence: reset,
                    affinity_token: token,
                })],
                sequence: None,
                offset: None,
            };
            serde_json::to_string(&response).unwrap_or_default()
        };
        Reply::status(200, body)
    }

    pub(super) fn resync_state(&mut self, request: &LiveAgentRequest, now: Timestamp) -> Reply {
        let id = match self.authorise(request, true) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let body: Option<ResyncStateBody> = request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok());
        if body.is_none_or(|b| b.organization_id != self.knobs.organization_id) {
            return Reply::status(400, "Bad Request");
        }
        if let Some(session) = self.sessions.get_mut(&id) {
            session.awaiting_resync_state = false;
            session.last_activity = now;
        }
        Reply::ok()
    }

    pub(super) fn visitor_post(&mut self, request: &LiveAgentRequest, now: Timestamp) -> Reply {
        let id = match self.authorise(request, true) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return Reply::status(403, error_text::SESSION_INVALID);
        };
        session.last_activity = now;
        let phase_ok = match (&session.phase, request.resource) {
            (Phase::Ended, _) => return Reply::status(403, error_text::SESSION_INVALID),
            (Phase::Created, Resource::ChasitorInit) => true,
            (Phase::Created, _) => false,
            (Phase::Requested | Phase::Established { .. }, Resource::ChasitorInit) => {
                // Only a retry of the chat request itself may carry its number again.
                request
                    .sequence_number()
                    .is_some_and(|n| n <= session.last_sequence)
            }
            (
                Phase::Requested,
                Resource::ChatMessage
                | Resource::ChasitorTyping
                | Resource::ChasitorNotTyping
                | Resource::ChasitorSneakPeek,
            ) => {
                return Reply::status(self.knobs.post_before_agent_status, "Internal Server Error");
            }
            (Phase::Requested | Phase::Established { .. }, _) => true,
        };
        if !phase_ok {
            return Reply::status(400, "Bad Request");
        }
        if session.awaiting_resync_state {
            return Reply::status(409, "ChasitorResyncState required");
        }
        if let Some(number) = request.sequence_number() {
            let last = session.last_sequence;
            if number <= last {
                return match self.knobs.duplicate_post {
                    DuplicatePost::AcceptSilently => Reply::ok(),
                    DuplicatePost::Conflict => Reply::status(
                        409,
                        OutOfSync {
                            expected: i64::from(number),
                            actual: i64::from(last),
                        }
                        .to_body(),
                    ),
                };
            }
            if number != last + 1 {
                return Reply::status(
                    409,
                    OutOfSync {
                        expected: i64::from(number),
                        actual: i64::from(last),
                    }
                    .to_body(),
                );
            }
        }
        let body = request.body.as_deref().unwrap_or_default();
        let reply = self.apply_post(&id, request.resource, body);
        if matches!(reply, Reply::Respond { status: 200, .. })
            && let Some(number) = request.sequence_number()
            && let Some(session) = self.sessions.get_mut(&id)
        {
            session.last_sequence = number;
        }
        reply
    }

    fn apply_post(&mut self, id: &str, resource: Resource, body: &str) -> Reply {
        match resource {
            Resource::ChasitorInit => self.chasitor_init(id, body),
            Resource::ChatMessage => {
                let Ok(message) = serde_json::from_str::<ChatMessageBody>(body) else {
                    return Reply::status(400, "Bad Request");
                };
                let Some(session) = self.sessions.get_mut(id) else {
                    return Reply::status(403, error_text::SESSION_INVALID);
                };
                session.transcript.push(TranscriptEntry {
                    kind: "Chasitor".into(),
                    name: session.visitor_name.clone(),
                    content: message.text.clone(),
                    timestamp: None,
                    sequence: i64::try_from(session.transcript.len()).ok(),
                });
                session.visitor_texts.push(message.text);
                session.visitor_typing = false;
                Reply::ok()
            }
            Resource::ChasitorTyping | Resource::ChasitorNotTyping => {
                if let Some(session) = self.sessions.get_mut(id) {
                    session.visitor_typing = resource == Resource::ChasitorTyping;
                }
                Reply::ok()
            }
            Resource::CustomEvent => {
                let Ok(event) = serde_json::from_str::<CustomEventBody>(body) else {
                    return Reply::status(400, "Bad Request");
                };
                if let Some(session) = self.sessions.get_mut(id) {
                    session.custom_events.push((event.kind, event.data));
                }
                Reply::ok()
            }
            Resource::ChatEnd => {
                let reason = serde_json::from_str::<ChatEndBody>(body).map(|b| b.reason);
                if reason.as_deref().is_ok_and(str::is_empty) || reason.is_err() {
                    return Reply::status(400, "Bad Request: reason is required");
                }
                self.end_chat(id, "client");
                Reply::ok()
            }
            Resource::ChasitorSneakPeek
            | Resource::ChasitorIdleTimeoutWarningEvent
            | Resource::MultiNoun => Reply::ok(),
            Resource::SessionId
            | Resource::Messages
            | Resource::ReconnectSession
            | Resource::ResyncSession
            | Resource::ChasitorResyncState
            | Resource::Availability
            | Resource::Settings
            | Resource::Breadcrumb
            | Resource::VisitorId => Reply::status(404, "Not Found"),
        }
    }

    fn chasitor_init(&mut self, id: &str, body: &str) -> Reply {
        let Ok(init) = serde_json::from_str::<ChasitorInit>(body) else {
            return Reply::status(400, "Bad Request");
        };
        if init.session_id != id
            || init.organization_id != self.knobs.organization_id
            || init.deployment_id != self.knobs.deployment_id
        {
            return Reply::status(400, "Bad Request");
        }
        let queue_position = self
            .sessions
            .values()
            .filter(|s| s.phase == Phase::Requested)
            .count();
        let Some(session) = self.sessions.get_mut(id) else {
            return Reply::status(403, error_text::SESSION_INVALID);
        };
        if session.phase != Phase::Created {
            // A retried chat request the server already has.
            return Reply::ok();
        }
        session.phase = Phase::Requested;
        session.visitor_name = init.visitor_name;
        session.prechat = init
            .prechat_details
            .into_iter()
            .map(|d| (d.label, d.value))
            .collect();
        let routed = init.button_id == self.knobs.button_id
            || init.button_overrides.contains(&self.knobs.button_id);
        if !routed || !self.knobs.agents_available {
            self.push_event(
                id,
                Event::ChatRequestFail(crate::liveagent::event::ChatRequestFail {
                    reason: "Unavailable".into(),
                    post_chat_url: None,
                }),
            );
            if let Some(session) = self.sessions.get_mut(id) {
                session.phase = Phase::Ended;
            }
            return Reply::ok();
        }
        let connection_timeout = i64::try_from(self.knobs.connection_timeout.as_millis()).ok();
        self.push_event(
            id,
            Event::ChatRequestSuccess(ChatRequestSuccess {
                queue_position: i64::try_from(queue_position).ok(),
                estimated_wait_time: Some(-1),
                connection_timeout,
                ..ChatRequestSuccess::default()
            }),
        );
        Reply::ok()
    }

    pub(super) fn end_chat(&mut self, id: &str, reason: &str) {
        self.push_event(
            id,
            Event::ChatEnded(ChatEnded {
                reason: reason.to_owned(),
                attached_records: None,
            }),
        );
        if let Some(session) = self.sessions.get_mut(id) {
            session.phase = Phase::Ended;
        }
    }
}
