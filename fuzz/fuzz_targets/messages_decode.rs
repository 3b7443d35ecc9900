//! Lenient decoding must never panic, whatever the server sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::liveagent::responses::{decode_availability, decode_reconnect};
use switchboard_core::liveagent::{MessagesResponse, OutOfSync, SessionIdResponse};

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    if let Ok(batch) = MessagesResponse::decode(&body) {
        // Whatever decodes must encode again.
        let _ = serde_json::to_string(&batch).map(|s| MessagesResponse::decode(&s).map(drop));
    }
    let _ = SessionIdResponse::decode(&body);
    let _ = decode_reconnect(&body);
    let _ = decode_availability(&body);
    let _ = OutOfSync::parse(&body);
});
