//! Performing one queued action, for its conversation's [owner](super::owner): a request to the
//! desk (through the engine, which removes the action in the same unit of work that stores its
//! effect), or a delivery to the user through the channel, retried as the channel's error
//! says. The outcome goes back to the owner, which stores what it means.

use std::sync::Arc;
use std::time::Duration;

use switchboard_channels::{
    Channel, DeliveryAction, GiveUpReason, ImageSource, Outbound, TypingState, UserId,
};
use switchboard_core::conversation::{DeliveryFailure, Input as ConvInput, ToUser};
use switchboard_core::session::SessionError;
use tracing::{error, warn};

use super::Bridge;
use crate::driver::DriverError;
use crate::engine::EngineError;
use crate::store::{Action, ActionId};

/// Longest wait between delivery retries, and how long a message is retried at all.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const GIVE_UP_AFTER: Duration = Duration::from_secs(15 * 60);

/// How an action went.
#[derive(Debug)]
pub(crate) enum LaneOutcome {
    /// Done, and already removed from the queue with its effect.
    Done,
    /// Pointless now (the chat is over or already started): remove it.
    Forget(ActionId),
    /// Not taken this time: try again (the pause is already over).
    Retry,
    /// Delivered, or given up: the owner stores `input` and removes `action` with it.
    Delivered { action: ActionId, input: ConvInput },
    /// The bridge is stopping: the action stays queued for the next start.
    Interrupted,
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
                .start_chat_once(chat, start.into(), Some(key.clone()))
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
            match engine
                .visitor_once(&chat, request.into(), Some(key.clone()))
                .await
            {
                Ok(()) => LaneOutcome::Done,
                // The chat is over: the conversation hears of the end from the desk's events.
                Err(EngineError::UnknownChat(_))
                | Err(EngineError::Driver(DriverError::Session(SessionError::Ended))) => {
                    LaneOutcome::Forget(key)
                }
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
                    deliver(bridge, conversation, channel.as_ref(), &user, &message).await
                }
                None => Some(Err(DeliveryFailure::GaveUp(
                    "the channel is no longer configured".into(),
                ))),
            };
            let Some(outcome) = outcome else {
                return LaneOutcome::Interrupted;
            };
            bridge.inner.latency.observe(started.elapsed());
            let input = match outcome {
                Ok(()) => ConvInput::Delivered { id: delivery },
                Err(failure) => ConvInput::DeliveryFailed {
                    id: delivery,
                    failure,
                },
            };
            LaneOutcome::Delivered { action: key, input }
        }
    }
}

/// Delivers with retries as the channel's error says; `None` when interrupted by shutdown
/// (the action stays queued).
async fn deliver(
    bridge: &Bridge,
    conversation: &str,
    channel: &dyn Channel,
    user: &UserId,
    message: &ToUser,
) -> Option<Result<(), DeliveryFailure>> {
    let outbound = match message {
        ToUser::Text(text) => Outbound::Text(text.clone()),
        ToUser::Typing => Outbound::Typing(TypingState::On),
        ToUser::Image { url } => Outbound::Image(ImageSource::Url(url.clone())),
    };
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(500);
    let mut refreshed = false;
    loop {
        let error = match channel.deliver(user, &outbound).await {
            Ok(_) => return Some(Ok(())),
            Err(error) => error,
        };
        match error.action() {
            DeliveryAction::RetryLater if started.elapsed() < GIVE_UP_AFTER => {}
            DeliveryAction::RefreshCredentialsAndRetryOnce if !refreshed => refreshed = true,
            DeliveryAction::GiveUpAndTellAgent => {
                super::lifecycle::delivery_given_up(conversation, &error);
                return Some(Err(match error.give_up_reason() {
                    Some(GiveUpReason::WindowClosed) => DeliveryFailure::WindowClosed,
                    Some(GiveUpReason::QuotaExhausted) => DeliveryFailure::QuotaExhausted,
                    Some(_) | None => DeliveryFailure::GaveUp(error.to_string()),
                }));
            }
            DeliveryAction::AlertOperators => {
                error!(conversation, error = %error, "channel misconfigured");
                return Some(Err(DeliveryFailure::GaveUp(error.to_string())));
            }
            DeliveryAction::RetryLater | DeliveryAction::RefreshCredentialsAndRetryOnce => {
                super::lifecycle::delivery_given_up(conversation, &error);
                return Some(Err(DeliveryFailure::GaveUp(error.to_string())));
            }
        }
        warn!(conversation, error = %error, "delivery failed; retrying");
        let mut stopping = bridge.inner.stopping.subscribe();
        if *stopping.borrow() {
            // Shutting down: the action stays queued and is retried after the restart.
            return None;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stopping.changed() => return None,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
