//! Inbound HTTP requests from a platform, what they carry, and how to answer them.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::channel::UserId;
use crate::dedupe::DedupeKey;

/// One HTTP request that reached the channel's webhook route.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// HTTP method (`GET` for URL verification, `POST` for pushes on WeChat).
    pub method: Method,
    /// The raw query string, without the leading `?` (still percent-encoded).
    pub query: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Bytes,
}

impl WebhookRequest {
    /// Builds a request with no headers.
    pub fn new(method: Method, query: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            method,
            query: query.into(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }
}

/// The outcome of a webhook the adapter accepted: events to persist, then the reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Parsed inbound events, in the order the platform sent them (possibly none, e.g. for a URL
    /// verification).
    pub events: Vec<InboundEvent>,
    /// The exact HTTP answer to send once the events are durable.
    pub reply: HttpReply,
}

/// An HTTP answer, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub status: StatusCode,
    /// `Content-Type`, if any.
    pub content_type: Option<&'static str>,
    /// Body.
    pub body: Bytes,
}

impl HttpReply {
    /// `200 OK` with a `text/plain` body.
    pub fn text(body: impl Into<Bytes>) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: Some("text/plain; charset=utf-8"),
            body: body.into(),
        }
    }

    /// `200 OK` with an XML body.
    pub fn xml(body: impl Into<Bytes>) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: Some("application/xml; charset=utf-8"),
            body: body.into(),
        }
    }

    /// `200 OK` with no body at all.
    pub fn empty() -> Self {
        Self {
            status: StatusCode::OK,
            content_type: None,
            body: Bytes::new(),
        }
    }
}

/// One thing a user did, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// Same for every delivery of the same push; distinct for distinct pushes.
    pub dedupe_key: DedupeKey,
    /// Who did it.
    pub user: UserId,
    /// The user's name as the platform shows it, when the push carries one (Telegram does;
    /// WeChat does not). A new conversation's visitor name.
    pub display_name: Option<String>,
    /// When, in unix seconds, by the platform's clock.
    pub created_at: u64,
    /// What happened.
    pub kind: InboundKind,
}

/// A reference to media stored on the platform, fetched with [`crate::Channel::fetch_media`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// The platform's media id.
    pub id: String,
    /// A direct URL, when the platform gives one.
    pub url: Option<String>,
    /// Format hint (e.g. `amr` for voice), when the platform gives one.
    pub format: Option<String>,
}

/// What happened, in channel-neutral terms.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboundKind {
    /// The user wrote text.
    Text {
        /// The text.
        text: String,
    },
    /// The user sent an image.
    Image {
        /// Where to fetch it.
        media: MediaRef,
    },
    /// The user sent a voice message.
    Voice {
        /// Where to fetch it.
        media: MediaRef,
        /// Speech-to-text, if the platform provided it.
        recognition: Option<String>,
    },
    /// The user shared a location.
    Location {
        /// Latitude.
        latitude: String,
        /// Longitude.
        longitude: String,
        /// Place description.
        label: Option<String>,
    },
    /// The user started following the account.
    Followed {
        /// Scene or campaign key (e.g. a QR code's scene), if any.
        key: Option<String>,
    },
    /// The user stopped following the account; the channel can no longer reach them.
    Unfollowed,
    /// The user tapped a menu entry that sends a key to the account.
    MenuClick {
        /// The entry's key.
        key: String,
    },
    /// The user sent a video clip.
    Video {
        /// Where to fetch it.
        media: MediaRef,
    },
    /// The user shared a link.
    Link {
        /// Page title.
        title: String,
        /// Address.
        url: String,
    },
    /// The platform reported where the user is, on its own (not a place the user shared).
    LocationReport {
        /// Latitude, as sent.
        latitude: String,
        /// Longitude, as sent.
        longitude: String,
        /// Precision, as sent.
        precision: Option<String>,
    },
    /// The user navigated: opened a menu link, scanned a code.
    Navigation {
        /// The platform's name for it (e.g. `VIEW`).
        kind: String,
        /// Where to: the link, the scene, the scan result.
        target: Option<String>,
    },
    /// A platform event that is not the user's doing, or an event this adapter does not model.
    Notification {
        /// The platform's name for it.
        kind: String,
    },
    /// A message type that did not exist when this adapter was written. Kept, never rejected.
    Other {
        /// The platform's own name for the type.
        kind: String,
        /// Top-level fields as text.
        fields: BTreeMap<String, String>,
    },
}

/// Why a webhook request was refused; each maps to an HTTP status the engine answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Signature missing or wrong: the request did not come from the platform.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The body is larger than the adapter accepts.
    #[error("body of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Received size.
        size: usize,
        /// Accepted maximum.
        limit: usize,
    },
    /// The request is not well formed (bad XML, undecryptable payload, missing parameters).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The adapter does not serve this HTTP method.
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl WebhookError {
    /// The HTTP status to answer with. Never a 5xx: none of these is the server's fault.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}
