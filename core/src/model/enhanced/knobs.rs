//! Behaviours `spec/enhanced-chat.md` leaves UNCONFIRMED, as settings. The defaults are the
//! strict, faithful reading of §10; each field names the section it comes from.

use std::time::Duration;

/// What a second `message` with an already accepted `message.id` does (§6.1, U).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateMessage {
    /// Answers as if accepted, stores and echoes nothing new.
    Ignore,
    /// 409 Conflict.
    Conflict,
    /// Stores and echoes it again, as a second entry.
    Duplicate,
}

/// Whether an SSE connect replays the subject's events after its `Last-Event-Id` (§7.2, U).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Events with an id above `Last-Event-Id` are sent first.
    AfterLastEventId,
    /// Only events that happen after the connect are sent.
    None,
}

/// How an expired token is refused on the SSE endpoint (§4.4, U).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiredStreamShape {
    /// 401 with the plain text `Jwt is expired`.
    Text,
    /// 401 with `{"status":401,"error":"Unauthorized","path":"/eventrouter/v1/sse"}`.
    Json,
}

/// How `entryPayload` is encoded in the entries list (§6.5: an object, one client says string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPayload {
    /// `"entryPayload":{…}`.
    Object,
    /// `"entryPayload":"{…}"`, as on SSE.
    String,
}

/// What the authenticated token endpoint does with an identity token it cannot verify (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnverifiedIdentity {
    /// 401 with a `message` saying why.
    Reject,
    /// 200 with an anonymous subject (one source reports this silent fallback).
    FallBackToAnonymous,
}

/// What routing does when a session asks for an agent (§10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingOutcome {
    /// `RoutingResult` Initial / None; the session waits for an agent.
    Succeed,
    /// `RoutingResult` Initial / `RoutingError`; the session needs routing again.
    Fail,
}

/// The verified-user keyset the authenticated token endpoint checks against (§4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityKeyset {
    /// Keyset name; it appears in the subject `v2/iamessage/AUTH/{keyset}/uid:{sub}`.
    pub name: String,
    /// The `iss` a token must carry.
    pub issuer: String,
    /// RSA public key as DER `RSAPublicKey` (PKCS#1); `None` skips the signature check.
    pub public_key_der: Option<Vec<u8>>,
}

/// The simulator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knobs {
    /// The org id (15 characters) the token endpoint and `X-Org-Id` must carry.
    pub org_id: String,
    /// `X-Org-Id` may also be the 18-character form (§2.1, U).
    pub accept_18_char_org_id: bool,
    /// The deployment's `esDeveloperName`.
    pub es_developer_name: String,
    /// Whether create, message and close must carry the right `esDeveloperName`.
    pub require_es_developer_name: bool,
    /// Lifetime of unauthenticated tokens (§4.4: 1 h).
    pub token_lifetime: Duration,
    /// Lifetime of verified-user tokens (§4.4: 6 h).
    pub verified_token_lifetime: Duration,
    /// Access-token requests per rolling minute for the org (§8: 200), then 429.
    pub tokens_per_minute: u32,
    /// Verified-user keyset; `None` refuses every authenticated token request with 401.
    pub identity: Option<IdentityKeyset>,
    /// What an unverifiable identity token gets.
    pub unverified_identity: UnverifiedIdentity,
    /// Status for a conversation owned by another subject (§10: 404; 401/403 seen).
    pub foreign_conversation_status: u16,
    /// Whether `conversationId` must be a version-4 UUID (§5.1, U), not just a lowercase UUID.
    pub require_uuid_v4: bool,
    /// Create with an existing id of the same subject: `true` 409, `false` idempotent success.
    pub duplicate_conversation_conflict: bool,
    /// Status of a successful create (§5.1: 200/201 U).
    pub create_status: u16,
    /// Status of an accepted message, typing entry or acknowledgement (§6.1: 202 U).
    pub accepted_status: u16,
    /// Status of a successful close or session end (§5.4: U).
    pub close_status: u16,
    /// Status of a send into a closed conversation (§5.4: 4xx U).
    pub closed_conversation_status: u16,
    /// Time from a session asking for an agent to its `RoutingResult` (queue delay).
    pub routing_delay: Duration,
    /// Routing success or failure.
    pub routing: RoutingOutcome,
    /// Inbound end-user messages per conversation per rolling minute (§8: 22), then 429.
    pub messages_per_minute: u32,
    /// Duplicate `message.id`.
    pub duplicate_message: DuplicateMessage,
    /// The echo's entry `identifier` is the client's `message.id` (§6.1, U); else a fresh id.
    pub echo_uses_message_id: bool,
    /// `Retry-After` seconds on a 429 (§8: U); `None` sends no header.
    pub retry_after_secs: Option<u32>,
    /// `Last-Event-Id` is required on SSE connect (§7.1: 400 U).
    pub require_last_event_id: bool,
    /// Replay on SSE connect.
    pub replay: Replay,
    /// 401 shape on SSE for an expired token.
    pub expired_stream_shape: ExpiredStreamShape,
    /// `entryPayload` in the entries list.
    pub list_payload: ListPayload,
    /// `channelAddressIdentifier` in every event envelope.
    pub channel_address_identifier: String,
    /// Keep a record of every request.
    pub record_requests: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            org_id: "00D5g000004SBXs".into(),
            accept_18_char_org_id: false,
            es_developer_name: "Switchboard_Client".into(),
            require_es_developer_name: true,
            token_lifetime: Duration::from_secs(3600),
            verified_token_lifetime: Duration::from_secs(6 * 3600),
            tokens_per_minute: 200,
            identity: Some(IdentityKeyset {
                name: "switchboard".into(),
                issuer: super::identity::TEST_ISSUER.into(),
                public_key_der: Some(super::identity::TEST_PUBLIC_KEY_DER.to_vec()),
            }),
            unverified_identity: UnverifiedIdentity::Reject,
            foreign_conversation_status: 404,
            require_uuid_v4: true,
            duplicate_conversation_conflict: true,
            create_status: 201,
            accepted_status: 202,
            close_status: 204,
            closed_conversation_status: 400,
            routing_delay: Duration::from_millis(200),
            routing: RoutingOutcome::Succeed,
            messages_per_minute: 22,
            duplicate_message: DuplicateMessage::Ignore,
            echo_uses_message_id: true,
            retry_after_secs: None,
            require_last_event_id: true,
            replay: Replay::AfterLastEventId,
            expired_stream_shape: ExpiredStreamShape::Text,
            list_payload: ListPayload::Object,
            channel_address_identifier: "6f2b1c3d-0a4e-4b5f-9c8d-7e6f5a4b3c2d".into(),
            record_requests: true,
        }
    }
}
