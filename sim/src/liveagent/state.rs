//! What the listener, the hold tasks and the control handle share: the reference server, the
//! registry of held polls, the clock and the change signals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_core::liveagent::LiveAgentRequest;
use switchboard_core::model::server::{ReferenceServer, Reply};
use switchboard_core::time::Timestamp;
use tokio::sync::{Notify, watch};

use super::clock::SimClock;
use super::console::Transcripts;

/// A held poll as the registry knows it. A newer hold on the same session replaces it (only
/// possible after the model closed the older one, e.g. by ReconnectSession).
#[derive(Debug)]
pub(crate) struct HeldPoll {
    pub(crate) generation: u64,
    pub(crate) wake: Arc<Notify>,
}

/// The model and the held polls, behind one lock so that "the model says hold" and "the hold
/// is registered" happen together.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) server: ReferenceServer,
    pub(crate) holds: HashMap<String, HeldPoll>,
    /// Both sides' texts in order, for the console.
    pub(crate) transcripts: Transcripts,
    next_generation: u64,
}

/// A poll the model told us to hold, registered and ready to wait on.
#[derive(Debug)]
pub(crate) struct HoldTicket {
    pub(crate) session_id: String,
    pub(crate) generation: u64,
    pub(crate) wake: Arc<Notify>,
}

/// The answer to one visitor request.
#[derive(Debug)]
pub(crate) enum Answer {
    Now { status: u16, body: String },
    Hold(HoldTicket),
}

impl State {
    /// Whether `generation` is still the registered hold of `session_id`.
    pub(crate) fn is_current(&self, session_id: &str, generation: u64) -> bool {
        self.holds
            .get(session_id)
            .is_some_and(|h| h.generation == generation)
    }

    /// Forgets a hold if it is still the registered one.
    pub(crate) fn forget(&mut self, session_id: &str, generation: u64) {
        if self.is_current(session_id, generation) {
            self.holds.remove(session_id);
        }
    }

    fn register(&mut self, session_id: String) -> HoldTicket {
        self.next_generation += 1;
        let generation = self.next_generation;
        let wake = Arc::new(Notify::new());
        let held = HeldPoll {
            generation,
            wake: wake.clone(),
        };
        if let Some(older) = self.holds.insert(session_id.clone(), held) {
            // The older holder sees it is no longer current and answers at once.
            older.wake.notify_waiters();
        }
        HoldTicket {
            session_id,
            generation,
            wake,
        }
    }
}

/// Everything the simulator's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) clock: SimClock,
    pub(crate) hold: Duration,
    /// Bumped after every change, for the control handle's waiting helpers.
    pub(crate) changes: watch::Sender<u64>,
    /// Turns true when the simulator shuts down: holds answer, connections close.
    pub(crate) stopping: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(server: ReferenceServer, hold: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                server,
                holds: HashMap::new(),
                transcripts: Transcripts::default(),
                next_generation: 0,
            }),
            clock: SimClock::start(),
            hold,
            changes: watch::Sender::new(0),
            stopping: watch::Sender::new(false),
        }
    }

    /// Resolves once the simulator is shutting down.
    pub(crate) async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|stop| *stop).await;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the state without changing it.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Changes the state, then wakes the held polls of every session the model reports and
    /// everyone waiting for a change.
    pub(crate) fn mutate<T>(&self, f: impl FnOnce(&mut State, Timestamp) -> T) -> T {
        let mut guard = self.lock();
        let now = self.clock.now();
        let out = f(&mut guard, now);
        let state = &mut *guard;
        let woken = state.server.take_wakeups();
        for id in &woken {
            if let Some(session) = state.server.session(id) {
                state.transcripts.sync(session);
            }
        }
        let wakes: Vec<Arc<Notify>> = woken
            .iter()
            .filter_map(|id| state.holds.get(id).map(|h| h.wake.clone()))
            .collect();
        drop(guard);
        for wake in wakes {
            wake.notify_waiters();
        }
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        out
    }

    /// Brings every transcript up to date, forgets those of deleted sessions, then reads.
    pub(crate) fn read_transcripts<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        let mut guard = self.lock();
        let state = &mut *guard;
        for session in state.server.sessions() {
            state.transcripts.sync(session);
        }
        let server = &state.server;
        state.transcripts.retain(|id| server.session(id).is_some());
        f(state)
    }

    /// Hands one visitor request to the model; a poll to hold is registered under the same
    /// lock.
    pub(crate) fn handle(&self, request: &LiveAgentRequest) -> Answer {
        self.mutate(|state, now| match state.server.handle(request, now) {
            Reply::Respond { status, body } => Answer::Now { status, body },
            Reply::Hold { session_id } => Answer::Hold(state.register(session_id)),
        })
    }
}
