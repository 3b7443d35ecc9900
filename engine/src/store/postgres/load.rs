//! The mirror loaded from the tables at open, decoded with the same versioned readers as the
//! sled store. An action that no longer decodes is logged and left out, and its row removed
//! (the sled store drops such an action when it reaches it); any other record that does not
//! decode stops the open.

use switchboard_core::session::SessionEvent;
use tokio_postgres::Client;
use tracing::error;

use super::connect::{Target, sql};
use super::writer::ActionKey;
use crate::store::envelope::{decode_changed_in, decode_migrating};
use crate::store::records::{ActionV1, ConversationRecordV1, SessionRecordV1};
use crate::store::{
    Action, ActionId, ChatId, ConversationId, ConversationRecord, Lane, MemoryStore, OutboxEvent,
    SessionRecord, StoreError, WebhookKey,
};

/// A key column as the engine's id (ids are UTF-8; anything else is shown, not refused).
fn id(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Every record, and the keys of actions that had to be left out.
pub(super) async fn mirror(
    client: &Client,
    target: &Target,
) -> Result<(MemoryStore, Vec<ActionKey>), StoreError> {
    let e = |e| sql(target, e);
    let mirror = MemoryStore::new();
    for row in client
        .query("SELECT chat, record FROM switchboard.sessions", &[])
        .await
        .map_err(e)?
    {
        let record = decode_migrating::<SessionRecord, SessionRecordV1>(row.get(1))?;
        mirror.put_session(ChatId(id(row.get(0))), record);
    }
    for row in client
        .query("SELECT chat, seq, event FROM switchboard.outbox", &[])
        .await
        .map_err(e)?
    {
        let event = decode_changed_in::<OutboxEvent, SessionEvent>(row.get(2), 3)?;
        mirror.put_outbox(ChatId(id(row.get(0))), row.get::<_, i64>(1) as u64, event);
    }
    for row in client
        .query("SELECT id, record FROM switchboard.conversations", &[])
        .await
        .map_err(e)?
    {
        let record = decode_migrating::<ConversationRecord, ConversationRecordV1>(row.get(1))?;
        mirror.put_conversation(ConversationId(id(row.get(0))), record);
    }
    let mut dropped = Vec::new();
    for row in client
        .query(
            "SELECT conversation, lane, seq, action FROM switchboard.actions",
            &[],
        )
        .await
        .map_err(e)?
    {
        let key = ActionKey {
            conversation: row.get(0),
            lane: row.get(1),
            seq: row.get(2),
        };
        let decoded = match key.lane {
            0 => Ok(Lane::Session),
            1 => Ok(Lane::User),
            other => Err(StoreError::Corrupt(format!("unknown lane {other}"))),
        }
        .and_then(|lane| Ok((lane, decode_migrating::<Action, ActionV1>(row.get(3))?)));
        match decoded {
            Ok((lane, action)) => {
                let id = ActionId {
                    conversation: ConversationId(id(key.conversation.clone())),
                    lane,
                    seq: key.seq as u64,
                };
                mirror.put_action(id, action);
            }
            Err(why) => {
                error!(conversation = %String::from_utf8_lossy(&key.conversation), seq = key.seq, error = %why,
                    "undecodable action dropped");
                dropped.push(key);
            }
        }
    }
    for row in client
        .query("SELECT key, at_ms FROM switchboard.inbox", &[])
        .await
        .map_err(e)?
    {
        mirror.put_webhook_key(WebhookKey(id(row.get(0))), row.get::<_, i64>(1) as u64);
    }
    Ok((mirror, dropped))
}
