//! Performing one queued action, for its conversation's [owner](super::owner): a request to the
//! desk (through the engine, which removes the action in the same unit of work that stores its
//! effect), or one attempt at a delivery to the user through the channel, its failure named as
//! the channel's error says. The outcome goes back to the owner, which stores what it means; the
//! conversation decides what a failed attempt leads to (another one later, or giving up).

use std::sync::Arc;
use std::time::Duration;

use switchboard_channels::{
    Channel, DeliveryAction, GiveUpReason, ImageSource, Outbound, TypingState, UserId,
};
use switchboard_core::conversation::{DeliveryFailure, Input as ConvInput, ToUser};
use tracing::{error, warn};

use super::Bridge;
use crate::engine::EngineError;
use crate::store::{Action, ActionId};

/// How an action went.
#[derive(Debug)]
pub(crate) enum LaneOutcome {
    /// Done, and already removed from the queue with its effect.
    Done,
    /// Pointless now (the chat is over or already started): remove it.
    Forget(ActionId),
    /// Not taken this time: try again (the pause is already over).
    Retry,
    /// One attempt at a send, delivered or not: the owner stores `input` and, unless the
    /// conversation answers with a retry, removes `action` with it.
    Attempted { action: ActionId, input: ConvInput },
}

/// Performs `action` of `conversation`, whose user `recipient` is on a channel (`None` when the
/// channel is no longer configured).
pub(crate) async fn perform(
    bridge: &Bridge,
    conversation: &str,
    recipient: Option<(Arc<dyn Channel>, UserId)>,
    key: ActionId,
    action: Action,
) -> LaneOutcome {
    let engine = &bridge.inner.engine;
    match action {
        Action::StartChat(chat, start) => {
            match engine
                .start_desk_chat_once(chat, start, Some(key.clone()))
                .await
            {
                // Started (the action left the queue with the new session).
                Ok(()) => LaneOutcome::Done,
                // An earlier run of this action already did.
                Err(EngineError::AlreadyLive(_)) => LaneOutcome::Forget(key),
                Err(e) => {
                    warn!(conversation, error = %e, "chat not started; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    LaneOutcome::Retry
                }
            }
        }
        Action::Desk(chat, request) => {
            match engine.desk_once(&chat, request, Some(key.clone())).await {
                Ok(()) => LaneOutcome::Done,
                // The chat is over: the conversation hears of the end from the desk's events.
                Err(EngineError::UnknownChat(_)) => LaneOutcome::Forget(key),
                Err(EngineError::Driver(e)) if e.chat_is_over() => LaneOutcome::Forget(key),
                Err(e) => {
                    warn!(conversation, error = %e, "desk request not taken; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    LaneOutcome::Retry
                }
            }
        }
        Action::Send(delivery, message) => {
            let started = tokio::time::Instant::now();
            let outcome = match recipient {
                Some((channel, user)) => {
                    deliver(conversation, channel.as_ref(), &user, &message).await
                }
                None => Err(DeliveryFailure::GaveUp(
                    "the channel is no longer configured".into(),
                )),
            };
            bridge.inner.latency.observe(started.elapsed());
            let input = match outcome {
                Ok(()) => ConvInput::Delivered { id: delivery },
                Err(failure) => ConvInput::DeliveryFailed {
                    id: delivery,
                    failure,
                },
            };
            LaneOutcome::Attempted { action: key, input }
        }
    }
}

/// One attempt at delivering `message`; a failure says what the channel's error means, and the
/// conversation decides whether and when to try again.
async fn deliver(
    conversation: &str,
    channel: &dyn Channel,
    user: &UserId,
    message: &ToUser,
) -> Result<(), DeliveryFailure> {
    let outbound = match message {
        ToUser::Text(text) => Outbound::Text(text.clone()),
        ToUser::Typing => Outbound::Typing(TypingState::On),
        ToUser::Image { url } => Outbound::Image(ImageSource::Url(url.clone())),
    };
    let error = match channel.deliver(user, &outbound).await {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    Err(match error.action() {
        DeliveryAction::RetryLater => {
            warn!(conversation, error = %error, "delivery failed for now");
            DeliveryFailure::Transient {
                reason: error.to_string(),
                after: error.retry_after(),
            }
        }
        DeliveryAction::RefreshCredentialsAndRetryOnce => {
            warn!(conversation, error = %error, "delivery refused the credentials");
            DeliveryFailure::CredentialsRenewed(error.to_string())
        }
        DeliveryAction::GiveUpAndTellAgent => {
            super::lifecycle::delivery_given_up(conversation, &error);
            match error.give_up_reason() {
                Some(GiveUpReason::WindowClosed) => DeliveryFailure::WindowClosed,
                Some(GiveUpReason::QuotaExhausted) => DeliveryFailure::QuotaExhausted,
                Some(_) | None => DeliveryFailure::GaveUp(error.to_string()),
            }
        }
        DeliveryAction::AlertOperators => {
            error!(conversation, error = %error, "channel misconfigured");
            DeliveryFailure::GaveUp(error.to_string())
        }
    })
}
