//! Webhooks on the push log ([`Intake::Logged`](super::Intake)): each new event is appended
//! to the log, the platform is answered once all are durable, and the log hands each event
//! to its owner in log order (so one user's pushes keep theirs), which takes it in after the
//! answer. At start, what a previous run logged goes to the owners again.
//!
//! Repeats: a push whose key the store has seen is safe already (its first copy was logged
//! before any owner took it in). A repeat that comes while its first copy is still on its way
//! (WeChat retries within seconds, sometimes several at once) finds that copy in
//! [`InFlight`]: it waits for the copy's write and gets the same answer, so it is neither
//! logged twice nor answered "safe" before it is.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;

use switchboard_channels::InboundEvent;
use tokio::sync::oneshot;
use tracing::warn;

use super::inbound::push_of;
use super::owner::Command;
use super::{Bridge, BridgeError, ForwardedPush, lock};
use crate::store::push_log::{PushLog, Recovered, Ticket};
use crate::store::{WebhookKey, decode, envelope};

type Waiters = Vec<oneshot::Sender<Result<(), BridgeError>>>;

/// Keys logged (or being logged) whose owner has not taken them in yet.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    keys: Mutex<HashMap<WebhookKey, Copy>>,
}

#[derive(Debug)]
enum Copy {
    /// Being written: repeats wait for the outcome.
    Writing(Waiters),
    /// Durable in the log; its owner will take it in.
    Logged,
}

/// What the first sight of a key decides.
enum Sight {
    /// The key is new here: log this copy.
    First,
    /// A repeat of a durable copy.
    Repeat,
    /// A repeat of a copy being written: its outcome will come.
    Behind(oneshot::Receiver<Result<(), BridgeError>>),
}

impl Bridge {
    /// Logs each new event of a webhook and waits until all are durable (see the module).
    pub(super) async fn log(
        &self,
        log: &PushLog,
        channel_id: &str,
        events: &[InboundEvent],
        accepted: &mut usize,
        duplicates: &mut usize,
    ) -> Result<(), BridgeError> {
        let mut writes = Vec::with_capacity(events.len());
        let mut behind = Vec::new();
        for event in events {
            let key = WebhookKey::of(channel_id, &event.dedupe_key.0);
            match self.sight(&key)? {
                Sight::Repeat => *duplicates += 1,
                Sight::Behind(wait) => behind.push(wait),
                Sight::First => writes.push(self.append(log, push_of(channel_id, event, key))),
            }
        }
        for wait in writes {
            wait.await.map_err(|_| BridgeError::Stopped)??;
            *accepted += 1;
        }
        for wait in behind {
            wait.await.map_err(|_| BridgeError::Stopped)??;
            *duplicates += 1;
        }
        Ok(())
    }

    /// Whether `key` is new, a repeat of a durable push, or behind a copy being written.
    /// Looked up under the in-flight lock, which an owner takes after storing a key and
    /// before forgetting it here: a key gone from the map is in the store.
    fn sight(&self, key: &WebhookKey) -> Result<Sight, BridgeError> {
        let mut keys = lock(&self.inner.in_flight.keys);
        Ok(match keys.entry(key.clone()) {
            Entry::Occupied(mut copy) => match copy.get_mut() {
                Copy::Logged => Sight::Repeat,
                Copy::Writing(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    Sight::Behind(rx)
                }
            },
            Entry::Vacant(vacant) => {
                if self.inner.store.webhook_seen(key)? {
                    Sight::Repeat
                } else {
                    vacant.insert(Copy::Writing(Vec::new()));
                    Sight::First
                }
            }
        })
    }

    /// Appends `push`; the answer comes once it is durable and with its owner.
    fn append(
        &self,
        log: &PushLog,
        push: ForwardedPush,
    ) -> oneshot::Receiver<Result<(), BridgeError>> {
        let (answer, wait) = oneshot::channel();
        let body = match envelope::encode(&push) {
            Ok(body) => body,
            Err(e) => {
                self.written(&push.key, Err(e.clone().into()));
                let _ = answer.send(Err(e.into()));
                return wait;
            }
        };
        let bridge = self.clone();
        log.append(
            body,
            Box::new(move |durable| {
                let key = push.key.clone();
                // Known as logged before its owner can take it in and forget it.
                bridge.written(
                    &key,
                    durable.as_ref().map(drop).map_err(|e| e.clone().into()),
                );
                let handed = durable
                    .map_err(BridgeError::from)
                    .and_then(|ticket| bridge.hand_logged(push, ticket));
                if handed.is_err() {
                    bridge.taken_in(&key);
                }
                let _ = answer.send(handed);
            }),
        );
        wait
    }

    /// The write of `key`'s first copy ended: repeats behind it hear the outcome; a durable
    /// copy stays known until its owner has taken it in.
    fn written(&self, key: &WebhookKey, outcome: Result<(), BridgeError>) {
        let mut keys = lock(&self.inner.in_flight.keys);
        let waiters = match outcome {
            Ok(()) => keys.insert(key.clone(), Copy::Logged),
            Err(_) => keys.remove(key),
        };
        if let Some(Copy::Writing(waiters)) = waiters {
            for waiter in waiters {
                let _ = waiter.send(outcome.clone());
            }
        }
    }

    /// An owner has stored `key` (or dropped it as a repeat, or failed and left it logged).
    pub(super) fn taken_in(&self, key: &WebhookKey) {
        lock(&self.inner.in_flight.keys).remove(key);
    }

    /// Gives a logged push to its owner (started if the user is new). Should that fail, the
    /// dropped ticket keeps the push in the log for the next start.
    fn hand_logged(&self, push: ForwardedPush, ticket: Ticket) -> Result<(), BridgeError> {
        let mailbox = self.mailbox_or_new(&push.channel, &push.user, push.name.as_deref())?;
        mailbox
            .send(Command::Logged {
                message: push.message,
                key: push.key,
                ticket,
            })
            .map_err(|_| BridgeError::Stopped)
    }

    /// At start: the pushes a previous run logged go to their owners again, oldest first
    /// (those already stored are repeats by their keys).
    pub(super) fn take_recovered(&self, recovered: Vec<Recovered>) {
        if recovered.is_empty() {
            return;
        }
        tracing::info!(
            pushes = recovered.len(),
            "taking in the pushes left in the push log"
        );
        for Recovered { body, ticket } in recovered {
            match decode::forwarded_push(&body) {
                Ok(push) => {
                    let key = push.key.clone();
                    lock(&self.inner.in_flight.keys).insert(key.clone(), Copy::Logged);
                    if let Err(e) = self.hand_logged(push, ticket) {
                        self.taken_in(&key);
                        warn!(error = %e, "a logged push was not taken in; it stays logged");
                    }
                }
                Err(e) => warn!(error = %e, "a logged push does not decode; it stays logged"),
            }
        }
    }
}
