//! What the driver feeds into a [`Conversation`](super::Conversation): the user's pushes, the
//! live chat's desk events, and how each delivery to the user went.

use serde::{Deserialize, Serialize};

use crate::desk::DeskEvent;

/// The channel user a conversation belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The channel's id for the user (a WeChat OpenID).
    pub id: String,
    /// Display name, when the channel told us.
    pub nickname: Option<String>,
    /// Which channel, e.g. `"wechat"`.
    pub channel: String,
}

/// One push from the user, as the channel adapter parsed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserMessage {
    /// Plain text.
    Text(String),
    /// A picture; `url` is the channel's link to it, when it gave one.
    Image {
        /// Channel media id.
        media_id: String,
        /// Where the picture can be fetched.
        url: Option<String>,
    },
    /// A voice note; `recognition` is the channel's speech-to-text, when enabled.
    Voice {
        /// Channel media id.
        media_id: String,
        /// Transcription.
        recognition: Option<String>,
    },
    /// A video clip.
    Video {
        /// Channel media id.
        media_id: String,
    },
    /// A shared place.
    Location {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
        /// Place name or address.
        label: String,
    },
    /// A shared link.
    Link {
        /// Page title.
        title: String,
        /// Address.
        url: String,
    },
    /// The user tapped a menu button of type click.
    MenuClick {
        /// The button's key.
        key: String,
    },
    /// The user followed the account.
    Subscribe,
    /// The user unfollowed the account: nothing can be sent to them any more.
    Unsubscribe,
    /// Anything else the channel passes on (its own name for the kind).
    Other {
        /// The channel's message or event type.
        kind: String,
    },
    // New kinds go last: stored conversations hold user messages by variant number.
    /// The channel reported where the user is, on its own (WeChat's periodic location report):
    /// not a chat line; the latest goes with the next chat request.
    LocationReport {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
    },
    /// The user navigated (opened a menu link, scanned a code): not a chat line by default.
    Navigation {
        /// The channel's name for it (`VIEW`, `SCAN`, …).
        kind: String,
        /// Where to (a link, a scene, a scan result), if the channel says.
        target: Option<String>,
    },
    /// A platform notification that is not the user's doing (a template send report, an event
    /// the adapter does not model): not a chat line by default.
    Notification {
        /// The channel's name for it.
        kind: String,
    },
    /// A shared place whose coordinates could not be read.
    UnreadableLocation {
        /// Place name or address, if any.
        label: String,
    },
}

/// Identifies one [`Output::Send`](super::Output::Send); its outcome comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeliveryId(pub u64);

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "delivery#{}", self.0)
    }
}

/// Why an attempt to send to the user failed. The first three are final; the others may pass,
/// and the conversation decides whether and when to try again
/// ([`Output::Retry`](super::Output::Retry)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryFailure {
    /// The channel's reply window is closed (WeChat 45015): the user must write first.
    WindowClosed,
    /// The window's send quota is used up (WeChat 45047).
    QuotaExhausted,
    /// The channel refused the send for good (or is misconfigured). The text says why, for the
    /// agent.
    GaveUp(String),
    /// The channel failed for now (network, server error, rate limit). `after` is the wait the
    /// channel asked for, if it named one.
    Transient {
        /// What failed, for the agent if the send is given up.
        reason: String,
        /// The channel's own wait before another attempt.
        after: Option<std::time::Duration>,
    },
    /// The channel refused its credentials and has renewed them: one more attempt at once.
    CredentialsRenewed(String),
}

/// One input to the machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A user push, already deduplicated and durable.
    User(UserMessage),
    /// The next event of the live chat's desk, in the order the desk produced them.
    Desk(DeskEvent),
    /// A [`Send`](super::Output::Send) reached the user.
    Delivered {
        /// Which send.
        id: DeliveryId,
    },
    /// An attempt at a [`Send`](super::Output::Send) (or its [`Retry`](super::Output::Retry))
    /// did not reach the user.
    DeliveryFailed {
        /// Which send.
        id: DeliveryId,
        /// Why.
        failure: DeliveryFailure,
    },
    /// The time from [`Conversation::poll_timeout`](super::Conversation::poll_timeout) was
    /// reached.
    Timeout,
    /// An operator ends the live chat (as if the user had typed an end keyword).
    EndChat,
}
