//! The Live Agent driver: one task per live session. It owns the core [`Session`], feeds it
//! HTTP answers, timer expiries and visitor commands, persists at every `Persist` (snapshot plus
//! the events before it, flushed) and only then performs the requests that follow. No protocol
//! decision is made here.

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_core::liveagent::{LiveAgentRequest, Resource};
use switchboard_core::session::{
    Input, Output, RequestId, Session, StateKind, TransportFailure, VisitorAction,
};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tracing::{Instrument, debug, info_span, warn};

use super::{Command, DriverError, Shared, sleep_until};
use crate::clock;
use crate::liveagent_client::LiveAgentClient;
use crate::store::{ActionId, ChatId, DeskSnapshot, OutboxEvent, StoreError};

/// A request's answer, or `None` if it never went out: the gate had closed by then. Sent
/// boxed: a channel's first block holds 32 messages inline, 1.3 KiB of answers per chat.
type Answer = Box<(RequestId, Option<Result<(u16, String), TransportFailure>>)>;

pub(crate) struct Driver {
    chat: ChatId,
    session: Session,
    client: LiveAgentClient,
    next_event: u64,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Box<Command>>,
    answers_tx: mpsc::UnboundedSender<Answer>,
    answers: mpsc::UnboundedReceiver<Answer>,
    in_flight: HashMap<RequestId, (Resource, AbortHandle)>,
    pending_events: Vec<OutboxEvent>,
    /// Action-queue key to remove with the next commit.
    pending_done: Option<ActionId>,
    state: watch::Sender<StateKind>,
}

impl Driver {
    pub(crate) fn new(
        chat: ChatId,
        session: Session,
        client: LiveAgentClient,
        next_event: u64,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Box<Command>>,
        state: watch::Sender<StateKind>,
    ) -> Driver {
        let (answers_tx, answers) = mpsc::unbounded_channel();
        Driver {
            chat,
            session,
            client,
            next_event,
            shared,
            commands,
            answers_tx,
            answers,
            in_flight: HashMap::new(),
            pending_events: Vec::new(),
            pending_done: None,
            state,
        }
    }

    /// Runs until the session ends, a stop is asked for, or the store fails.
    /// Boxed, so that the task's future holds the driver once, behind a pointer, however many
    /// of its await points keep it alive (inline it was stored several times over).
    pub(crate) async fn run(mut self: Box<Self>) -> Result<StateKind, DriverError> {
        let span = info_span!("session", chat = %self.chat);
        async move {
            let result = self.drive().await;
            for (_, (_, handle)) in self.in_flight.drain() {
                handle.abort();
            }
            if let Err(e) = &result {
                warn!(error = %e, "session driver stopped");
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn drive(&mut self) -> Result<StateKind, DriverError> {
        loop {
            self.drain().await?;
            let _ = self.state.send(self.session.state());
            if self.session.is_ended() && self.in_flight.is_empty() {
                return Ok(StateKind::Ended);
            }
            let wake = self.session.poll_timeout();
            tokio::select! {
                Some(answer) = self.answers.recv() => {
                    let (id, result) = *answer;
                    let Some(result) = result else {
                        // Not sent (see `send`): as for a request the gate refuses at once.
                        self.in_flight.remove(&id);
                        return Err(StoreError::NotOwner(self.chat.shard()).into());
                    };
                    if let Some((resource, _)) = self.in_flight.remove(&id) {
                        let status = result.as_ref().ok().map(|(status, _)| *status);
                        self.shared.metrics.answered(resource, status);
                    }
                    let input = match result {
                        Ok((status, body)) => Input::Response { id, status, body },
                        Err(failure) => Input::Failed { id, failure },
                    };
                    if let Err(e) = self.session.handle(input, clock::now()) {
                        warn!(error = %e, "answer refused by the session");
                    }
                }
                () = sleep_until(wake), if wake.is_some() => {
                    // Cannot fail: Timeout is legal in every state.
                    let _ = self.session.handle(Input::Timeout, clock::now());
                }
                command = self.commands.recv() => match command.map(|c| *c) {
                    Some(Command::Desk(request, done, reply)) => {
                        let command = Command::Visitor(VisitorAction::from(request), done, reply);
                        self.on_visitor(command).await?;
                    }
                    Some(command @ Command::Visitor(..)) => self.on_visitor(command).await?,
                    Some(Command::Stop) | None => return Ok(self.session.state()),
                },
            }
        }
    }

    /// A visitor action: handled, made durable, then answered.
    async fn on_visitor(&mut self, command: Command) -> Result<(), DriverError> {
        let Command::Visitor(action, done, reply) = command else {
            return Ok(());
        };
        if let Err(e) = self.session.handle(Input::Visitor(action), clock::now()) {
            let _ = reply.send(Err(DriverError::from(e)));
            return Ok(());
        }
        self.pending_done = done;
        let drained = self.drain().await;
        self.pending_done = None;
        super::answer(reply, drained)
    }

    /// Handles every output: persists at `Persist` before sending what follows.
    async fn drain(&mut self) -> Result<(), StoreError> {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Cancel(id) => {
                    if let Some((_, handle)) = self.in_flight.remove(&id) {
                        handle.abort();
                    }
                }
                Output::Event(event) => self.pending_events.push(OutboxEvent::LiveAgent(event)),
                Output::ProtocolError(resource) => {
                    // The body may hold visitor or agent text: only its resource is named.
                    warn!(
                        ?resource,
                        "Live Agent answered 200 with a body that does not decode; retrying as after a server error"
                    );
                    self.shared.metrics.protocol_error();
                }
                Output::Persist => self.persist().await?,
                Output::Request {
                    id,
                    request,
                    timeout,
                } => {
                    let shard = self.chat.shard();
                    if !self.shared.gate.allows(shard) {
                        // The lease is not sure (a pause, a takeover): no poll from here.
                        return Err(StoreError::NotOwner(shard));
                    }
                    self.send(id, request, timeout);
                }
            }
        }
        Ok(())
    }

    async fn persist(&mut self) -> Result<(), StoreError> {
        let snapshot = DeskSnapshot::LiveAgent(self.session.snapshot().clone());
        super::commit(
            &self.shared,
            &self.chat,
            snapshot,
            &mut self.next_event,
            &mut self.pending_events,
            &mut self.pending_done,
        )
        .await
    }

    fn send(&mut self, id: RequestId, request: LiveAgentRequest, timeout: std::time::Duration) {
        let client = self.client.clone();
        let answers = self.answers_tx.clone();
        let (shared, shard) = (self.shared.clone(), self.chat.shard());
        let resource = request.resource;
        debug!(%id, ?resource, "request");
        let task = tokio::spawn(async move {
            // The gate was asked when the session decided on this request, in `drain`; the
            // request goes out only once this task runs: a moment later as a rule, but after
            // the pause if the process was frozen (SIGSTOP) in between — by then the lease may
            // have run out and the new owner's poll be open at Salesforce, and this poll, sent
            // on a check made before the pause, would be the second one (409). So the gate is
            // asked again here, just before the request is handed to the HTTP client.
            if !shared.gate.allows(shard) {
                let _ = answers.send(Box::new((id, None)));
                return;
            }
            shared.metrics.sent();
            let result = client.perform(&request, timeout).await;
            let _ = answers.send(Box::new((id, Some(result))));
        });
        self.in_flight.insert(id, (resource, task.abort_handle()));
    }
}
