//! Several instances on one database: each serves the conversations of the shards it holds.
//! Taking a shard up starts an owner for each of its stored conversations; giving it up stops
//! them (each finishes the step it is on; what is queued stays stored for the next owner). A
//! push for a conversation of a shard held elsewhere is stored for that shard's owner through
//! the [`Forwarder`] — durably and once, by its dedupe key — and answered; the owner takes it
//! in like a push of its own ([`Bridge::take_forwarded`]), where the conversation's own dedupe
//! drops a repeat.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use switchboard_core::conversation::UserMessage;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::owner::{Command, Owner, Pushed};
use super::{Bridge, BridgeError, lock};
use crate::store::{ConversationId, StoreError, WebhookKey};

/// A push for a conversation whose shard another instance holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardedPush {
    /// The channel id.
    pub channel: String,
    /// The user's id on it.
    pub user: String,
    /// The user's name, when the platform gave one.
    pub name: Option<String>,
    /// What the conversation makes of it (`None`: a kind this build does not know).
    pub message: Option<UserMessage>,
    /// Its dedupe key.
    pub key: WebhookKey,
}

impl ForwardedPush {
    /// The conversation it is for.
    pub fn conversation(&self) -> ConversationId {
        ConversationId::of(&self.channel, &self.user)
    }
}

/// Which shards this instance serves, and where the pushes for the others go.
#[async_trait]
pub trait Forwarder: Send + Sync + 'static {
    /// Whether this instance serves the conversations of `shard` now.
    fn serves(&self, shard: u16) -> bool;

    /// Stores `push` for its shard's owner, durably; `false` if a push with its key was stored
    /// before (a redelivery).
    async fn forward(&self, push: &ForwardedPush) -> Result<bool, StoreError>;

    /// Whether this instance may act for `shard` now: it serves it and its lease is sure.
    fn allows(&self, shard: u16) -> bool;
}

impl Bridge {
    /// Whether the conversation `id` is served by another instance (its push is forwarded).
    pub(super) fn served_elsewhere(&self, id: &ConversationId) -> bool {
        self.inner
            .forwarder
            .as_ref()
            .is_some_and(|f| !f.serves(id.shard()))
    }

    /// Whether the owner of `id` may perform its actions now.
    pub(super) fn may_act(&self, id: &ConversationId) -> bool {
        self.inner
            .forwarder
            .as_ref()
            .is_none_or(|f| f.allows(id.shard()))
    }

    /// Stores a push for another instance's conversation; `true` if it was new.
    pub(super) async fn forward(&self, push: &ForwardedPush) -> Result<bool, BridgeError> {
        match &self.inner.forwarder {
            Some(forwarder) => Ok(forwarder.forward(push).await?),
            None => Err(BridgeError::Stopped),
        }
    }

    /// Starts an owner for every stored conversation of `shard` that has none; how many.
    pub fn adopt_shard(&self, shard: u16) -> Result<usize, BridgeError> {
        let mut started = 0;
        for (id, record) in self.inner.store.load_conversations()? {
            if id.shard() != shard {
                continue;
            }
            let mut owners = lock(&self.inner.owners);
            if owners.contains_key(&id.0) {
                continue;
            }
            let (mailbox, commands) = mpsc::unbounded_channel();
            let owner = Owner::restored(self.clone(), id.clone(), record);
            owners.insert(id.0, (mailbox, tokio::spawn(owner.run(commands))));
            started += 1;
        }
        Ok(started)
    }

    /// Stops the owners of `shard`'s conversations, waiting (up to 10 s) for each to finish
    /// the step it is on.
    pub async fn release_shard(&self, shard: u16) {
        let stopping: Vec<JoinHandle<()>> = {
            let mut owners = lock(&self.inner.owners);
            let ids: Vec<String> = owners
                .keys()
                .filter(|id| ConversationId((*id).clone()).shard() == shard)
                .cloned()
                .collect();
            ids.into_iter()
                .filter_map(|id| owners.remove(&id))
                .map(|(mailbox, task)| {
                    let _ = mailbox.send(Command::Stop);
                    task
                })
                .collect()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for task in stopping {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Takes in a push another instance stored for a conversation served here; `true` if it
    /// was new (not a repeat of one taken in before).
    pub async fn take_forwarded(&self, push: ForwardedPush) -> Result<bool, BridgeError> {
        let mailbox = self.mailbox_or_new(&push.channel, &push.user, push.name.as_deref())?;
        let (reply, pushed) = oneshot::channel();
        mailbox
            .send(Command::Push {
                message: push.message,
                key: push.key,
                reply,
            })
            .map_err(|_| BridgeError::Stopped)?;
        Ok(pushed.await.map_err(|_| BridgeError::Stopped)?? == Pushed::Accepted)
    }
}
