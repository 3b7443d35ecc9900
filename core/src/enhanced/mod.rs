//! Salesforce Enhanced Chat (Messaging for In-App and Web), the custom-client API of
//! `spec/enhanced-chat.md`, on the visitor's side and sans-IO.
//!
//! | module | holds |
//! |---|---|
//! | [`chat`] | [`chat::EnhancedChat`], the conversation machine, and its snapshot |
//! | [`sse`] | Server-Sent Events framing: bytes in, events out |
//! | [`wire`] | requests (method, path, body) and lenient decoding of answers, entries and stream events |

pub mod chat;
pub mod sse;
pub mod wire;
