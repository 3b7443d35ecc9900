//! One SSE stream: a task per accepted connect writes the subject's events (from the model's
//! log, after the id the model chose, so replay and live delivery are one path) and `ping`
//! frames into a channel that the response body drains (each event twice while the agent handle
//! asks for repeats). It ends when the client goes away,
//! the simulator stops, the stream reaches its maximum age, its token expired (by config), or
//! the agent handle drops it — cleanly, by cutting the connection, or mid-frame.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use switchboard_core::model::enhanced::{StreamOpen, ping_frame};
use thiserror::Error;
use tokio::sync::mpsc;

use super::state::{DropMode, Shared, StreamCommand, StreamEntry};

/// The stream was cut on purpose (hyper then closes the connection without a last chunk).
#[derive(Debug, Error)]
#[error("stream cut by the simulator")]
pub(crate) struct StreamCut;

/// The body of an SSE response: whatever the stream task sends.
#[derive(Debug)]
pub(crate) struct SseBody {
    frames: mpsc::Receiver<Result<Bytes, StreamCut>>,
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = StreamCut;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        self.frames
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

/// Registers the stream and starts its task; the body to answer with.
pub(crate) fn open(shared: Arc<Shared>, open: StreamOpen) -> SseBody {
    let (tx, rx) = mpsc::channel(64);
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let id = shared.mutate(|state, now| {
        state.register(StreamEntry {
            subject: open.subject.clone(),
            opened_at: now,
            stalled: false,
            commands: commands_tx,
        })
    });
    tokio::spawn(async move {
        let task = StreamTask {
            shared: shared.clone(),
            open,
            tx,
            commands,
        };
        task.run().await;
        shared.mutate(|state, _| state.streams.remove(&id));
    });
    SseBody { frames: rx }
}

struct StreamTask {
    shared: Arc<Shared>,
    open: StreamOpen,
    tx: mpsc::Sender<Result<Bytes, StreamCut>>,
    commands: mpsc::UnboundedReceiver<StreamCommand>,
}

impl StreamTask {
    async fn run(mut self) {
        let mut changes = self.shared.changes.subscribe();
        let config = &self.shared.config;
        let every = config
            .ping_interval
            .max(std::time::Duration::from_millis(1));
        let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let max_age = config.stream_max_age;
        let closes_at =
            tokio::time::Instant::now() + max_age.unwrap_or(std::time::Duration::MAX / 4);
        let mut cursor = self.open.after;
        let mut counter = 0u64;
        let mut stalled = false;
        let stopping = self.shared.clone();
        loop {
            if !stalled && !self.send_new(&mut cursor).await {
                return;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = pings.tick() => {
                    if self.shared.config.end_stream_on_expiry && !self.token_valid() {
                        return;
                    }
                    if !stalled {
                        counter += 1;
                        if !self.send(ping_frame(counter)).await {
                            return;
                        }
                    }
                }
                command = self.commands.recv() => match command {
                    Some(StreamCommand::Stall(on)) => stalled = on,
                    Some(StreamCommand::Drop(mode)) => return self.cut(mode, cursor).await,
                    None => return,
                },
                () = self.tx.closed() => return,
                () = stopping.stopped() => return,
                () = tokio::time::sleep_until(closes_at), if max_age.is_some() => return,
            }
        }
    }

    fn token_valid(&self) -> bool {
        let now = self.shared.clock.now();
        self.shared
            .read(|state| state.server.token_valid(&self.open.token, now))
    }

    /// Sends every event after `cursor`; false when the client is gone.
    async fn send_new(&self, cursor: &mut u64) -> bool {
        let (events, repeat) = self.shared.read(|state| {
            (
                state.server.events_after(&self.open.subject, *cursor),
                state.repeat_events,
            )
        });
        for event in events {
            let frame = event.frame();
            if repeat && !self.send(frame.clone()).await {
                return false;
            }
            if !self.send(frame).await {
                return false;
            }
            *cursor = event.id;
        }
        true
    }

    async fn send(&self, frame: String) -> bool {
        self.tx.send(Ok(Bytes::from(frame))).await.is_ok()
    }

    async fn cut(self, mode: DropMode, cursor: u64) {
        match mode {
            DropMode::Clean => {}
            DropMode::Abort => {
                let _ = self.tx.send(Err(StreamCut)).await;
            }
            DropMode::MidFrame => {
                let next = self
                    .shared
                    .read(|state| state.server.events_after(&self.open.subject, cursor));
                let frame = next.first().map_or_else(
                    || {
                        "id: 0\nevent: CONVERSATION_MESSAGE\ndata: {\"channelType\":\"embedded_mess"
                            .to_owned()
                    },
                    |event| {
                        let whole = event.frame();
                        let mut half = whole.len() / 2;
                        while !whole.is_char_boundary(half) {
                            half -= 1;
                        }
                        whole[..half].to_owned()
                    },
                );
                let _ = self.tx.send(Ok(Bytes::from(frame))).await;
                // Let the half frame reach the socket before the cut (hyper flushes when the
                // body has nothing ready).
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let _ = self.tx.send(Err(StreamCut)).await;
            }
        }
    }
}
