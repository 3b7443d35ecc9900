//! One `info` line per step of a chat's life — requested, queued (the first report only),
//! agent joined, transferred, ended with the reason, a delivery given up with the channel's
//! error — each with the conversation id and never a message text, key or token.

use switchboard_core::desk::DeskEvent;
use tracing::info;

use crate::store::ChatId;

/// The conversation asked for a chat.
pub(crate) fn chat_requested(conversation: &str, chat: &ChatId) {
    info!(conversation, %chat, "chat requested");
}

/// A desk event is about to reach the conversation; `queue_known`: a queue report already
/// reached it in this wait (later position changes are not logged).
pub(crate) fn desk_event(conversation: &str, chat: &ChatId, event: &DeskEvent, queue_known: bool) {
    match event {
        DeskEvent::Queued { position, .. } if !queue_known => {
            // Desks count from 0; people from 1.
            let position = position.map(|p| p + 1);
            info!(conversation, %chat, position, "chat queued");
        }
        DeskEvent::AgentJoined(agent) => {
            info!(conversation, %chat, agent = agent.id, "agent joined");
        }
        DeskEvent::Transferred(agent) => {
            info!(conversation, %chat, agent = agent.id, "chat transferred");
        }
        DeskEvent::Ended { reason, unsent } => {
            info!(
                conversation,
                %chat,
                reason = reason.name(),
                unsent = unsent.len(),
                "chat ended"
            );
        }
        DeskEvent::Queued { .. }
        | DeskEvent::AgentText(_)
        | DeskEvent::AgentTyping(_)
        | DeskEvent::FileRequested
        | DeskEvent::FileRequestDone => {}
    }
}

/// A message to the user was given up; `error` is the channel's (it carries its error code and
/// no message text).
pub(crate) fn delivery_given_up(conversation: &str, error: &dyn std::fmt::Display) {
    info!(conversation, error = %error, "delivery given up");
}
