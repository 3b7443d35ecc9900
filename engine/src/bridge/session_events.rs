//! Session events into conversations: read each chat's outbox in order, let the conversation
//! store what the events cause, then acknowledge them — skipping any already taken, so a crash
//! between the two never repeats an event to the user.

use std::time::Duration;

use switchboard_core::conversation::Input as ConvInput;
use switchboard_core::session::desk::desk_event;
use tokio::sync::broadcast::error::RecvError;
use tracing::{error, warn};

use super::{Bridge, lock};
use crate::store::{ChatId, ConversationId, Lane};

impl Bridge {
    pub(crate) async fn take_session_events(&self) {
        let mut changes = self.inner.engine.subscribe();
        let mut stopping = self.inner.stopping.subscribe();
        // A sweep every 5 s (the first at once: whatever arrived while the process was down)
        // retries chats whose events could not be taken, however busy the gateway is.
        let mut sweep = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(chat) => self.take(&chat).await,
                    Err(RecvError::Lagged(_)) => self.take_all().await,
                    Err(RecvError::Closed) => return,
                },
                _ = sweep.tick() => self.take_all().await,
                _ = stopping.changed() => return,
            }
        }
    }

    async fn take_all(&self) {
        let chats: Vec<ChatId> = {
            let entries: Vec<_> = lock(&self.inner.entries).values().cloned().collect();
            let mut chats = Vec::new();
            for entry in entries {
                if let Some(chat) = entry.lock().await.record.live_chat.clone() {
                    chats.push(chat);
                }
            }
            chats
        };
        for chat in chats {
            self.take(&chat).await;
        }
    }

    async fn take(&self, chat: &ChatId) {
        let Some(ConversationId(id)) = chat.conversation() else {
            return;
        };
        let Some(entry) = self.entry(&id) else {
            warn!(%chat, "events for an unknown conversation");
            return;
        };
        let outbox = match self.inner.engine.outbox(chat) {
            Ok(outbox) => outbox,
            Err(e) => return error!(%chat, error = %e, "outbox unreadable"),
        };
        if outbox.is_empty() {
            return;
        }
        let mut entry = entry.lock().await;
        let mut last = None;
        for item in outbox {
            let already =
                matches!(&entry.record.taken, Some((c, seq)) if c == chat && *seq >= item.seq);
            if !already {
                // Events that change nothing for the conversation are taken all the same.
                let input = desk_event(item.event).map(|event| {
                    let queue_known = entry.conversation.queue_reported();
                    super::lifecycle::desk_event(&id, chat, &event, queue_known);
                    ConvInput::Desk(event)
                });
                let previous = entry.record.taken.replace((chat.clone(), item.seq));
                if let Err(e) = self.apply(&id, &mut entry, input, None, None) {
                    entry.record.taken = previous;
                    error!(%chat, error = %e, "session event not stored");
                    return;
                }
            }
            last = Some(item.seq);
        }
        drop(entry);
        if self.inner.store.flush().await.is_err() {
            return;
        }
        if let Some(seq) = last
            && let Err(e) = self.inner.engine.ack(chat, seq)
        {
            error!(%chat, error = %e, "outbox not acknowledged");
        }
        if let Err(e) = self.inner.engine.forget_ended(chat) {
            warn!(%chat, error = %e, "ended chat not removed");
        }
        self.wake(&id, Lane::Session);
        self.wake(&id, Lane::User);
    }
}
