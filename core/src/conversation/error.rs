//! Errors for inputs that are illegal in the current state. Everything that can happen in a
//! healthy deployment (no agent, window closed, delivery failures) is an output, not an error.

use thiserror::Error;

use super::input::DeliveryId;

/// An input the conversation cannot accept (a driver bug). Nothing changed when returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConversationError {
    /// A desk event arrived while no chat is live.
    #[error("a desk event arrived but this conversation has no live chat")]
    NoLiveChat,
    /// A delivery outcome for an id this conversation never handed out.
    #[error("{0} was never issued by this conversation")]
    UnknownDelivery(DeliveryId),
}
