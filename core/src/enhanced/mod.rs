//! Salesforce Enhanced Chat (Messaging for In-App and Web), the custom-client API of
//! `spec/enhanced-chat.md`, on the visitor's side and sans-IO.
//!
//! | module | holds |
//! |---|---|
//! | [`sse`] | Server-Sent Events framing: bytes in, events out |

pub mod sse;
