//! The mirror loaded from the tables (every row at open, or one shard's when an instance takes
//! it), decoded with the same versioned readers as the sled store. An action that no longer decodes is logged and left out, and its row removed
//! (the sled store drops such an action when it reaches it); any other record that does not
//! decode stops the open.

use tokio_postgres::Client;
use tracing::error;

use super::connect::{Target, sql};
use super::writer::ActionKey;
use crate::store::decode;
use crate::store::{ActionId, ChatId, ConversationId, Lane, MemoryStore, StoreError, WebhookKey};

/// A key column as the engine's id (ids are UTF-8; anything else is shown, not refused).
fn id(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `SELECT {columns} FROM switchboard.{table}`, of one shard when `shard` is given.
async fn rows(
    client: &Client,
    target: &Target,
    columns: &str,
    table: &str,
    shard: Option<u16>,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let result = match shard {
        None => {
            client
                .query(&format!("SELECT {columns} FROM switchboard.{table}"), &[])
                .await
        }
        Some(shard) => {
            let query = format!("SELECT {columns} FROM switchboard.{table} WHERE shard = $1");
            client.query(&query, &[&(shard as i16)]).await
        }
    };
    result.map_err(|e| sql(target, e))
}

/// Puts every record (of `shard`, if given) into `mirror`; returns the keys (and shards) of
/// actions that had to be left out.
pub(super) async fn into(
    mirror: &MemoryStore,
    client: &Client,
    target: &Target,
    shard: Option<u16>,
) -> Result<Vec<(u16, ActionKey)>, StoreError> {
    for row in rows(client, target, "chat, record", "sessions", shard).await? {
        let record = decode::session(row.get(1))?;
        mirror.put_session(ChatId(id(row.get(0))), record);
    }
    for row in rows(client, target, "chat, seq, event", "outbox", shard).await? {
        let event = decode::outbox_event(row.get(2))?;
        mirror.put_outbox(ChatId(id(row.get(0))), row.get::<_, i64>(1) as u64, event);
    }
    for row in rows(client, target, "id, record", "conversations", shard).await? {
        let record = decode::conversation(row.get(1))?;
        mirror.put_conversation(ConversationId(id(row.get(0))), record);
    }
    let mut dropped = Vec::new();
    let columns = "conversation, lane, seq, action, shard";
    for row in rows(client, target, columns, "actions", shard).await? {
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
        .and_then(|lane| Ok((lane, decode::action(row.get(3))?)));
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
                dropped.push((row.get::<_, i16>(4) as u16, key));
            }
        }
    }
    for row in rows(client, target, "key, at_ms", "inbox", shard).await? {
        mirror.put_webhook_key(WebhookKey(id(row.get(0))), row.get::<_, i64>(1) as u64);
    }
    Ok(dropped)
}
