//! The engine's outbox changes, routed: each chat whose outbox grew is handed to its
//! conversation's owner, which takes the events in order (see `owner.rs`). A sweep every 5 s
//! (the first at once: whatever arrived while the process was down) hands every owner its live
//! chat again, so events that could not be taken are retried however busy the gateway is.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::owner::Command;
use super::{Bridge, lock};
use crate::store::ChatId;

impl Bridge {
    pub(crate) async fn route_desk_events(&self) {
        let mut changes = self.inner.engine.subscribe();
        let mut stopping = self.inner.stopping.subscribe();
        let mut sweep = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(chat) => self.route(&chat),
                    Err(RecvError::Lagged(_)) => self.sweep(),
                    Err(RecvError::Closed) => return,
                },
                _ = sweep.tick() => self.sweep(),
                _ = stopping.changed() => return,
            }
        }
    }

    fn route(&self, chat: &ChatId) {
        let Some(conversation) = chat.conversation() else {
            return;
        };
        match self.mailbox(&conversation.0) {
            Some(mailbox) => {
                let _ = mailbox.send(Command::DeskEvents(chat.clone()));
            }
            None => tracing::warn!(%chat, "events for an unknown conversation"),
        }
    }

    /// Every owner looks at its live chat's outbox again.
    fn sweep(&self) {
        for (mailbox, _) in lock(&self.inner.owners).values() {
            let _ = mailbox.send(Command::Sweep);
        }
    }
}
