//! Decoding the shapes real servers send (spec §4–§5, §9, §12) and encoding exactly.

use switchboard_core::liveagent::event::{AgentInfo, Event};
use switchboard_core::liveagent::responses::{
    ResyncSessionResponse, decode_availability, decode_reconnect,
};
use switchboard_core::liveagent::{MessagesResponse, OutOfSync, SessionIdResponse};

#[test]
fn reads_the_documented_session_id_with_string_poll_timeout_and_old_key_shape() {
    let body = r#"{"clientPollTimeout":"30","key":"f0d4b3a6-0000-4a1b-9f2b-2b0c4a3e9f01!e8f9c6b0-12aa-4c7e-8f0e-1c2b3a4d5e6f","affinityToken":"73061fa0","id":"f0d4b3a6-0000-4a1b-9f2b-2b0c4a3e9f01"}"#;
    let session = SessionIdResponse::decode(body).unwrap();
    assert_eq!(session.client_poll_timeout, Some(30));
    assert_eq!(session.affinity_token, "73061fa0");
    assert!(session.key.starts_with(&session.id));
}

#[test]
fn treats_a_missing_is_available_as_false() {
    let body = r#"{"messages":[{"type":"Availability","message":{"results":[{"id":"573D000000000OC","isAvailable":true},{"id":"573D000000000OD"}]}}]}"#;
    let availability = decode_availability(body).unwrap();
    assert!(availability.results[0].is_available);
    assert!(!availability.results[1].is_available);
    let encoded = serde_json::to_string(&Event::Availability(availability)).unwrap();
    assert!(
        !encoded.contains(r#""isAvailable":false"#),
        "false is encoded by omission"
    );
}

#[test]
fn reads_reconnect_session_wrapped_bare_and_without_reset_sequence() {
    let wrapped = r#"{"messages":[{"type":"ReconnectSession","message":{"resetSequence":true,"affinityToken":"efae1fa0"}}]}"#;
    assert_eq!(
        decode_reconnect(wrapped).unwrap().affinity_token,
        "efae1fa0"
    );
    let bare = r#"{"resetSequence":false,"affinityToken":"99b51fa0"}"#;
    let reconnect = decode_reconnect(bare).unwrap();
    assert!(!reconnect.reset_sequence);
    let missing =
        r#"{"messages":[{"type":"ReconnectSession","message":{"affinityToken":"99b51fa0"}}]}"#;
    assert!(
        decode_reconnect(missing).unwrap().reset_sequence,
        "missing means true"
    );
}

#[test]
fn reads_resync_session_bare_or_wrapped() {
    let bare = r#"{"isValid":true,"key":"k!1!s","affinityToken":"878a1fa0"}"#;
    assert!(ResyncSessionResponse::decode(bare).unwrap().is_valid);
    let wrapped = r#"{"messages":[{"type":"ResyncSession","message":{"isValid":false}}]}"#;
    assert!(!ResyncSessionResponse::decode(wrapped).unwrap().is_valid);
}

#[test]
fn keeps_unknown_and_malformed_events_verbatim() {
    let body = r#"{"messages":[{"type":"TransferToButtonInitiated","message":{"buttonId":"573x"}},{"type":"ChatMessage","message":"not an object"}],"sequence":"4"}"#;
    let batch = MessagesResponse::decode(body).unwrap();
    assert_eq!(batch.sequence, Some(4));
    assert_eq!(batch.offset, None, "offset is absent on this response");
    assert_eq!(batch.messages[0].kind(), "TransferToButtonInitiated");
    assert!(matches!(&batch.messages[1], Event::Unknown { kind, .. } if kind == "ChatMessage"));
    let again = serde_json::to_string(&batch.messages[0]).unwrap();
    assert_eq!(
        again,
        r#"{"type":"TransferToButtonInitiated","message":{"buttonId":"573x"}}"#
    );
}

#[test]
fn reads_agent_events_with_missing_booleans_and_empty_messages() {
    let body = r#"{"messages":[{"type":"ChatEstablished","message":{"name":"Andy L.","userId":"005B0000000F3b2"}},{"type":"AgentDisconnect","message":null},{"type":"AgentTyping"}],"sequence":2,"offset":99}"#;
    let batch = MessagesResponse::decode(body).unwrap();
    assert_eq!(
        batch.messages[0],
        Event::ChatEstablished(AgentInfo {
            name: "Andy L.".into(),
            user_id: "005B0000000F3b2".into(),
            sneak_peek_enabled: false,
            chasitor_idle_timeout: None,
        })
    );
    assert_eq!(batch.messages[1], Event::AgentDisconnect);
    assert_eq!(batch.messages[2].kind(), "AgentTyping");
}

#[test]
fn parses_out_of_sync_bodies_in_text_and_json() {
    let text = OutOfSync::parse("Out of sync Ack. Expected 498. Actual 4").unwrap();
    assert_eq!((text.expected, text.actual), (498, 4));
    let json = OutOfSync::parse(r#"{"message":"Out of sync Ack. Expected 3. Actual 2"}"#).unwrap();
    assert_eq!((json.expected, json.actual), (3, 2));
    assert_eq!(OutOfSync::parse("Conflict"), None);
    assert_eq!(text.to_body(), "Out of sync Ack. Expected 498. Actual 4");
}
