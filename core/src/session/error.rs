//! Errors for inputs that are illegal in the current state. Session-ending failures are not
//! errors: they are [`SessionEvent::Ended`](super::SessionEvent::Ended) outputs.

use thiserror::Error;

use super::input::RequestId;

/// An input the session cannot accept. Nothing changed when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    /// A response or failure for a request id this session never handed out (a driver bug).
    #[error("{0} was never issued by this session")]
    UnknownRequest(RequestId),
    /// A visitor action after the session ended or after the visitor asked to end it.
    #[error("the chat has ended or is ending; nothing more can be sent to the agent")]
    Ended,
}
