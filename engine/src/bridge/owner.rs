//! One owner task per conversation, shaped like the session driver: it owns the
//! [`Conversation`] and its record, and selects over its mailbox (user pushes, desk events, the
//! outcomes of the actions it started, operator requests), the conversation's own
//! `poll_timeout` and the time a failed send is to be tried again (the conversation's `Retry`). For each input it feeds the machine, commits the step as one unit of work,
//! flushes, and only then acts: it keeps one action in flight per lane (towards the desk,
//! towards the user), each performed by a task of [`super::lanes`] that reports back here.
//! Nothing else touches the conversation, so there is no lock to take.

use switchboard_channels::UserId;
use switchboard_core::conversation::{
    Conversation, DeliveryFailure, Input as ConvInput, Output as ConvOutput, UserMessage, UserRef,
};
use switchboard_core::time::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

use super::lanes::{self, LaneOutcome};
use super::{Bridge, BridgeError, ConversationSummary, lifecycle};
use crate::clock;
use crate::store::push_log::Ticket;
use crate::store::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, ConversationUnit, Lane,
    WebhookKey,
};

/// What an owner is asked.
#[derive(Debug)]
pub(crate) enum Command {
    /// A push from the user, with its dedupe key; answered once its step is durable.
    Push {
        message: Option<UserMessage>,
        key: WebhookKey,
        reply: oneshot::Sender<Result<Pushed, BridgeError>>,
    },
    /// A push from the user that is durable in the push log: taken in (or dropped as a
    /// repeat), then the ticket marked, so the log may let it go once the store has flushed.
    Logged {
        message: Option<UserMessage>,
        key: WebhookKey,
        ticket: Ticket,
    },
    /// This chat's outbox may hold events the conversation has not taken yet.
    DeskEvents(ChatId),
    /// Look at the live chat's outbox again (a periodic sweep).
    Sweep,
    /// An operator ends the live chat.
    End {
        reply: oneshot::Sender<Result<(), BridgeError>>,
    },
    /// The admin API's view.
    Summary {
        reply: oneshot::Sender<ConversationSummary>,
    },
    /// Stop (its shard goes to another instance): finish the actions in flight, then end.
    Stop,
}

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Taken in: committed and flushed.
    Accepted,
    /// A repeat of a push taken in before.
    Duplicate,
}

/// The owner's mailbox.
pub(crate) type Mailbox = mpsc::UnboundedSender<Command>;

pub(crate) struct Owner {
    bridge: Bridge,
    id: ConversationId,
    conversation: Conversation,
    record: ConversationRecord,
    /// Where the actions in flight report; read before the mailbox, so that a delivery is
    /// recorded as soon as it is known (a crash before that repeats it).
    finished: mpsc::UnboundedSender<(Lane, LaneOutcome)>,
    outcomes: mpsc::UnboundedReceiver<(Lane, LaneOutcome)>,
    /// Lanes with an action in flight.
    busy: [bool; 2],
    /// The user lane's next send waits until then (the conversation asked for a retry).
    held: Option<Timestamp>,
}

fn slot(lane: Lane) -> usize {
    match lane {
        Lane::Session => 0,
        Lane::User => 1,
    }
}

impl Owner {
    /// A conversation loaded from the store.
    pub(crate) fn restored(
        bridge: Bridge,
        id: ConversationId,
        record: ConversationRecord,
    ) -> Owner {
        let config = bridge.config_for(&record.channel);
        let conversation = Conversation::restore(config, record.snapshot.clone(), clock::now());
        let (finished, outcomes) = mpsc::unbounded_channel();
        Owner {
            bridge,
            id,
            conversation,
            record,
            finished,
            outcomes,
            busy: [false; 2],
            held: None,
        }
    }

    /// A conversation for a user seen for the first time (named `name` by the platform).
    pub(crate) fn new(
        bridge: Bridge,
        id: ConversationId,
        channel: &str,
        user: &str,
        name: Option<&str>,
    ) -> Owner {
        let conversation = Conversation::new(
            bridge.config_for(channel),
            UserRef {
                id: user.to_owned(),
                nickname: name.map(str::to_owned),
                channel: bridge.channel_kind(channel),
            },
            clock::now(),
        );
        let record = ConversationRecord {
            snapshot: conversation.snapshot().clone(),
            channel: channel.to_owned(),
            user: user.to_owned(),
            chats: 0,
            live_chat: None,
            taken: None,
            next_action: 0,
        };
        Owner::restored(bridge, id, record)
    }

    /// Runs until the bridge stops; an action in flight then finishes its step first.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut stopping = self.bridge.inner.stopping.subscribe();
        if let Some(chat) = self.record.live_chat.clone() {
            self.take_desk_events(&chat).await;
        }
        loop {
            if *stopping.borrow() {
                break;
            }
            self.start_lanes();
            let wake = self.conversation.poll_timeout();
            tokio::select! {
                biased;
                Some((lane, outcome)) = self.outcomes.recv() => self.on_lane_done(lane, outcome).await,
                command = commands.recv() => match command {
                    Some(Command::Stop) | None => break,
                    Some(Command::Logged { message, key, ticket }) => {
                        // The logged pushes waiting behind it are taken in with one flush.
                        self.take_logged(message, key, ticket);
                        let mut next = None;
                        while let Ok(command) = commands.try_recv() {
                            match command {
                                Command::Logged { message, key, ticket } => {
                                    self.take_logged(message, key, ticket)
                                }
                                other => {
                                    next = Some(other);
                                    break;
                                }
                            }
                        }
                        // Before acting on them.
                        self.flush().await;
                        match next {
                            Some(Command::Stop) => break,
                            Some(command) => self.on_command(command).await,
                            None => {}
                        }
                    }
                    Some(command) => self.on_command(command).await,
                },
                () = sleep_until(self.held) => self.held = None,
                () = sleep_until(wake) => {
                    if self.step(Some(ConvInput::Timeout), None, None).is_ok() {
                        self.flush().await;
                    }
                }
                _ = stopping.changed() => {}
            }
        }
        // Let the actions in flight finish their step (their outcome is stored, or the action
        // stays queued for the next start).
        while self.busy.iter().any(|b| *b) {
            match self.outcomes.recv().await {
                Some((lane, outcome)) => self.on_lane_done(lane, outcome).await,
                None => break,
            }
        }
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Push {
                message,
                key,
                reply,
            } => {
                // Flushed before the answer (a repeat too: its first delivery may still be on
                // its way to disk), so the platform hears "safe" only once it is; one flush
                // serves both the answer and the acting that follows.
                let mut result = self.push(message, key);
                if result.is_ok()
                    && let Err(e) = self.bridge.inner.store.flush().await
                {
                    result = Err(e.into());
                }
                let _ = reply.send(result);
            }
            Command::Logged {
                message,
                key,
                ticket,
            } => {
                self.take_logged(message, key, ticket);
                self.flush().await;
            }
            Command::DeskEvents(chat) => self.take_desk_events(&chat).await,
            Command::Sweep => {
                if let Some(chat) = self.record.live_chat.clone() {
                    self.take_desk_events(&chat).await;
                }
            }
            Command::End { reply } => {
                let result = if self.conversation.has_live_chat() {
                    self.step(Some(ConvInput::EndChat), None, None)
                } else {
                    Err(BridgeError::NoLiveChat(self.id.0.clone()))
                };
                if result.is_ok() {
                    self.flush().await;
                }
                let _ = reply.send(result);
            }
            Command::Summary { reply } => {
                let _ = reply.send(self.summary());
            }
            Command::Stop => {}
        }
    }

    fn push(
        &mut self,
        message: Option<UserMessage>,
        key: WebhookKey,
    ) -> Result<Pushed, BridgeError> {
        if self.bridge.inner.store.webhook_seen(&key)? {
            return Ok(Pushed::Duplicate);
        }
        self.step(message.map(ConvInput::User), Some(key), None)?;
        Ok(Pushed::Accepted)
    }

    /// Takes in a push from the push log (unflushed: the caller flushes before acting) and
    /// marks its ticket, so that the log may let it go once the store has flushed.
    fn take_logged(&mut self, message: Option<UserMessage>, key: WebhookKey, ticket: Ticket) {
        match self.push(message, key.clone()) {
            Ok(_) => ticket.applied(),
            Err(e) => {
                error!(conversation = %self.id, error = %e, "a logged push was not taken in; it stays logged for the next start");
                drop(ticket);
            }
        }
        self.bridge.taken_in(&key);
    }

    fn summary(&self) -> ConversationSummary {
        let count = |lane| {
            self.bridge
                .inner
                .store
                .count_actions(&self.id, lane)
                .unwrap_or_default()
        };
        ConversationSummary {
            id: self.id.0.clone(),
            channel: self.record.channel.clone(),
            live_chat: self.record.live_chat.as_ref().map(|c| c.0.clone()),
            chatting: self.conversation.has_live_chat(),
            chats: self.record.chats,
            pending: (count(Lane::Session), count(Lane::User)),
        }
    }

    async fn flush(&self) {
        if let Err(e) = self.bridge.inner.store.flush().await {
            error!(conversation = %self.id, error = %e, "store not flushed");
        }
    }

    /// Feeds `input` (if any) to the conversation, turns its outputs into queued actions and
    /// commits the record, the actions, the webhook key `seen` and the removal of `done` as one
    /// unit. On failure nothing changed: the conversation is restored to its stored state.
    fn step(
        &mut self,
        input: Option<ConvInput>,
        seen: Option<WebhookKey>,
        done: Option<ActionId>,
    ) -> Result<(), BridgeError> {
        let saved = self.record.clone();
        let result = self.step_unsaved(input, seen, done);
        if result.is_err() {
            // A half-applied input would otherwise lose its outputs for good.
            self.conversation = Conversation::restore(
                self.bridge.config_for(&saved.channel),
                saved.snapshot.clone(),
                clock::now(),
            );
            self.record = saved;
        }
        result
    }

    fn step_unsaved(
        &mut self,
        input: Option<ConvInput>,
        seen: Option<WebhookKey>,
        done: Option<ActionId>,
    ) -> Result<(), BridgeError> {
        let now = clock::now();
        if let Some(input) = input
            && let Err(e) = self.conversation.handle(input, now)
        {
            warn!(conversation = %self.id, error = %e, "input refused by the conversation");
        }
        let mut actions = Vec::new();
        let mut retry_at = None;
        while let Some(output) = self.conversation.poll_output() {
            match output {
                ConvOutput::StartChat(request) => {
                    self.record.chats += 1;
                    let chat = ChatId::nth(&self.id, self.record.chats);
                    lifecycle::chat_requested(&self.id.0, &chat);
                    self.record.live_chat = Some(chat.clone());
                    actions.push(Action::StartChat(chat, request));
                }
                ConvOutput::Desk(request) => match &self.record.live_chat {
                    Some(chat) => actions.push(Action::Desk(chat.clone(), request)),
                    None => warn!(conversation = %self.id, "desk request without a chat; dropped"),
                },
                ConvOutput::Send {
                    id: delivery,
                    message,
                } => actions.push(Action::Send(delivery, message)),
                // The send stays queued, and nothing behind it goes first.
                ConvOutput::Retry { at, .. } => retry_at = Some(at),
                ConvOutput::Persist => {}
            }
        }
        let done = done.filter(|_| retry_at.is_none());
        if !self.conversation.has_live_chat() && actions.iter().all(|a| a.lane() == Lane::User) {
            // The chat is over: nothing more goes to it, and it need not be watched.
            self.record.live_chat = None;
        }
        self.record.snapshot = self.conversation.snapshot().clone();
        let mut enqueue = Vec::with_capacity(actions.len());
        for action in actions {
            let action_id = ActionId {
                conversation: self.id.clone(),
                lane: action.lane(),
                seq: self.record.next_action,
            };
            self.record.next_action += 1;
            enqueue.push((action_id, action));
        }
        self.bridge
            .inner
            .store
            .commit_conversation(&ConversationUnit {
                id: &self.id,
                record: &self.record,
                enqueue,
                seen: seen.map(|key| (key, now.as_millis())),
                done,
            })?;
        if retry_at.is_some() {
            self.held = retry_at;
        }
        Ok(())
    }

    /// Takes the chat's outbox in order: each event the conversation has not taken yet is
    /// committed with what it caused, then the outbox is acknowledged — so a crash between the
    /// two never repeats an event to the user.
    async fn take_desk_events(&mut self, chat: &ChatId) {
        let engine = &self.bridge.inner.engine;
        let outbox = match engine.outbox(chat) {
            Ok(outbox) => outbox,
            Err(e) => return error!(%chat, error = %e, "outbox unreadable"),
        };
        if outbox.is_empty() {
            return;
        }
        let mut last = None;
        for item in outbox {
            let already =
                matches!(&self.record.taken, Some((c, seq)) if c == chat && *seq >= item.seq);
            if !already {
                // Events that change nothing for the conversation are taken all the same.
                let input = item.event.desk_event().map(|event| {
                    let queue_known = self.conversation.queue_reported();
                    lifecycle::desk_event(&self.id.0, chat, &event, queue_known);
                    ConvInput::Desk(event)
                });
                let previous = self.record.taken.replace((chat.clone(), item.seq));
                if let Err(e) = self.step(input, None, None) {
                    self.record.taken = previous;
                    error!(%chat, error = %e, "desk event not stored");
                    return;
                }
            }
            last = Some(item.seq);
        }
        if self.bridge.inner.store.flush().await.is_err() {
            return;
        }
        let engine = &self.bridge.inner.engine;
        if let Some(seq) = last
            && let Err(e) = engine.ack(chat, seq)
        {
            error!(%chat, error = %e, "outbox not acknowledged");
        }
        if let Err(e) = engine.forget_ended(chat) {
            warn!(%chat, error = %e, "ended chat not removed");
        }
    }

    /// Starts the next action of each idle lane.
    fn start_lanes(&mut self) {
        // Several instances: nothing goes out while this one's lease on the shard is not sure.
        if !self.bridge.may_act(&self.id) {
            return;
        }
        for lane in [Lane::Session, Lane::User] {
            if self.busy[slot(lane)] || (lane == Lane::User && self.held.is_some()) {
                continue;
            }
            let next = match self.bridge.inner.store.first_action(&self.id, lane) {
                Ok(next) => next,
                Err(e) => {
                    error!(conversation = %self.id, error = %e, "action queue unreadable");
                    // Retried at the next wake-up of this owner.
                    None
                }
            };
            let Some((action_id, action)) = next else {
                continue;
            };
            self.busy[slot(lane)] = true;
            let (bridge, finished) = (self.bridge.clone(), self.finished.clone());
            let recipient = self
                .bridge
                .inner
                .channels
                .get(&self.record.channel)
                .map(|c| (c.adapter.clone(), UserId::new(self.record.user.clone())));
            let conversation = self.id.0.clone();
            tokio::spawn(async move {
                let outcome =
                    lanes::perform(&bridge, &conversation, recipient, action_id, action).await;
                let _ = finished.send((lane, outcome));
            });
        }
    }

    async fn on_lane_done(&mut self, lane: Lane, outcome: LaneOutcome) {
        self.busy[slot(lane)] = false;
        match outcome {
            LaneOutcome::Done | LaneOutcome::Retry => {}
            LaneOutcome::Forget(action) => {
                if let Err(e) = self.bridge.inner.store.remove_action(&action) {
                    error!(conversation = %self.id, error = %e, "action not removed");
                }
                self.flush().await;
            }
            LaneOutcome::Attempted { action, input } => {
                let passing = match &input {
                    ConvInput::DeliveryFailed {
                        failure:
                            DeliveryFailure::Transient { reason, .. }
                            | DeliveryFailure::CredentialsRenewed(reason),
                        ..
                    } => Some(reason.clone()),
                    _ => None,
                };
                match self.step(Some(input), None, Some(action)) {
                    Ok(()) => {
                        if let Some(reason) = passing.filter(|_| self.held.is_none()) {
                            // The conversation stopped trying.
                            lifecycle::delivery_given_up(&self.id.0, &reason);
                        }
                        self.flush().await;
                    }
                    Err(e) => {
                        error!(conversation = %self.id, error = %e, "delivery outcome not stored");
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Timestamp>) {
    match at {
        Some(at) => tokio::time::sleep(clock::until(at)).await,
        None => std::future::pending().await,
    }
}
