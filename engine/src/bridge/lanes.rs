//! The two workers of a conversation: one hands actions to the engine's session (towards the
//! agent), one delivers to the user through the channel, each strictly in order, each
//! removing an action only together with its effect.

use std::time::Duration;

use switchboard_channels::{
    DeliveryAction, GiveUpReason, ImageSource, Outbound, TypingState, UserId,
};
use switchboard_core::conversation::{DeliveryFailure, Input as ConvInput, ToUser};
use switchboard_core::session::SessionError;
use tracing::{error, warn};

use super::{Bridge, lock};
use crate::driver::DriverError;
use crate::engine::EngineError;
use crate::store::{Action, ActionId, ConversationId, Lane};

/// Longest wait between delivery retries, and how long a message is retried at all.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const GIVE_UP_AFTER: Duration = Duration::from_secs(15 * 60);

impl Bridge {
    /// Makes sure a worker runs for this conversation's lane.
    pub(crate) fn wake(&self, id: &str, lane: Lane) {
        let key = (id.to_owned(), lane);
        if !lock(&self.inner.running).insert(key.clone()) {
            return;
        }
        let bridge = self.clone();
        tokio::spawn(async move { bridge.work(key.0, lane).await });
    }

    async fn work(&self, id: String, lane: Lane) {
        let conversation = ConversationId(id.clone());
        loop {
            if *self.inner.stopping.borrow() {
                lock(&self.inner.running).remove(&(id.clone(), lane));
                return;
            }
            let (action_id, action) = match self.inner.store.first_action(&conversation, lane) {
                Ok(Some(next)) => next,
                Ok(None) => {
                    // Re-check under the lock so a wake between the read and here is not lost.
                    let mut running = lock(&self.inner.running);
                    if let Ok(None) = self.inner.store.first_action(&conversation, lane) {
                        running.remove(&(id.clone(), lane));
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    error!(conversation = id, error = %e, "action queue unreadable");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.perform(&id, action_id, action).await;
        }
    }

    async fn perform(&self, id: &str, key: ActionId, action: Action) {
        match action {
            Action::StartChat(chat, start) => {
                let started = self
                    .inner
                    .engine
                    .start_chat_once(chat, start.into(), Some(key.clone()))
                    .await;
                match started {
                    // Started (the action left the queue with the new session), or an earlier
                    // run of this action already did.
                    Ok(()) => {}
                    Err(EngineError::AlreadyLive(_)) => self.forget(&key).await,
                    Err(e) => {
                        warn!(conversation = id, error = %e, "chat not started; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            Action::Desk(chat, request) => {
                let result = self
                    .inner
                    .engine
                    .visitor_once(&chat, request.into(), Some(key.clone()))
                    .await;
                match result {
                    Ok(())
                    | Err(EngineError::UnknownChat(_))
                    | Err(EngineError::Driver(DriverError::Session(SessionError::Ended))) => {
                        // Done, or the chat is over (the conversation hears of the end from
                        // the session's events).
                        self.forget(&key).await;
                    }
                    Err(e) => {
                        warn!(conversation = id, error = %e, "visitor action not taken; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            Action::Send(delivery, message) => {
                let started = tokio::time::Instant::now();
                let Some(outcome) = self.deliver(id, &message).await else {
                    return;
                };
                self.inner.latency.observe(started.elapsed());
                let input = match outcome {
                    Ok(()) => ConvInput::Delivered { id: delivery },
                    Err(failure) => ConvInput::DeliveryFailed {
                        id: delivery,
                        failure,
                    },
                };
                let Some(entry) = self.entry(id) else {
                    return self.forget(&key).await;
                };
                let mut entry = entry.lock().await;
                let applied = self.apply(id, &mut entry, Some(input), None, Some(key));
                drop(entry);
                match applied {
                    Ok(()) => {
                        let _ = self.inner.store.flush().await;
                        self.wake(id, Lane::Session);
                    }
                    Err(e) => error!(conversation = id, error = %e, "delivery outcome not stored"),
                }
            }
        }
    }

    /// Delivers with retries as the channel's error says; `None` when interrupted by shutdown
    /// (the action stays queued).
    async fn deliver(&self, id: &str, message: &ToUser) -> Option<Result<(), DeliveryFailure>> {
        let (channel, user) = {
            let Some(entry) = self.entry(id) else {
                return Some(Err(DeliveryFailure::GaveUp("conversation gone".into())));
            };
            let entry = entry.lock().await;
            (
                entry.record.channel.clone(),
                UserId::new(entry.record.user.clone()),
            )
        };
        let Some(channel) = self.inner.channels.get(&channel).map(|c| c.adapter.clone()) else {
            return Some(Err(DeliveryFailure::GaveUp(format!(
                "channel {channel} is not configured"
            ))));
        };
        let outbound = match message {
            ToUser::Text(text) => Outbound::Text(text.clone()),
            ToUser::Typing => Outbound::Typing(TypingState::On),
            ToUser::Image { url } => Outbound::Image(ImageSource::Url(url.clone())),
        };
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(500);
        let mut refreshed = false;
        loop {
            let error = match channel.deliver(&user, &outbound).await {
                Ok(_) => return Some(Ok(())),
                Err(error) => error,
            };
            match error.action() {
                DeliveryAction::RetryLater if started.elapsed() < GIVE_UP_AFTER => {}
                DeliveryAction::RefreshCredentialsAndRetryOnce if !refreshed => refreshed = true,
                DeliveryAction::GiveUpAndTellAgent => {
                    super::lifecycle::delivery_given_up(id, &error);
                    return Some(Err(match error.give_up_reason() {
                        Some(GiveUpReason::WindowClosed) => DeliveryFailure::WindowClosed,
                        Some(GiveUpReason::QuotaExhausted) => DeliveryFailure::QuotaExhausted,
                        Some(_) | None => DeliveryFailure::GaveUp(error.to_string()),
                    }));
                }
                DeliveryAction::AlertOperators => {
                    error!(conversation = id, error = %error, "channel misconfigured");
                    return Some(Err(DeliveryFailure::GaveUp(error.to_string())));
                }
                DeliveryAction::RetryLater | DeliveryAction::RefreshCredentialsAndRetryOnce => {
                    super::lifecycle::delivery_given_up(id, &error);
                    return Some(Err(DeliveryFailure::GaveUp(error.to_string())));
                }
            }
            warn!(conversation = id, error = %error, "delivery failed; retrying");
            let mut stopping = self.inner.stopping.subscribe();
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

    async fn forget(&self, key: &ActionId) {
        if let Err(e) = self.inner.store.remove_action(key) {
            error!(error = %e, "action not removed");
        }
        let _ = self.inner.store.flush().await;
    }
}
