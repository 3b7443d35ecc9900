//! Live Agent at the edge of the [desk vocabulary](crate::desk): what a conversation asks of a
//! desk becomes a [`ChatRequest`] or a [`VisitorAction`], and the session's events become
//! [`DeskEvent`]s — those the conversation has no use for (a recovered failover, a refused
//! custom event, an event type this build does not know) become nothing.

use super::{
    Agent, ChatEndedBy, ChatRequest, EndReason, FileTransferKind, SessionEvent, VisitorAction,
};
use crate::desk::{self, ChatStart, DeskEnd, DeskEvent, DeskRequest};
use crate::liveagent::CustomDetail;

impl From<ChatStart> for ChatRequest {
    fn from(start: ChatStart) -> ChatRequest {
        ChatRequest {
            visitor_name: start.visitor_name,
            language: start.language,
            prechat_details: start
                .details
                .into_iter()
                .map(|d| CustomDetail::shown(d.label, d.value))
                .collect(),
            prechat_entities: Vec::new(),
        }
    }
}

impl From<DeskRequest> for VisitorAction {
    fn from(request: DeskRequest) -> VisitorAction {
        match request {
            DeskRequest::Text(text) => VisitorAction::Text(text),
            DeskRequest::Typing(true) => VisitorAction::Typing,
            DeskRequest::Typing(false) => VisitorAction::NotTyping,
            DeskRequest::End => VisitorAction::End,
        }
    }
}

impl From<Agent> for desk::Agent {
    fn from(agent: Agent) -> desk::Agent {
        desk::Agent {
            name: agent.name,
            id: agent.user_id,
        }
    }
}

impl From<EndReason> for desk::EndReason {
    fn from(reason: EndReason) -> desk::EndReason {
        match reason {
            EndReason::ChatEnded(ChatEndedBy::Agent) => desk::EndReason::Agent,
            EndReason::ChatEnded(ChatEndedBy::Client) | EndReason::VisitorEnded => {
                desk::EndReason::Visitor
            }
            EndReason::ChatEnded(ChatEndedBy::ClientIdleTimeout) => {
                desk::EndReason::Desk(DeskEnd::VisitorIdle)
            }
            EndReason::ChatEnded(
                ChatEndedBy::AgentsUnavailable | ChatEndedBy::AgentPushTimeout,
            )
            | EndReason::RequestFailed(_)
            | EndReason::InitRejected(_) => desk::EndReason::Desk(DeskEnd::NoAgent),
            EndReason::SessionInvalid => desk::EndReason::Desk(DeskEnd::Expired),
            EndReason::ChatEnded(ChatEndedBy::Other(other)) => {
                desk::EndReason::Desk(DeskEnd::Other(other))
            }
            EndReason::ConnectionLost => desk::EndReason::Unreachable,
        }
    }
}

/// A visitor action in the desk vocabulary, for a chat at another desk; `None` for what only
/// Live Agent has (custom events, sensitive-data rules, file transfer answers…).
pub fn desk_request(action: VisitorAction) -> Option<DeskRequest> {
    match action {
        VisitorAction::Text(text) => Some(DeskRequest::Text(text)),
        VisitorAction::Typing => Some(DeskRequest::Typing(true)),
        VisitorAction::NotTyping => Some(DeskRequest::Typing(false)),
        VisitorAction::End => Some(DeskRequest::End),
        _ => None,
    }
}

/// The conversation's view of a session event; `None` for events that change nothing for it.
pub fn desk_event(event: SessionEvent) -> Option<DeskEvent> {
    Some(match event {
        SessionEvent::Queued {
            position,
            estimated_wait_secs,
        } => DeskEvent::Queued {
            position,
            wait_secs: estimated_wait_secs,
        },
        SessionEvent::AgentJoined(agent) => DeskEvent::AgentJoined(agent.into()),
        SessionEvent::Transferred(agent) => DeskEvent::Transferred(agent.into()),
        SessionEvent::AgentText { text, .. } => DeskEvent::AgentText(text),
        SessionEvent::AgentTyping => DeskEvent::AgentTyping(true),
        SessionEvent::AgentNotTyping => DeskEvent::AgentTyping(false),
        SessionEvent::FileTransfer(transfer) => match transfer.kind {
            FileTransferKind::Requested => DeskEvent::FileRequested,
            FileTransferKind::Canceled | FileTransferKind::Success | FileTransferKind::Failure => {
                DeskEvent::FileRequestDone
            }
            FileTransferKind::Other(_) => return None,
        },
        SessionEvent::Ended {
            reason,
            undelivered,
        } => DeskEvent::Ended {
            reason: reason.into(),
            unsent: undelivered,
        },
        // The chat goes on: nothing for the user.
        SessionEvent::AgentDisconnected
        | SessionEvent::CustomEvent { .. }
        | SessionEvent::Reconnected
        | SessionEvent::PostRejected { .. }
        | SessionEvent::Unhandled { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::RequestFailReason;

    #[test]
    fn endings_are_grouped_by_who_ended_the_chat() {
        let cases = [
            (
                EndReason::ChatEnded(ChatEndedBy::Agent),
                desk::EndReason::Agent,
            ),
            (EndReason::VisitorEnded, desk::EndReason::Visitor),
            (
                EndReason::ChatEnded(ChatEndedBy::Client),
                desk::EndReason::Visitor,
            ),
            (
                EndReason::RequestFailed(RequestFailReason::Unavailable),
                desk::EndReason::Desk(DeskEnd::NoAgent),
            ),
            (
                EndReason::InitRejected(400),
                desk::EndReason::Desk(DeskEnd::NoAgent),
            ),
            (
                EndReason::SessionInvalid,
                desk::EndReason::Desk(DeskEnd::Expired),
            ),
            (EndReason::ConnectionLost, desk::EndReason::Unreachable),
        ];
        for (live_agent, expected) in cases {
            assert_eq!(desk::EndReason::from(live_agent), expected);
        }
    }

    #[test]
    fn a_chat_start_becomes_a_chat_request_with_shown_details() {
        let request = ChatRequest::from(ChatStart {
            visitor_name: "Wei".into(),
            language: "zh-CN".into(),
            details: vec![desk::Detail::new("WeChat OpenID", "oUser1")],
        });
        assert_eq!(
            request.prechat_details,
            [CustomDetail::shown("WeChat OpenID", "oUser1")]
        );
        assert_eq!(request.visitor_name, "Wei");
    }

    #[test]
    fn events_without_meaning_for_the_conversation_become_nothing() {
        assert_eq!(desk_event(SessionEvent::Reconnected), None);
        assert_eq!(
            desk_event(SessionEvent::AgentText {
                name: "Andy".into(),
                text: "hi".into()
            }),
            Some(DeskEvent::AgentText("hi".into()))
        );
    }
}
