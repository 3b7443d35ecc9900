//! Dedupe keys for WeChat pushes (§4.3), built from decrypted fields only.
//!
//! - Messages: `(ToUserName, FromUserName, MsgId)` — MsgIds alone have collided across users.
//! - Events: `(ToUserName, FromUserName, CreateTime, Event, EventKey)` — one user can trigger
//!   several distinct events in the same second.
//! - Anything else: `(ToUserName, FromUserName, CreateTime, MsgType)`.

use std::fmt::Write as _;

use crate::dedupe::DedupeKey;

use super::message::{Message, MessageKind};

/// The dedupe key of a push: `wechat/` and the parts joined by `/`, each part escaped.
pub fn dedupe_key(msg: &Message) -> DedupeKey {
    let mut key = KeyBuilder::new();
    match (&msg.kind, msg.msg_id) {
        (
            MessageKind::Event {
                name,
                key: event_key,
                ..
            },
            _,
        ) => key
            .part("event")
            .part(&msg.to)
            .part(&msg.from)
            .number(msg.create_time)
            .part_lowercase(name)
            .part(event_key.as_deref().unwrap_or_default()),
        (_, Some(id)) => key.part("msg").part(&msg.to).part(&msg.from).number(id),
        (kind, None) => key
            .part("other")
            .part(&msg.to)
            .part(&msg.from)
            .number(msg.create_time)
            .part(type_name(kind)),
    };
    DedupeKey(key.0)
}

fn type_name(kind: &MessageKind) -> &str {
    match kind {
        MessageKind::Text { .. } => "Text",
        MessageKind::Image { .. } => "Image",
        MessageKind::Voice { .. } => "Voice",
        MessageKind::Video { .. } => "Video",
        MessageKind::Location { .. } => "Location",
        MessageKind::Link { .. } => "Link",
        MessageKind::Event { .. } => "Event",
        MessageKind::Unknown { msg_type } => msg_type,
    }
}

/// A key under construction.
struct KeyBuilder(String);

impl KeyBuilder {
    fn new() -> Self {
        let mut key = String::with_capacity(96);
        key.push_str("wechat");
        Self(key)
    }

    fn part(&mut self, part: &str) -> &mut Self {
        if part.contains(['%', '/']) {
            return self.escaped(part.chars());
        }
        self.0.push('/');
        self.0.push_str(part);
        self
    }

    fn part_lowercase(&mut self, part: &str) -> &mut Self {
        self.escaped(part.chars().map(|c| c.to_ascii_lowercase()))
    }

    fn number(&mut self, n: u64) -> &mut Self {
        self.0.push('/');
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{n}");
        self
    }

    /// Appends `/` and the part with the separator escaped (and `%`, the escape itself), so that
    /// distinct field tuples never produce the same key.
    fn escaped(&mut self, part: impl Iterator<Item = char>) -> &mut Self {
        self.0.push('/');
        for c in part {
            match c {
                '%' => self.0.push_str("%25"),
                '/' => self.0.push_str("%2F"),
                c => self.0.push(c),
            }
        }
        self
    }
}
