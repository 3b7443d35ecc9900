//! Whatever an Enhanced Chat server streams or answers, the client neither panics nor loses
//! its footing: the bytes go through the SSE parser (split at a point the input chooses), each
//! event through the entry decoder and into an open conversation machine; the same bytes as a
//! REST body through the token and entries decoders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::enhanced::chat::{EnhancedChat, EnhancedConfig, EnhancedStart, Input, Output};
use switchboard_core::enhanced::sse::SseParser;
use switchboard_core::enhanced::wire::{Deployment, Entry, TokenAnswer};
use switchboard_core::time::Timestamp;

const CONVERSATION: &str = "6b1f7a2c-3d4e-4f50-8a61-7b8c9d0e1f2a";

/// A machine with its conversation open and its stream connected; the stream's id.
fn open_chat(now: Timestamp) -> (EnhancedChat, switchboard_core::enhanced::chat::RequestId) {
    let config = EnhancedConfig::new(Deployment {
        org_id: "00D5g000004SBXs".into(),
        es_developer_name: "Switchboard_Client".into(),
        client_version: "fuzz".into(),
    });
    let start = EnhancedStart {
        conversation_id: CONVERSATION.into(),
        verified_subject: None,
        routing_attributes: Default::default(),
        language: None,
    };
    let mut chat = EnhancedChat::new(config, start, now);
    let mut stream = None;
    for answer in [r#"{"accessToken":"t","lastEventId":"1"}"#, "{}", r#"{"conversationEntries":[]}"#] {
        let mut request = None;
        while let Some(output) = chat.poll_output() {
            match output {
                Output::Request { id, .. } => request = Some(id),
                Output::OpenStream { id, .. } => stream = Some(id),
                _ => {}
            }
        }
        if let Some(id) = stream.filter(|_| request.is_none()) {
            let _ = chat.handle(Input::StreamOpened { id }, now);
            while let Some(output) = chat.poll_output() {
                if let Output::Request { id, .. } = output {
                    request = Some(id);
                }
            }
        }
        if let Some(id) = request {
            let status = if answer == "{}" { 201 } else { 200 };
            let _ = chat.handle(Input::Response { id, status, body: answer.into() }, now);
        }
    }
    while chat.poll_output().is_some() {}
    (chat, stream.expect("a stream"))
}

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let _ = TokenAnswer::parse(&body);
    let _ = Entry::list(&body, CONVERSATION);

    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut parser = SseParser::new(64 * 1024);
    let mut events = Vec::new();
    for chunk in [&data[..split], &data[split..]] {
        match parser.feed(chunk) {
            Ok(more) => events.extend(more),
            Err(_) => break,
        }
    }
    let now = Timestamp::from_millis(1_764_000_000_000);
    let (mut chat, stream) = open_chat(now);
    for event in events {
        let _ = Entry::from_event_data(&event.data);
        chat.handle(Input::StreamEvent { id: stream, event }, now)
            .expect("stream events are always taken");
        while chat.poll_output().is_some() {}
    }
});
