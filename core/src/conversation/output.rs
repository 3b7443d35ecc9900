//! What a [`Conversation`](super::Conversation) hands back to its driver.

use serde::{Deserialize, Serialize};

use super::input::DeliveryId;
use crate::desk::{ChatStart, DeskRequest};
use crate::time::Timestamp;

/// One output, drained with [`Conversation::poll_output`](super::Conversation::poll_output).
///
/// Within one drain, a `Persist` (when the state changed) comes first: store the
/// [`snapshot`](super::Conversation::snapshot) durably, then perform the rest in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Start a chat at the agent desk for this conversation. `Desk` outputs that follow go to it.
    StartChat(ChatStart),
    /// Pass to the live chat's desk.
    Desk(DeskRequest),
    /// Deliver to the user through the channel, in order, and report the outcome with `id`.
    Send {
        /// Id to report [`Input::Delivered`](super::Input::Delivered) or
        /// [`Input::DeliveryFailed`](super::Input::DeliveryFailed) with.
        id: DeliveryId,
        /// What to deliver.
        message: ToUser,
    },
    /// The state changed: store the snapshot before acting on the outputs that follow.
    Persist,
    /// The last attempt at send `id` failed for now: keep it queued, send nothing after it, and
    /// attempt it again at `at` (answering the failure report that caused this).
    Retry {
        /// Which send.
        id: DeliveryId,
        /// When to attempt it again.
        at: Timestamp,
    },
}

/// Something delivered to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToUser {
    /// A text message.
    Text(String),
    /// The agent is typing (not a message: it does not use the window's quota).
    Typing,
    /// A picture to upload and send.
    Image {
        /// Where to fetch it.
        url: String,
    },
}
