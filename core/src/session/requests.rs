//! What the session asks for in each state (`drive`), and how each request is built.

use std::time::Duration;

use super::io::{InFlight, Lane, Purpose};
use super::lane::VisitorPost;
use super::state::{Chat, ResyncStep, State};
use super::{RequestId, Session};
use crate::liveagent::bodies::{
    ChasitorInit, ChatEndBody, ChatMessageBody, CustomEventBody, EMPTY_OBJECT, ResyncStateBody,
    SneakPeekBody,
};
use crate::liveagent::headers::RECONNECT_SESSION_SINCE;
use crate::liveagent::{LiveAgentRequest, Method, Resource};
use crate::time::Timestamp;

impl Session {
    /// Issues whatever the current state needs that is neither in flight nor waiting to retry.
    /// Idempotent: called after every input and on restore.
    pub(super) fn drive(&mut self, now: Timestamp) {
        let confirmed_init_waiting = self.persisted.chat().is_some_and(|c| c.request_confirmed)
            && self
                .persisted
                .lane
                .head()
                .is_some_and(|h| h.post == VisitorPost::ChasitorInit);
        if confirmed_init_waiting {
            self.chat_request_arrived();
        }
        self.settle_uncertain_text();
        let (poll, post, control) = match &self.persisted.state {
            State::Init => (false, false, Some(Purpose::SessionId)),
            // Poll from the start (as Salesforce's SDK does): events prove the chat request
            // arrived even when the answer to ChasitorInit was lost.
            State::Established(_) => (true, true, None),
            State::Polling(_) => (true, true, None),
            State::Resyncing(_, ResyncStep::Reconnecting) => {
                (false, false, Some(Purpose::Reconnect))
            }
            State::Resyncing(_, ResyncStep::AwaitingSessionData) => (true, false, None),
            State::Resyncing(_, ResyncStep::ResyncingState) => {
                (true, false, Some(Purpose::ResyncState))
            }
            State::Ended(_) => (false, false, None),
        };
        if let Some(purpose) = control
            && !self.io.busy(Lane::Control)
            && let Some((request, timeout)) = self.control_request(purpose)
        {
            self.issue(purpose, request, timeout, now);
        }
        if poll
            && !self.io.busy(Lane::Poll)
            && let Some((request, timeout)) = self.poll_request()
        {
            self.issue(Purpose::Poll, request, timeout, now);
        }
        if post
            && !self.io.busy(Lane::Post)
            && let Some(request) = self.post_request()
        {
            let timeout = self.config.request_timeout;
            self.issue(Purpose::Post, request, timeout, now);
        }
    }

    fn issue(
        &mut self,
        purpose: Purpose,
        request: LiveAgentRequest,
        timeout: Duration,
        now: Timestamp,
    ) {
        let id = RequestId(self.persisted.next_request_id);
        self.persisted.next_request_id += 1;
        let deadline = now + timeout;
        let numbering = self.io.numbering;
        self.io.inflight.insert(
            id,
            InFlight {
                purpose,
                deadline,
                numbering,
            },
        );
        self.staged.requests.push((id, request, timeout));
    }

    fn base(&self, method: Method, resource: Resource) -> LiveAgentRequest {
        LiveAgentRequest::new(method, resource, self.config.api_version)
    }

    fn session_scoped(&self, method: Method, resource: Resource, chat: &Chat) -> LiveAgentRequest {
        self.base(method, resource)
            .affinity(Some(&chat.affinity_token))
            .session_key(&chat.key)
    }

    fn control_request(&self, purpose: Purpose) -> Option<(LiveAgentRequest, Duration)> {
        let timeout = self.config.request_timeout;
        let request = match purpose {
            Purpose::SessionId => self.base(Method::Get, Resource::SessionId).affinity(None),
            Purpose::Reconnect => {
                let chat = self.persisted.chat()?;
                if self.config.api_version >= RECONNECT_SESSION_SINCE {
                    self.base(Method::Get, Resource::ReconnectSession)
                        .affinity(None)
                        .session_key(&chat.key)
                        .query(
                            "ReconnectSession.offset",
                            chat.offset.unwrap_or(0).to_string(),
                        )
                } else {
                    self.session_scoped(Method::Get, Resource::ResyncSession, chat)
                        .query("SessionId", chat.id.clone())
                }
            }
            Purpose::ResyncState => {
                let chat = self.persisted.chat()?;
                let body = ResyncStateBody {
                    organization_id: self.config.organization_id.clone(),
                };
                self.session_scoped(Method::Post, Resource::ChasitorResyncState, chat)
                    .body(to_json(&body))
            }
            Purpose::Poll | Purpose::Post => return None,
        };
        Some((request, timeout))
    }

    fn poll_request(&self) -> Option<(LiveAgentRequest, Duration)> {
        let chat = self.persisted.chat()?;
        let request = self
            .session_scoped(Method::Get, Resource::Messages, chat)
            .query("ack", chat.ack.to_string());
        Some((request, chat.client_poll_timeout + self.config.poll_slack))
    }

    /// Numbers the head of the lane (persisted before it goes out) and builds its request.
    fn post_request(&mut self) -> Option<LiveAgentRequest> {
        let post = self.persisted.lane.head()?.post.clone();
        let body = self.post_body(&post)?;
        let sequence = self.persisted.lane.number_head()?;
        let chat = self.persisted.chat()?;
        Some(
            self.session_scoped(Method::Post, post.resource(), chat)
                .sequence(sequence)
                .body(body),
        )
    }

    fn post_body(&self, post: &VisitorPost) -> Option<String> {
        Some(match post {
            VisitorPost::ChasitorInit => {
                let chat = self.persisted.chat()?;
                let request = &self.persisted.request;
                let or_na = |s: &str| {
                    if s.is_empty() {
                        "n/a".to_owned()
                    } else {
                        s.to_owned()
                    }
                };
                to_json(&ChasitorInit {
                    organization_id: self.config.organization_id.clone(),
                    deployment_id: self.config.deployment_id.clone(),
                    button_id: self.config.button_id.clone(),
                    agent_id: None,
                    do_fallback: None,
                    session_id: chat.id.clone(),
                    user_agent: self.config.user_agent.clone(),
                    language: or_na(&request.language),
                    screen_resolution: "n/a".to_owned(),
                    visitor_name: request.visitor_name.clone(),
                    prechat_details: request.prechat_details.clone(),
                    prechat_entities: request.prechat_entities.clone(),
                    button_overrides: self.config.button_overrides.clone(),
                    receive_queue_updates: self.config.receive_queue_updates,
                    is_post: true,
                })
            }
            VisitorPost::Text(text) => to_json(&ChatMessageBody { text: text.clone() }),
            VisitorPost::Typing | VisitorPost::NotTyping => EMPTY_OBJECT.to_owned(),
            VisitorPost::SneakPeek { position, text } => to_json(&SneakPeekBody {
                position: Some(*position),
                text: text.clone(),
            }),
            VisitorPost::CustomEvent { kind, data } => to_json(&CustomEventBody {
                kind: kind.clone(),
                data: data.clone(),
            }),
            VisitorPost::End => to_json(&ChatEndBody {
                reason: "client".to_owned(),
            }),
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Plain structs of strings, numbers and lists always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| EMPTY_OBJECT.to_owned())
}
