//! What the listener, the stream tasks, the routing ticker and the agent handle share: the
//! reference server and the registry of open streams behind one lock, the clock, and the
//! change and stop signals.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use switchboard_core::model::enhanced::EnhancedServer;
use switchboard_core::time::Timestamp;
use tokio::sync::{mpsc, watch};

use super::clock::SimClock;
use super::config::EnhancedSimConfig;

/// How a stream is cut by [`EnhancedAgent::drop_streams`](super::EnhancedAgent::drop_streams).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropMode {
    /// The response ends cleanly (the last chunk is sent).
    Clean,
    /// The connection is cut without ending the response.
    Abort,
    /// Half an event frame is sent, then the connection is cut.
    MidFrame,
}

/// Orders to a running stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamCommand {
    Drop(DropMode),
    /// Stop (true) or resume (false) sending events and pings.
    Stall(bool),
}

/// An open stream as the registry knows it.
#[derive(Debug)]
pub(crate) struct StreamEntry {
    pub(crate) subject: String,
    pub(crate) opened_at: Timestamp,
    pub(crate) stalled: bool,
    pub(crate) commands: mpsc::UnboundedSender<StreamCommand>,
}

/// The model and the open streams.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) server: EnhancedServer,
    pub(crate) streams: BTreeMap<u64, StreamEntry>,
    next_stream: u64,
    /// Every event goes out twice on the stream, the repeat under the same id.
    pub(crate) repeat_events: bool,
}

impl State {
    pub(crate) fn register(&mut self, entry: StreamEntry) -> u64 {
        self.next_stream += 1;
        self.streams.insert(self.next_stream, entry);
        self.next_stream
    }

    /// Sends `command` to every open stream of `subject`; returns how many.
    pub(crate) fn command(&mut self, subject: &str, command: StreamCommand) -> usize {
        let mut count = 0;
        for entry in self.streams.values_mut().filter(|e| e.subject == subject) {
            if entry.commands.send(command).is_ok() {
                count += 1;
                if let StreamCommand::Stall(stalled) = command {
                    entry.stalled = stalled;
                }
            }
        }
        count
    }
}

/// Everything the simulator's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) clock: SimClock,
    pub(crate) config: EnhancedSimConfig,
    /// Bumped after every change: streams look for new events, waiters re-check.
    pub(crate) changes: watch::Sender<u64>,
    /// Turns true when the simulator shuts down.
    pub(crate) stopping: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(config: EnhancedSimConfig) -> Self {
        let server = EnhancedServer::new(config.knobs.clone(), config.seed);
        Self {
            state: Mutex::new(State {
                server,
                streams: BTreeMap::new(),
                next_stream: 0,
                repeat_events: false,
            }),
            clock: SimClock::start(),
            config,
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

    /// Changes the state at the current model time, then tells everyone waiting for a change.
    pub(crate) fn mutate<T>(&self, f: impl FnOnce(&mut State, Timestamp) -> T) -> T {
        let mut guard = self.lock();
        let now = self.clock.now();
        let out = f(&mut guard, now);
        // Streams read the logs themselves; the wake-up list only needs emptying.
        let _ = guard.server.take_wakeups();
        drop(guard);
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        out
    }
}
