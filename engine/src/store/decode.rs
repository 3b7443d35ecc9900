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

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `stored_records` fuzz target: a session record (format 3) whose first
    /// length prefix claims about 2^42 bytes.
    #[test]
    fn a_length_prefix_claiming_more_than_the_limit_is_corrupt_not_an_abort() {
        let bytes = [0, 3, 1, 0xfd, 1, 1, 3, 0, 0, 3, 0, 0];
        assert!(matches!(session(&bytes), Err(StoreError::Corrupt(_))));
        assert!(outbox_event(&bytes).is_err());
        assert!(conversation(&bytes).is_err());
        assert!(action(&bytes).is_err());
        assert!(forwarded_push(&bytes).is_err());
    }
}
