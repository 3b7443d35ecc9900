//! How a failed delivery tells the engine what to do next.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A delivery failed. Each variant is one instruction to the engine.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// A temporary failure on the platform or the network: try again later.
    #[error("temporary failure, retry later: {detail}")]
    RetryLater {
        /// Minimum wait before retrying, when the platform hints one.
        after: Option<Duration>,
        /// What happened (no secrets).
        detail: String,
    },
    /// The platform rejected the credentials: refresh them and retry once. Adapters that manage
    /// their own credentials (WeChat does) have already done so before returning anything else.
    #[error("credentials rejected, refresh and retry once: {detail}")]
    RefreshCredentials {
        /// What happened (no secrets).
        detail: String,
    },
    /// The user cannot be reached with this message: do not retry; tell the agent why.
    #[error("undeliverable ({reason}): {detail}")]
    GiveUp {
        /// Why, in terms the agent can be told.
        reason: GiveUpReason,
        /// What happened (no secrets).
        detail: String,
    },
    /// Our configuration or code is wrong (bad secret, missing permission, IP not whitelisted):
    /// do not retry; alert the operators.
    #[error("misconfigured, alert operators: {detail}")]
    Misconfigured {
        /// What happened (no secrets).
        detail: String,
    },
    /// A text split into several messages failed part-way: `delivered` parts reached the user.
    #[error("{delivered} of {total} parts delivered, then: {error}")]
    Partial {
        /// Parts that reached the user, from the start of the text.
        delivered: u32,
        /// Parts the text was split into.
        total: u32,
        /// Why the next part failed.
        error: Box<DeliveryError>,
    },
}

/// The instruction a [`DeliveryError`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryAction {
    /// Retry later.
    RetryLater,
    /// Refresh credentials and retry once.
    RefreshCredentialsAndRetryOnce,
    /// Give up and tell the agent.
    GiveUpAndTellAgent,
    /// Give up and alert the operators.
    AlertOperators,
}

/// Why a user cannot be reached, phrased for the agent.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GiveUpReason {
    /// The platform's send window since the user's last message has closed.
    WindowClosed,
    /// The per-window message quota for this user is used up.
    QuotaExhausted,
    /// The user does not follow the account (any more).
    NotFollowing,
    /// The platform does not know this user.
    UnknownUser,
    /// The platform refused the content (too large, bad media).
    ContentRejected,
    /// The channel cannot carry this kind of message.
    Unsupported,
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WindowClosed => "send window closed",
            Self::QuotaExhausted => "message quota exhausted",
            Self::NotFollowing => "user does not follow the account",
            Self::UnknownUser => "unknown user",
            Self::ContentRejected => "content rejected",
            Self::Unsupported => "unsupported message kind",
        })
    }
}

impl GiveUpReason {
    /// A sentence the engine can show the agent.
    pub fn agent_notice(self) -> &'static str {
        match self {
            Self::WindowClosed => {
                "The customer's reply window has closed; they must write again before you can answer."
            }
            Self::QuotaExhausted => {
                "You have sent the maximum number of messages allowed until the customer writes again."
            }
            Self::NotFollowing => {
                "The customer no longer follows the account and cannot be reached."
            }
            Self::UnknownUser => "The customer cannot be found on the channel.",
            Self::ContentRejected => "The channel refused this message (size or format).",
            Self::Unsupported => "The channel cannot carry this kind of message.",
        }
    }
}

impl DeliveryError {
    /// What the engine should do about this failure.
    pub fn action(&self) -> DeliveryAction {
        match self {
            Self::RetryLater { .. } => DeliveryAction::RetryLater,
            Self::RefreshCredentials { .. } => DeliveryAction::RefreshCredentialsAndRetryOnce,
            Self::GiveUp { .. } => DeliveryAction::GiveUpAndTellAgent,
            Self::Misconfigured { .. } => DeliveryAction::AlertOperators,
            Self::Partial { error, .. } => error.action(),
        }
    }

    /// The wait the platform asked for before another attempt, looking through
    /// [`DeliveryError::Partial`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RetryLater { after, .. } => *after,
            Self::Partial { error, .. } => error.retry_after(),
            _ => None,
        }
    }

    /// The give-up reason, looking through [`DeliveryError::Partial`].
    pub fn give_up_reason(&self) -> Option<GiveUpReason> {
        match self {
            Self::GiveUp { reason, .. } => Some(*reason),
            Self::Partial { error, .. } => error.give_up_reason(),
            _ => None,
        }
    }
}
