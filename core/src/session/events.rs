//! What a batch of server events does to the chat, and which events the conversation hears.

use std::time::Duration;

use super::io::{Lane, Purpose};
use super::lane::VisitorPost;
use super::output::{Agent, FileTransferEvent, FileTransferKind};
use super::state::State;
use super::{ChatEndedBy, EndReason, RequestFailReason, Session, SessionEvent};
use crate::liveagent::MessagesResponse;
use crate::liveagent::event::{AgentInfo, ChasitorSessionData, Event};

impl Session {
    /// Applies one `Messages` batch: events in order, then `ack` and `offset`. Everything the
    /// batch produced is persisted (with the new `ack`) before the next poll goes out.
    pub(super) fn on_batch(&mut self, batch: MessagesResponse) {
        if let Some(chat) = self.chat_mut() {
            if let Some(sequence) = batch.sequence {
                chat.ack = sequence;
            }
            if batch.offset.is_some() {
                chat.offset = batch.offset;
            }
        }
        // A typing indicator that arrives together with "not typing" is stale (spec §5, §11).
        let stops_typing = batch
            .messages
            .iter()
            .any(|e| matches!(e, Event::AgentNotTyping(_)));
        for event in batch.messages {
            if matches!(self.persisted.state, State::Ended(_)) {
                break;
            }
            if stops_typing && matches!(event, Event::AgentTyping(_)) {
                continue;
            }
            self.apply_event(event);
        }
    }

    fn apply_event(&mut self, event: Event) {
        let emitted = match event {
            Event::ChatRequestSuccess(success) => {
                if let Some(chat) = self.chat_mut()
                    && let Some(ms) = success
                        .connection_timeout
                        .and_then(|ms| u64::try_from(ms).ok())
                    && ms > 0
                {
                    chat.connection_timeout = Duration::from_millis(ms);
                }
                self.chat_request_arrived();
                Some(SessionEvent::Queued {
                    position: success.queue_position,
                    estimated_wait_secs: success.estimated_wait_time,
                })
            }
            Event::ChatRequestFail(fail) => {
                self.end(EndReason::RequestFailed(RequestFailReason::from_wire(
                    &fail.reason,
                )));
                None
            }
            Event::QueueUpdate(update) => {
                self.chat_request_arrived();
                Some(SessionEvent::Queued {
                    position: update.position,
                    estimated_wait_secs: update.estimated_wait_time,
                })
            }
            Event::ChatEstablished(info) => {
                self.chat_request_arrived();
                let agent = self.set_agent(info);
                self.release_held();
                Some(SessionEvent::AgentJoined(agent))
            }
            Event::ChatTransferred(info) => Some(SessionEvent::Transferred(self.set_agent(info))),
            Event::ChatMessage(message) => Some(SessionEvent::AgentText {
                name: message.name,
                text: message.text,
            }),
            Event::AgentTyping(_) => Some(SessionEvent::AgentTyping),
            Event::AgentNotTyping(_) => Some(SessionEvent::AgentNotTyping),
            Event::AgentDisconnect => Some(SessionEvent::AgentDisconnected),
            Event::ChatEnded(ended) => {
                self.end(EndReason::ChatEnded(ChatEndedBy::from_wire(&ended.reason)));
                None
            }
            Event::ChasitorSessionData(data) => {
                self.record_transcript(&data);
                None
            }
            Event::CustomEvent(custom) => Some(SessionEvent::CustomEvent {
                kind: custom.kind,
                data: custom.data,
            }),
            Event::FileTransfer(transfer) => Some(SessionEvent::FileTransfer(FileTransferEvent {
                kind: FileTransferKind::from_wire(&transfer.kind),
                file_token: transfer.file_token,
                upload_url: transfer.upload_servlet_url,
                cdm_url: transfer.cdm_servlet_url,
            })),
            other @ (Event::NewVisitorBreadcrumb(_)
            | Event::SensitiveDataRules(_)
            | Event::ReconnectSession(_)
            | Event::Availability(_)
            | Event::SwitchServer(_)
            | Event::AsyncResult(_)
            | Event::Unknown { .. }) => Some(SessionEvent::Unhandled {
                event_type: other.kind().to_owned(),
            }),
        };
        if let Some(event) = emitted {
            self.staged.events.push(event);
        }
    }

    fn set_agent(&mut self, info: AgentInfo) -> Agent {
        let agent = Agent {
            name: info.name,
            user_id: info.user_id,
        };
        if let Some(chat) = self.chat_mut() {
            chat.agent = Some(agent.clone());
        }
        agent
    }

    /// Texts typed while queued go out, in order, once an agent has joined.
    fn release_held(&mut self) {
        if self.persisted.lane.contains_end() {
            return;
        }
        while let Some(post) = self.persisted.held.pop_front() {
            self.persisted.lane.push(post);
        }
    }

    /// After a failover the server's transcript says how many visitor texts it has. POSTs go
    /// out one at a time, so it has either every confirmed text or one more: the uncertain
    /// head of the lane, which then must not be sent again.
    fn record_transcript(&mut self, data: &ChasitorSessionData) {
        if data.chat_messages.is_empty() {
            return;
        }
        let on_server = data
            .chat_messages
            .iter()
            .filter(|entry| entry.kind == "Chasitor")
            .count() as u64;
        if let Some(chat) = self.chat_mut() {
            chat.texts_on_server = Some(on_server);
        }
    }

    /// Drops the head of the lane if the server's transcript shows it already arrived.
    pub(super) fn settle_uncertain_text(&mut self) {
        let post_in_flight = self
            .io
            .inflight
            .values()
            .any(|f| f.purpose == Purpose::Post);
        let Some(head) = self.persisted.lane.head() else {
            return;
        };
        if post_in_flight || !head.uncertain || !matches!(head.post, VisitorPost::Text(_)) {
            return;
        }
        let Some(chat) = self.persisted.chat() else {
            return;
        };
        if chat
            .texts_on_server
            .is_some_and(|n| n > chat.delivered_texts)
        {
            self.persisted.lane.complete_head();
            self.io.retry_at.remove(&Lane::Post);
            if let Some(chat) = self.chat_mut() {
                chat.delivered_texts += 1;
            }
        }
    }
}
