//! Conversation entries as the stream (§7.4, `entryPayload` a JSON string) and the entries list
//! (§6.5, an object) carry them, decoded into one shape.

use serde_json::Value;

use super::{WireError, scalar, unreadable};

/// Who sent an entry (§7.4 sender roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The end user: our own entries, echoed.
    EndUser,
    /// A human agent.
    Agent,
    /// A bot.
    Chatbot,
    /// A supervisor (not a participant of the chat for the user).
    Supervisor,
    /// `System`, `Router` or another role.
    Other(String),
}

impl Role {
    fn of(name: &str) -> Role {
        match name {
            "EndUser" => Role::EndUser,
            "Agent" => Role::Agent,
            "Chatbot" => Role::Chatbot,
            "Supervisor" => Role::Supervisor,
            other => Role::Other(other.to_owned()),
        }
    }
}

/// One participant change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantChange {
    /// `true` for `add`, `false` for `remove`.
    pub added: bool,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Salesforce's id of the participant (`005…` for agents).
    pub subject: String,
}

/// What an entry says (its decoded `entryPayload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A message: its id and text (attachments rendered as `name: url` lines).
    Message {
        /// `abstractMessage.id` (our `message.id` for our own echoes).
        message_id: String,
        /// The text.
        text: String,
    },
    /// Participants joined or left.
    ParticipantChanged(Vec<ParticipantChange>),
    /// A routing outcome.
    RoutingResult {
        /// `Initial`, `Transfer`, …
        routing_type: String,
        /// `None` when routing succeeded.
        failure_type: String,
        /// Estimated wait, when given.
        wait_secs: Option<i64>,
    },
    /// Typing started (`true`) or stopped.
    Typing(bool),
    /// A messaging session changed status (`Ended`, …).
    SessionStatus {
        /// `sessionStatus`.
        status: String,
        /// `sessionEndedByRole`, when ended.
        ended_by: Option<Role>,
    },
    /// The end user closed the conversation.
    Closed,
    /// Delivery or read acknowledgement of one of our entries.
    Acknowledgement,
    /// Any other entry type, by name.
    Other(String),
}

/// One conversation entry, from the stream or the entries list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// `identifier`: the dedupe key (§9).
    pub identifier: String,
    /// Sender's role.
    pub role: Role,
    /// Sender's display name.
    pub sender_name: String,
    /// Server time, epoch milliseconds.
    pub transcripted_at: Option<u64>,
    /// What it says.
    pub payload: Payload,
}

impl Entry {
    /// Decodes the `data` of an entry event (the envelope of §7.4; `entryPayload` a string).
    pub fn from_event_data(data: &str) -> Result<Entry, WireError> {
        let envelope: Value =
            serde_json::from_str(data).map_err(|e| unreadable("stream event", e))?;
        let conversation_id = envelope["conversationId"].as_str().unwrap_or_default();
        Entry::from_value(&envelope["conversationEntry"], conversation_id)
    }

    /// Decodes an entries-list answer (§6.5; `entryPayload` an object or a string), oldest first.
    pub fn list(body: &str, conversation_id: &str) -> Result<Vec<Entry>, WireError> {
        let value: Value = serde_json::from_str(body).map_err(|e| unreadable("entries", e))?;
        let entries = value["conversationEntries"]
            .as_array()
            .ok_or_else(|| unreadable("entries", "no conversationEntries"))?;
        let mut out = entries
            .iter()
            .map(|e| Entry::from_value(e, conversation_id))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|e| e.transcripted_at.unwrap_or(0));
        Ok(out)
    }

    fn from_value(entry: &Value, conversation_id: &str) -> Result<Entry, WireError> {
        let identifier = scalar(&entry["identifier"])
            .or_else(|| scalar(&entry["id"]))
            .ok_or_else(|| unreadable("entry", "no identifier"))?;
        let payload = match &entry["entryPayload"] {
            Value::String(text) => {
                serde_json::from_str(text).map_err(|e| unreadable("entryPayload", e))?
            }
            Value::Object(_) => entry["entryPayload"].clone(),
            _ => Value::Null,
        };
        let entry_type = entry["entryType"]
            .as_str()
            .or_else(|| payload["entryType"].as_str())
            .unwrap_or_default();
        let sender = &entry["sender"];
        Ok(Entry {
            conversation_id: entry["conversationId"]
                .as_str()
                .unwrap_or(conversation_id)
                .to_owned(),
            identifier,
            role: Role::of(sender["role"].as_str().unwrap_or_default()),
            sender_name: entry["senderDisplayName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            transcripted_at: entry["transcriptedTimestamp"].as_u64(),
            payload: Payload::decode(entry_type, &payload),
        })
    }
}

impl Payload {
    fn decode(entry_type: &str, payload: &Value) -> Payload {
        match entry_type {
            "Message" => {
                let message = &payload["abstractMessage"];
                let content = &message["staticContent"];
                let mut text = content["text"].as_str().unwrap_or_default().to_owned();
                for attachment in content["attachments"].as_array().into_iter().flatten() {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    let name = attachment["name"].as_str().unwrap_or("attachment");
                    let url = attachment["url"].as_str().unwrap_or_default();
                    text.push_str(&format!("{name}: {url}"));
                }
                Payload::Message {
                    message_id: scalar(&message["id"])
                        .or_else(|| scalar(&payload["id"]))
                        .unwrap_or_default(),
                    text,
                }
            }
            "ParticipantChanged" => Payload::ParticipantChanged(
                payload["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| ParticipantChange {
                        added: e["operation"].as_str() == Some("add"),
                        name: e["displayName"].as_str().unwrap_or_default().to_owned(),
                        role: Role::of(e["participant"]["role"].as_str().unwrap_or_default()),
                        subject: e["participant"]["subject"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    })
                    .collect(),
            ),
            "RoutingResult" => Payload::RoutingResult {
                routing_type: payload["routingType"]
                    .as_str()
                    .unwrap_or("Initial")
                    .to_owned(),
                failure_type: payload["failureType"].as_str().unwrap_or("None").to_owned(),
                wait_secs: payload["estimatedWaitTime"]["estimatedWaitTimeInSeconds"].as_i64(),
            },
            "TypingStartedIndicator" => Payload::Typing(true),
            "TypingStoppedIndicator" => Payload::Typing(false),
            "SessionStatusChanged" => Payload::SessionStatus {
                status: payload["sessionStatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                ended_by: payload["sessionEndedByRole"].as_str().map(Role::of),
            },
            "CloseConversation" => Payload::Closed,
            "DeliveryAcknowledgement" | "ReadAcknowledgement" => Payload::Acknowledgement,
            other => Payload::Other(other.to_owned()),
        }
    }
}

/// The SSE event names that carry a conversation entry (§7.3); others (`ping`, progress
/// indicators, unknown names) carry none.
pub fn carries_entry(event: &str) -> bool {
    matches!(
        event,
        "CONVERSATION_MESSAGE"
            | "CONVERSATION_PARTICIPANT_CHANGED"
            | "CONVERSATION_ROUTING_RESULT"
            | "CONVERSATION_TYPING_STARTED_INDICATOR"
            | "CONVERSATION_TYPING_STOPPED_INDICATOR"
            | "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT"
            | "CONVERSATION_READ_ACKNOWLEDGEMENT"
            | "CONVERSATION_CLOSE_CONVERSATION"
            | "CONVERSATION_SESSION_STATUS_CHANGED"
    )
}
