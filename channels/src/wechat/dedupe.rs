//! Dedupe keys for WeChat pushes (§4.3), built from decrypted fields only.
//!
//! - Messages: `(ToUserName, FromUserName, MsgId)` — MsgIds alone have collided across users.
//! - Events: `(ToUserName, FromUserName, CreateTime, Event, EventKey)` — one user can trigger
//!   several distinct events in the same second.
//! - Anything else: `(ToUserName, FromUserName, CreateTime, MsgType)`.

use crate::dedupe::DedupeKey;

use super::message::{Message, MessageKind};

/// The dedupe key of a push.
pub fn dedupe_key(msg: &Message) -> DedupeKey {
    let parts: Vec<String> = match (&msg.kind, msg.msg_id) {
        (MessageKind::Event { name, key, .. }, _) => vec![
            "event".into(),
            msg.to.clone(),
            msg.from.clone(),
            msg.create_time.to_string(),
            name.to_ascii_lowercase(),
            key.clone().unwrap_or_default(),
        ],
        (_, Some(id)) => vec![
            "msg".into(),
            msg.to.clone(),
            msg.from.clone(),
            id.to_string(),
        ],
        (kind, None) => vec![
            "other".into(),
            msg.to.clone(),
            msg.from.clone(),
            msg.create_time.to_string(),
            type_name(kind),
        ],
    };
    let escaped: Vec<String> = parts.iter().map(|p| escape(p)).collect();
    DedupeKey(format!("wechat/{}", escaped.join("/")))
}

fn type_name(kind: &MessageKind) -> String {
    match kind {
        MessageKind::Unknown { msg_type } => msg_type.clone(),
        other => format!("{other:?}")
            .split([' ', '{'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// Escapes the separator so that distinct field tuples never produce the same key.
fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('/', "%2F")
}
