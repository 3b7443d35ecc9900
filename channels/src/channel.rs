//! The [`Channel`] trait: what the engine needs from a messaging-app adapter.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::capabilities::Capabilities;
use crate::delivery::{DeliveryError, GiveUpReason};
use crate::outbound::{Delivered, Media, Outbound};
use crate::webhook::{MediaRef, Webhook, WebhookError, WebhookRequest};

/// Which messaging app an adapter speaks to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// WeChat Official Account (公众号) messages and customer-service API.
    WeChat,
    /// A Telegram bot (Bot API webhooks and methods).
    Telegram,
}

/// A user's id on a channel (a WeChat OpenID, for instance). Opaque to the engine.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub String);

impl UserId {
    /// Wraps a channel-specific user id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as the channel spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A messaging-app adapter.
///
/// `parse_webhook` is synchronous and pure apart from cache updates: it verifies, decrypts and
/// parses one request and says how to answer it. The engine persists the returned events before
/// it sends [`Webhook::reply`]. `deliver` performs the platform API calls for one outbound item.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Which messaging app this adapter speaks to.
    fn kind(&self) -> ChannelKind;

    /// What the channel can carry and its sending limits.
    fn capabilities(&self) -> Capabilities;

    /// Verifies and parses one inbound HTTP request from the platform.
    fn parse_webhook(&self, req: &WebhookRequest) -> Result<Webhook, WebhookError>;

    /// Sends one outbound item to a user.
    async fn deliver(&self, to: &UserId, msg: &Outbound) -> Result<Delivered, DeliveryError>;

    /// Downloads media a user sent (an inbound image or voice message).
    ///
    /// Adapters without media support keep this default, which gives up as unsupported.
    async fn fetch_media(&self, media: &MediaRef) -> Result<Media, DeliveryError> {
        Err(DeliveryError::GiveUp {
            reason: GiveUpReason::Unsupported,
            detail: format!("{:?} cannot download media {}", self.kind(), media.id),
        })
    }
}

/// A shared adapter is an adapter (the engine holds them behind `Arc`).
#[async_trait]
impl<C: Channel + ?Sized> Channel for std::sync::Arc<C> {
    fn kind(&self) -> ChannelKind {
        (**self).kind()
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    fn parse_webhook(&self, req: &WebhookRequest) -> Result<Webhook, WebhookError> {
        (**self).parse_webhook(req)
    }

    async fn deliver(&self, to: &UserId, msg: &Outbound) -> Result<Delivered, DeliveryError> {
        (**self).deliver(to, msg).await
    }

    async fn fetch_media(&self, media: &MediaRef) -> Result<Media, DeliveryError> {
        (**self).fetch_media(media).await
    }
}
