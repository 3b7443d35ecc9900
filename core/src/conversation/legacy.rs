//! Conversation snapshots as release 0.1 stored them (record format 1), so that a store written
//! by it opens in this one. Format 2 added the kept agent lines and the last known location.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::input::UserRef;
use super::state::{InFlight, Relay, Snapshot, State, Window};
use crate::time::Timestamp;

/// A [`Snapshot`] of record format 1: the same fields, in the same order, without those added
/// since.
#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotV1 {
    user: UserRef,
    state: State,
    window: Window,
    relay: Relay,
    in_flight: BTreeMap<u64, InFlight>,
    next_delivery: u64,
    typing_since: Option<Timestamp>,
    chats_started: u64,
}

impl From<SnapshotV1> for Snapshot {
    fn from(v1: SnapshotV1) -> Snapshot {
        Snapshot {
            user: v1.user,
            state: v1.state,
            window: v1.window,
            relay: v1.relay,
            in_flight: v1.in_flight,
            next_delivery: v1.next_delivery,
            typing_since: v1.typing_since,
            chats_started: v1.chats_started,
            kept: Default::default(),
            last_location: None,
        }
    }
}
