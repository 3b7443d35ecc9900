//! Inputs and outputs of an [`EnhancedChat`](super::EnhancedChat).

use std::time::Duration;

use crate::desk::DeskEvent;
use crate::enhanced::sse::SseEvent;
use crate::enhanced::wire::EnhancedRequest;

/// Identifies one REST request or one stream connection; its outcome comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ec#{}", self.0)
    }
}

/// One input.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The answer to a [`Output::Request`].
    Response {
        /// Which request.
        id: RequestId,
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
    },
    /// A request got no answer (connection failed, or the driver's timeout passed): it may or
    /// may not have reached Salesforce.
    Failed {
        /// Which request.
        id: RequestId,
    },
    /// The stream of [`Output::OpenStream`] answered `200`.
    StreamOpened {
        /// Which stream.
        id: RequestId,
    },
    /// An event arrived on the open stream.
    StreamEvent {
        /// Which stream.
        id: RequestId,
        /// The event.
        event: SseEvent,
    },
    /// The stream was refused (`status` other than 200, with its body) or ended (`None`).
    StreamClosed {
        /// Which stream.
        id: RequestId,
        /// The refusal's status; `None` when an open stream ended or broke.
        status: Option<u16>,
    },
    /// What the conversation asks of the desk.
    Desk(crate::desk::DeskRequest),
    /// The time from [`poll_timeout`](super::EnhancedChat::poll_timeout) was reached.
    Timeout,
}

/// One output, drained with [`poll_output`](super::EnhancedChat::poll_output): the events of
/// one input, then a `Persist` when the state changed — store the snapshot together with the
/// events before it — then the requests, performed only once that is durable.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Store the snapshot, with the events since the last `Persist`, durably.
    Persist,
    /// An event for the conversation, in order.
    Event(DeskEvent),
    /// Perform a REST request; `bearer` is the access token to send, if it needs one.
    Request {
        /// Id to answer with.
        id: RequestId,
        /// What to send.
        request: EnhancedRequest,
        /// `Authorization: Bearer` value.
        bearer: Option<String>,
        /// Give up waiting after this long and report [`Input::Failed`].
        timeout: Duration,
    },
    /// Open the event stream with this token, sending `last_event_id` as `Last-Event-Id`.
    OpenStream {
        /// Id of the connection.
        id: RequestId,
        /// `Authorization: Bearer` value.
        bearer: String,
        /// `Last-Event-Id` (`"0"` when none is known).
        last_event_id: String,
    },
    /// Close that stream connection (it is no longer wanted).
    CloseStream(RequestId),
    /// Salesforce refused a request for good, or answered what cannot be read; logged and
    /// counted by the driver, handled by the machine.
    Refused {
        /// What was refused.
        what: &'static str,
        /// Its status (`200` for an unreadable body).
        status: u16,
    },
}
