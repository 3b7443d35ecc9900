//! One driver task per live chat, whichever desk runs it: it owns the chat's pure desk machine
//! (a Live Agent [`Session`](switchboard_core::session::Session) in `live_agent.rs`, an
//! [`EnhancedChat`](switchboard_core::enhanced::chat::EnhancedChat) in `enhanced.rs`), feeds it
//! answers, timer expiries and the conversation's requests, commits at every `Persist` (the
//! snapshot with the events before it, flushed) and only then performs what follows. No
//! protocol decision is made here.

mod enhanced;
mod live_agent;

use std::sync::Arc;

use switchboard_core::desk::DeskRequest;
use switchboard_core::enhanced::chat::EnhancedError;
use switchboard_core::session::{SessionError, VisitorAction};
use tokio::sync::oneshot;
use tracing::debug;

pub(crate) use enhanced::EnhancedDriver;
pub(crate) use enhanced::state_of;
pub(crate) use live_agent::Driver;

use crate::clock;
use crate::enhanced_client::EnhancedClient;
use crate::liveagent_client::LiveAgentClient;
use crate::store::{ActionId, ChatId, DeskSnapshot, OutboxEvent, SessionRecord, Store, StoreError};

/// What the driver can be asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// A Live Agent visitor action; answered once it is durable (or refused). The optional key
    /// is removed from the bridge's action queue in the same unit of work that stores the
    /// action's effect.
    Visitor(
        VisitorAction,
        Option<ActionId>,
        oneshot::Sender<Result<(), DriverError>>,
    ),
    /// A request in the desk vocabulary, for whichever desk runs the chat; answered the same
    /// way.
    Desk(
        DeskRequest,
        Option<ActionId>,
        oneshot::Sender<Result<(), DriverError>>,
    ),
    /// Stop: cancel requests, keep the stored state (the chat lives on at the desk).
    Stop,
}

/// Why a driver could not take a command or had to stop.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DriverError {
    /// The Live Agent session refused the action (it has ended or is ending).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The Enhanced Chat conversation refused the request (it has ended or is closing).
    #[error(transparent)]
    Enhanced(#[from] EnhancedError),
    /// The action has no meaning at this chat's desk.
    #[error("this chat's desk does not take that action")]
    Unsupported,
    /// The state could not be made durable; the driver stopped without sending anything more.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The driver is no longer running.
    #[error("the session's driver has stopped")]
    Stopped,
}

impl DriverError {
    /// Whether the chat is over at its desk (a request to it is pointless, not failed).
    pub fn chat_is_over(&self) -> bool {
        matches!(
            self,
            DriverError::Session(SessionError::Ended) | DriverError::Enhanced(EnhancedError::Ended)
        )
    }
}

/// What every driver shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    /// The Live Agent client, when that desk is configured.
    pub(crate) client: Option<LiveAgentClient>,
    /// The Enhanced Chat client, when that desk is configured.
    pub(crate) enhanced: Option<EnhancedClient>,
    /// Told the chat id whenever a chat's outbox grows.
    pub(crate) outbox_changed: tokio::sync::broadcast::Sender<ChatId>,
    pub(crate) metrics: crate::metrics::Metrics,
    /// Whether this process may still send requests for a chat's shard.
    pub(crate) gate: crate::gate::Gate,
}

/// Commits `snapshot` with the `events` gathered since the last commit (numbered from
/// `next_event`) and removes `done` in the same unit, flushes, then tells the bridge if the
/// outbox grew. Only once committed are the events and the done marker spent.
pub(crate) async fn commit(
    shared: &Shared,
    chat: &ChatId,
    snapshot: DeskSnapshot,
    next_event: &mut u64,
    events: &mut Vec<OutboxEvent>,
    done: &mut Option<ActionId>,
) -> Result<(), StoreError> {
    let next = *next_event + events.len() as u64;
    let record = SessionRecord {
        snapshot,
        next_event: next,
    };
    shared
        .store
        .commit_session(chat, &record, events, done.as_ref())?;
    let grew = !events.is_empty();
    events.clear();
    *next_event = next;
    *done = None;
    shared.store.flush().await?;
    shared.metrics.persisted();
    if grew {
        debug!("events stored");
        let _ = shared.outbox_changed.send(chat.clone());
    }
    Ok(())
}

/// Answers a request once the commit it caused is known: `Ok` when durable; on a store failure
/// the requester hears it and the driver stops (nothing may go out without durable state).
pub(crate) fn answer(
    reply: oneshot::Sender<Result<(), DriverError>>,
    drained: Result<(), StoreError>,
) -> Result<(), DriverError> {
    match drained {
        Ok(()) => {
            let _ = reply.send(Ok(()));
            Ok(())
        }
        Err(e) => {
            let _ = reply.send(Err(DriverError::from(e.clone())));
            Err(e.into())
        }
    }
}

async fn sleep_until(at: Option<switchboard_core::time::Timestamp>) {
    match at {
        Some(at) => tokio::time::sleep(clock::until(at)).await,
        None => std::future::pending().await,
    }
}
