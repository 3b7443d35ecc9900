//! Stored bytes back to records: one reader per record type, each knowing at which record
//! format its layout changed (see `envelope`'s table). Both stores read through these, so a
//! record written by one build reads the same from sled or PostgreSQL; the fuzz target
//! `stored_records` feeds them arbitrary bytes (a corrupt record is a [`StoreError`], never a
//! panic).

use switchboard_core::session::SessionEvent;

use super::envelope::{decode_changed_in, decode_migrating};
use super::records::{ActionV1, ConversationRecordV1, SessionRecordV1};
use super::{Action, ConversationRecord, OutboxEvent, SessionRecord, StoreError};

/// A desk session's record (layout changed in format 2).
pub fn session(bytes: &[u8]) -> Result<SessionRecord, StoreError> {
    decode_migrating::<SessionRecord, SessionRecordV1>(bytes)
}

/// An outbox event (tagged with its desk from format 3; older ones are Live Agent's).
pub fn outbox_event(bytes: &[u8]) -> Result<OutboxEvent, StoreError> {
    decode_changed_in::<OutboxEvent, SessionEvent>(bytes, 3)
}

/// A conversation's record (layout changed in format 2).
pub fn conversation(bytes: &[u8]) -> Result<ConversationRecord, StoreError> {
    decode_migrating::<ConversationRecord, ConversationRecordV1>(bytes)
}

/// A queued action (desk-neutral from format 2).
pub fn action(bytes: &[u8]) -> Result<Action, StoreError> {
    decode_migrating::<Action, ActionV1>(bytes)
}

/// A push taken in by one instance for a conversation another instance serves (format 3 on).
pub fn forwarded_push(bytes: &[u8]) -> Result<crate::bridge::ForwardedPush, StoreError> {
    use crate::bridge::ForwardedPush;
    decode_changed_in::<ForwardedPush, ForwardedPush>(bytes, 3)
}
