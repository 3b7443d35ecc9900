//! What a [`Session`](super::Session) hands back to its driver.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::input::RequestId;
use crate::liveagent::{LiveAgentRequest, Resource};

/// One output, drained with [`Session::poll_output`](super::Session::poll_output).
///
/// Within one drain the order is: protocol errors, cancellations, events, at most one `Persist`,
/// then requests.
/// The driver must make the events and the snapshot durable at `Persist` before it performs any
/// request that follows.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Perform this request and feed back its response or failure with the same id.
    Request {
        /// Id to answer with.
        id: RequestId,
        /// What to send.
        request: LiveAgentRequest,
        /// Give up (and report [`TransportFailure::TimedOut`](super::TransportFailure)) after this.
        timeout: Duration,
    },
    /// Abort this in-flight request; any answer to it will be ignored.
    Cancel(RequestId),
    /// The server answered a request to this resource with a success status and a body that is
    /// not what the protocol says. The machine treats it like a server error (backs off and
    /// retries, and ends the chat with `ConnectionLost` past the connection budget); this output
    /// is for the driver's metrics and logs, which should name the resource and not the body.
    ProtocolError(Resource),
    /// Something happened in the chat, for the conversation and the user.
    Event(SessionEvent),
    /// The state changed: store [`Session::snapshot`](super::Session::snapshot) (with the events
    /// drained before it) durably before performing the requests that follow.
    Persist,
}

/// Something that happened in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionEvent {
    /// Waiting for an agent.
    Queued {
        /// Position in the queue (0 = next), when the server says.
        position: Option<i64>,
        /// Estimated wait in seconds, when known.
        estimated_wait_secs: Option<i64>,
    },
    /// An agent accepted the chat.
    AgentJoined(Agent),
    /// Another agent took over.
    Transferred(Agent),
    /// Text from the agent.
    AgentText {
        /// Sender display name.
        name: String,
        /// The text.
        text: String,
    },
    /// The agent started typing.
    AgentTyping,
    /// The agent stopped typing.
    AgentNotTyping,
    /// The agent lost its connection; the chat stays open.
    AgentDisconnected,
    /// The agent asked for a file, or a file transfer changed state.
    FileTransfer(FileTransferEvent),
    /// A custom event from the agent console.
    CustomEvent {
        /// Event type.
        kind: String,
        /// Payload.
        data: String,
    },
    /// A failover was recovered (ReconnectSession and ChasitorResyncState done).
    Reconnected,
    /// The server refused one visitor POST for good; the chat goes on without it.
    PostRejected {
        /// Which resource.
        resource: Resource,
        /// The status it answered.
        status: u16,
    },
    /// The server sent an event this machine does not act on (kept for logs and metrics).
    Unhandled {
        /// The event `type`.
        event_type: String,
    },
    /// The session is over; no request leaves it any more.
    Ended {
        /// Why.
        reason: EndReason,
        /// Visitor texts that never reached an agent, in order.
        undelivered: Vec<String>,
    },
}

/// The agent handling the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Display name.
    pub name: String,
    /// User id (`005…`).
    pub user_id: String,
}

/// A `FileTransfer` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTransferEvent {
    /// What happened.
    pub kind: FileTransferKind,
    /// Upload token (for `Requested`).
    pub file_token: Option<String>,
    /// Upload URL (for `Requested`).
    pub upload_url: Option<String>,
    /// Referer URL some clients send with the upload.
    pub cdm_url: Option<String>,
}

/// `FileTransfer.type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileTransferKind {
    /// The agent asked for a file.
    Requested,
    /// The agent withdrew the request.
    Canceled,
    /// The upload was received.
    Success,
    /// The upload failed.
    Failure,
    /// Any other value.
    Other(String),
}

impl FileTransferKind {
    pub(crate) fn from_wire(s: &str) -> Self {
        match s {
            "Requested" => Self::Requested,
            "Canceled" | "Cancelled" => Self::Canceled,
            "Success" => Self::Success,
            "Failure" => Self::Failure,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Why a session ended, grouped by who ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The server ended the chat (`ChatEnded`).
    ChatEnded(ChatEndedBy),
    /// No agent took the chat (`ChatRequestFail`).
    RequestFailed(RequestFailReason),
    /// The visitor ended it and the server confirmed `ChatEnd`.
    VisitorEnded,
    /// The server no longer knows the session (403): expired, ended, or never created.
    SessionInvalid,
    /// Requests kept failing for longer than the connection timeout.
    ConnectionLost,
    /// The server refused the chat request itself with this status.
    InitRejected(u16),
}

/// `ChatEnded.reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatEndedBy {
    /// `agent`
    Agent,
    /// `client`
    Client,
    /// `clientIdleTimeout`
    ClientIdleTimeout,
    /// `agentsUnavailable`
    AgentsUnavailable,
    /// `agentPushTimeout`
    AgentPushTimeout,
    /// Any other or missing reason, verbatim.
    Other(String),
}

impl ChatEndedBy {
    /// Maps the wire string.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "agent" => Self::Agent,
            "client" => Self::Client,
            "clientIdleTimeout" => Self::ClientIdleTimeout,
            "agentsUnavailable" => Self::AgentsUnavailable,
            "agentPushTimeout" => Self::AgentPushTimeout,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// `ChatRequestFail.reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestFailReason {
    /// No agent available, or the queue is full.
    Unavailable,
    /// The visitor is blocked.
    Blocked,
    /// The request was not made as a POST.
    NoPost,
    /// The server failed.
    InternalFailure,
    /// Any other reason, verbatim.
    Other(String),
}

impl RequestFailReason {
    /// Maps the wire string.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "Unavailable" => Self::Unavailable,
            "Blocked" => Self::Blocked,
            "NoPost" => Self::NoPost,
            "InternalFailure" => Self::InternalFailure,
            other => Self::Other(other.to_owned()),
        }
    }
}
