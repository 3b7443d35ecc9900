//! What the engine asks a channel to send, and what a successful send reports.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One item to send to a user.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Plain text; split by the adapter if longer than the channel allows.
    Text(String),
    /// An image, given as bytes or as a URL the adapter downloads first.
    Image(ImageSource),
    /// Show or hide the typing indicator.
    Typing(TypingState),
}

/// Where an outbound image comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The image itself.
    Bytes(Media),
    /// An `http`/`https` URL to fetch the image from.
    Url(String),
}

impl fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(m) => f.debug_tuple("Bytes").field(m).finish(),
            Self::Url(u) => f.debug_tuple("Url").field(u).finish(),
        }
    }
}

/// A media file: bytes plus what they are.
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    /// MIME type, e.g. `image/jpeg`.
    pub content_type: String,
    /// File name to present to the platform.
    pub filename: String,
    /// The file's bytes.
    pub data: Bytes,
}

impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("content_type", &self.content_type)
            .field("filename", &self.filename)
            .field("len", &self.data.len())
            .finish()
    }
}

/// Typing indicator on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypingState {
    /// The agent is typing.
    On,
    /// The agent stopped typing.
    Off,
}

/// What a successful [`crate::Channel::deliver`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Delivered {
    /// Platform messages sent (a long text may need several; a throttled typing signal none).
    pub parts: u32,
}
