//! Behaviours the spec leaves UNCONFIRMED, as settings. The defaults are the faithful reading
//! of `spec/live-agent.md` §8 ("strict").

use std::time::Duration;

/// What the server does with a POST whose sequence number it already accepted (spec §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicatePost {
    /// 200 `OK` without doing it again (the SDK's design suggests this).
    AcceptSilently,
    /// 409 `Out of sync Ack. Expected N. Actual M`.
    Conflict,
}

/// How `clientPollTimeout` is encoded in the SessionId answer (spec §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollTimeoutShape {
    /// `"clientPollTimeout":40` (live servers).
    Number,
    /// `"clientPollTimeout":"40"` (the documentation's example).
    String,
}

/// The simulator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knobs {
    /// Org id ChasitorInit and ChasitorResyncState must carry.
    pub organization_id: String,
    /// Deployment id ChasitorInit must carry.
    pub deployment_id: String,
    /// Button id ChasitorInit must carry (or name in `buttonOverrides`).
    pub button_id: String,
    /// Duplicate sequence numbers.
    pub duplicate_post: DuplicatePost,
    /// Status for visitor chat POSTs before `ChatEstablished` (spec §4.5: 500).
    pub post_before_agent_status: u16,
    /// `clientPollTimeout` value, seconds.
    pub client_poll_timeout_secs: i64,
    /// `clientPollTimeout` encoding.
    pub client_poll_timeout_shape: PollTimeoutShape,
    /// Send `ChasitorSessionData` after a reconnect.
    pub session_data_after_reconnect: bool,
    /// `resetSequence` in the ReconnectSession answer.
    pub reset_sequence: bool,
    /// A session not polled for this long is deleted (then 403).
    pub connection_timeout: Duration,
    /// Whether the deployment has agents available (Availability, routing).
    pub agents_available: bool,
    /// Keep a record of every request.
    pub record_requests: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            organization_id: "00DD0000000JVXs".into(),
            deployment_id: "572D000000000J6".into(),
            button_id: "573D000000000OC".into(),
            duplicate_post: DuplicatePost::AcceptSilently,
            post_before_agent_status: 500,
            client_poll_timeout_secs: 40,
            client_poll_timeout_shape: PollTimeoutShape::Number,
            session_data_after_reconnect: true,
            reset_sequence: true,
            connection_timeout: Duration::from_secs(150),
            agents_available: true,
            record_requests: true,
        }
    }
}
