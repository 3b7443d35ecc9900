//! The Enhanced Chat driver: one task per live conversation. It owns the core
//! [`EnhancedChat`], performs its REST requests (one task each) and its event stream (one task
//! per connection, aborted when the machine closes it), feeds every answer, stream event and
//! timer expiry back as an [`Input`], and commits at every `Persist` before acting on what
//! follows.

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_core::enhanced::chat::{EnhancedChat, Input, Output, RequestId};
use switchboard_core::session::StateKind;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tracing::{Instrument, debug, info_span, warn};

use super::{Command, DriverError, Shared, sleep_until};
use crate::clock;
use crate::enhanced_client::EnhancedClient;
use crate::store::{ActionId, ChatId, DeskSnapshot, OutboxEvent, StoreError};

pub(crate) struct EnhancedDriver {
    chat: ChatId,
    machine: EnhancedChat,
    client: EnhancedClient,
    next_event: u64,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Box<Command>>,
    /// Boxed, as the commands are: a channel's first block holds 32 inputs inline.
    inputs_tx: mpsc::UnboundedSender<Box<Input>>,
    inputs: mpsc::UnboundedReceiver<Box<Input>>,
    /// REST requests and stream connections in flight.
    tasks: HashMap<RequestId, AbortHandle>,
    pending_events: Vec<OutboxEvent>,
    pending_done: Option<ActionId>,
    state: watch::Sender<StateKind>,
}

/// The chat's state in the engine's coarse terms: `Init` before a token, `Established` while
/// the conversation is created, `Polling` while it is open with its stream, `Resyncing` while
/// the stream is down, `Ended`.
pub(crate) fn state_of(machine: &EnhancedChat) -> StateKind {
    use switchboard_core::enhanced::chat::PhaseKind;
    match machine.phase() {
        PhaseKind::Authorizing => StateKind::Init,
        PhaseKind::Creating => StateKind::Established,
        PhaseKind::Open if machine.stream_open() => StateKind::Polling,
        PhaseKind::Open => StateKind::Resyncing,
        PhaseKind::Closing => StateKind::Polling,
        PhaseKind::Ended => StateKind::Ended,
    }
}

impl EnhancedDriver {
    pub(crate) fn new(
        chat: ChatId,
        machine: EnhancedChat,
        client: EnhancedClient,
        next_event: u64,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Box<Command>>,
        state: watch::Sender<StateKind>,
    ) -> EnhancedDriver {
        let (inputs_tx, inputs) = mpsc::unbounded_channel();
        EnhancedDriver {
            chat,
            machine,
            client,
            next_event,
            shared,
            commands,
            inputs_tx,
            inputs,
            tasks: HashMap::new(),
            pending_events: Vec::new(),
            pending_done: None,
            state,
        }
    }

    /// Boxed, as the Live Agent driver's `run` (the task's future holds it once).
    pub(crate) async fn run(mut self: Box<Self>) -> Result<StateKind, DriverError> {
        let span = info_span!("enhanced_chat", chat = %self.chat);
        async move {
            let result = self.drive().await;
            for (_, task) in self.tasks.drain() {
                task.abort();
            }
            if let Err(e) = &result {
                warn!(error = %e, "Enhanced Chat driver stopped");
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn drive(&mut self) -> Result<StateKind, DriverError> {
        loop {
            self.drain().await?;
            let _ = self.state.send(state_of(&self.machine));
            if self.machine.is_ended() {
                return Ok(StateKind::Ended);
            }
            let wake = self.machine.poll_timeout();
            tokio::select! {
                Some(input) = self.inputs.recv() => {
                    let input = *input;
                    if let Input::Response { id, .. } | Input::Failed { id } = &input {
                        self.tasks.remove(id);
                    }
                    // Cannot fail: only desk requests are refused.
                    let _ = self.machine.handle(input, clock::now());
                }
                () = sleep_until(wake), if wake.is_some() => {
                    let _ = self.machine.handle(Input::Timeout, clock::now());
                }
                command = self.commands.recv() => match command.map(|c| *c) {
                    Some(Command::Desk(request, done, reply)) => {
                        self.on_request(request, done, reply).await?;
                    }
                    Some(Command::Visitor(action, done, reply)) => {
                        match switchboard_core::session::desk::desk_request(action) {
                            Some(request) => self.on_request(request, done, reply).await?,
                            None => {
                                let _ = reply.send(Err(DriverError::Unsupported));
                            }
                        }
                    }
                    Some(Command::Stop) | None => return Ok(state_of(&self.machine)),
                },
            }
        }
    }

    /// A request of the conversation: handled, made durable, then answered.
    async fn on_request(
        &mut self,
        request: switchboard_core::desk::DeskRequest,
        done: Option<ActionId>,
        reply: tokio::sync::oneshot::Sender<Result<(), DriverError>>,
    ) -> Result<(), DriverError> {
        if let Err(e) = self.machine.handle(Input::Desk(request), clock::now()) {
            let _ = reply.send(Err(DriverError::from(e)));
            return Ok(());
        }
        self.pending_done = done;
        let drained = self.drain().await;
        self.pending_done = None;
        super::answer(reply, drained)
    }

    async fn drain(&mut self) -> Result<(), StoreError> {
        while let Some(output) = self.machine.poll_output() {
            match output {
                Output::Persist => {
                    let snapshot = DeskSnapshot::EnhancedChat(self.machine.snapshot().clone());
                    super::commit(
                        &self.shared,
                        &self.chat,
                        snapshot,
                        &mut self.next_event,
                        &mut self.pending_events,
                        &mut self.pending_done,
                    )
                    .await?;
                }
                Output::Event(event) => self.pending_events.push(OutboxEvent::Desk(event)),
                Output::Request {
                    id,
                    request,
                    bearer,
                    timeout,
                } => {
                    let shard = self.chat.shard();
                    if !self.shared.gate.allows(shard) {
                        // The lease is not sure (a pause, a takeover): nothing from here.
                        return Err(StoreError::NotOwner(shard));
                    }
                    debug!(%id, "request");
                    self.shared.metrics.sent();
                    let (client, inputs) = (self.client.clone(), self.inputs_tx.clone());
                    let task = tokio::spawn(async move {
                        let input = client
                            .perform(id, &request, bearer.as_deref(), timeout)
                            .await;
                        let _ = inputs.send(Box::new(input));
                    });
                    self.tasks.insert(id, task.abort_handle());
                }
                Output::OpenStream {
                    id,
                    bearer,
                    last_event_id,
                } => {
                    let shard = self.chat.shard();
                    if !self.shared.gate.allows(shard) {
                        return Err(StoreError::NotOwner(shard));
                    }
                    debug!(%id, "stream");
                    let (client, inputs) = (self.client.clone(), self.inputs_tx.clone());
                    let task = tokio::spawn(async move {
                        client.stream(id, bearer, last_event_id, inputs).await;
                    });
                    self.tasks.insert(id, task.abort_handle());
                }
                Output::CloseStream(id) => {
                    if let Some(task) = self.tasks.remove(&id) {
                        task.abort();
                    }
                }
                Output::Refused { what, status } => {
                    // The body may hold visitor or agent text: only what and the status.
                    warn!(
                        what,
                        status, "Enhanced Chat refused a request or answered what cannot be read"
                    );
                    self.shared.metrics.protocol_error();
                }
            }
        }
        Ok(())
    }
}
