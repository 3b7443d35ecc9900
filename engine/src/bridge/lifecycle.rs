//! One `info` line per step of a chat's life — requested, queued (the first report only),
//! agent joined, transferred, ended with the reason, a delivery given up with the channel's
//! error — each with the conversation id and never a message text, key or token.

use switchboard_core::session::{EndReason, SessionEvent};
use tracing::info;

use crate::store::ChatId;

/// The conversation asked for a chat.
pub(crate) fn chat_requested(conversation: &str, chat: &ChatId) {
    info!(conversation, %chat, "chat requested");
}

/// A session event is about to reach the conversation; `queue_known`: a queue report already
/// reached it in this wait (later position changes are not logged).
pub(crate) fn session_event(
    conversation: &str,
    chat: &ChatId,
    event: &SessionEvent,
    queue_known: bool,
) {
    match event {
        SessionEvent::Queued { position, .. } if !queue_known => {
            // Live Agent counts from 0; people from 1.
            let position = position.map(|p| p + 1);
            info!(conversation, %chat, position, "chat queued");
        }
        SessionEvent::AgentJoined(agent) => {
            info!(conversation, %chat, agent = agent.user_id, "agent joined");
        }
        SessionEvent::Transferred(agent) => {
            info!(conversation, %chat, agent = agent.user_id, "chat transferred");
        }
        SessionEvent::Ended {
            reason,
            undelivered,
        } => {
            info!(
                conversation,
                %chat,
                reason = reason_name(reason),
                undelivered = undelivered.len(),
                "chat ended"
            );
        }
        SessionEvent::Queued { .. }
        | SessionEvent::AgentText { .. }
        | SessionEvent::AgentTyping
        | SessionEvent::AgentNotTyping
        | SessionEvent::AgentDisconnected
        | SessionEvent::FileTransfer(_)
        | SessionEvent::CustomEvent { .. }
        | SessionEvent::Reconnected
        | SessionEvent::PostRejected { .. }
        | SessionEvent::Unhandled { .. } => {}
    }
}

/// A message to the user was given up; `error` is the channel's (it carries its error code and
/// no message text).
pub(crate) fn delivery_given_up(conversation: &str, error: &dyn std::fmt::Display) {
    info!(conversation, error = %error, "delivery given up");
}

/// A stable name for why a chat ended.
pub(crate) fn reason_name(reason: &EndReason) -> String {
    use switchboard_core::session::ChatEndedBy;
    match reason {
        EndReason::ChatEnded(by) => match by {
            ChatEndedBy::Agent => "ended by agent".into(),
            ChatEndedBy::Client => "ended by visitor".into(),
            ChatEndedBy::ClientIdleTimeout => "visitor idle".into(),
            ChatEndedBy::AgentsUnavailable => "no agent available".into(),
            ChatEndedBy::AgentPushTimeout => "no agent accepted".into(),
            ChatEndedBy::Other(other) => format!("ended ({other})"),
        },
        EndReason::RequestFailed(why) => format!("chat request failed ({why:?})"),
        EndReason::VisitorEnded => "ended by visitor".into(),
        EndReason::SessionInvalid => "session expired".into(),
        EndReason::ConnectionLost => "connection lost".into(),
        EndReason::InitRejected(status) => format!("chat request rejected ({status})"),
    }
}
