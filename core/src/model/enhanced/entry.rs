//! Conversation entries as the server keeps them, and their two wire forms (§7.4, §6.5): the
//! SSE envelope, whose `entryPayload` is a JSON string, and the entries-list item, whose
//! `entryPayload` is an object (or a string, by knob). Also the payload of each entry type.

use serde_json::{Value, json};

/// Who sent an entry (§7.4 sender roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end user (our side).
    EndUser,
    /// A human agent.
    Agent,
    /// The platform.
    System,
    /// Omni-Channel routing.
    Router,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::EndUser => "EndUser",
            Role::Agent => "Agent",
            Role::System => "System",
            Role::Router => "Router",
        }
    }

    fn app_type(self) -> &'static str {
        match self {
            Role::EndUser => "iamessage",
            Role::Agent => "agent",
            Role::System | Role::Router => "conversation",
        }
    }
}

/// An entry's sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Its role.
    pub role: Role,
    /// Its subject (end-user subject, agent user id, or a system name).
    pub subject: String,
    /// Display name.
    pub display_name: String,
}

impl Sender {
    fn json(&self) -> Value {
        json!({
            "role": self.role.as_str(),
            "appType": self.role.app_type(),
            "subject": self.subject,
            "clientIdentifier": self.subject,
        })
    }
}

/// One conversation entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `identifier` (for messages, the abstract message id).
    pub identifier: String,
    /// The conversation.
    pub conversation_id: String,
    /// `entryType`, e.g. `Message`.
    pub entry_type: &'static str,
    /// Sender.
    pub sender: Sender,
    /// The decoded `entryPayload`.
    pub payload: Value,
    /// Server time, epoch-style milliseconds of the model clock.
    pub transcripted_timestamp: u64,
    /// The client's timestamp (the server's for server-made entries).
    pub client_timestamp: u64,
    /// `relatedRecords` (for receipts: the acknowledged message's id).
    pub related_records: Vec<String>,
}

impl Entry {
    /// The SSE event name of this entry (§7.3).
    pub fn event_name(&self) -> &'static str {
        event_name(self.entry_type)
    }

    /// The `conversationEntry` object; `payload_as_string` picks the SSE form.
    pub fn entry_json(&self, payload_as_string: bool) -> Value {
        let payload = if payload_as_string {
            Value::String(self.payload.to_string())
        } else {
            self.payload.clone()
        };
        json!({
            "identifier": self.identifier,
            "entryType": self.entry_type,
            "senderDisplayName": self.sender.display_name,
            "sender": self.sender.json(),
            "entryPayload": payload,
            "transcriptedTimestamp": self.transcripted_timestamp,
            "clientTimestamp": self.client_timestamp,
            "clientDuration": 0,
            "relatedRecords": self.related_records,
            "contextParamMap": {},
            "visibilityStrategy": "Standard",
            "conversationId": self.conversation_id,
        })
    }

    /// The SSE `data:` envelope (§7.4).
    pub fn envelope(&self, channel_platform_key: &str, channel_address: &str) -> Value {
        json!({
            "channelPlatformKey": channel_platform_key,
            "channelType": "embedded_messaging",
            "channelAddressIdentifier": channel_address,
            "conversationId": self.conversation_id,
            "conversationEntry": self.entry_json(true),
        })
    }
}

/// The SSE event name for an entry type.
pub fn event_name(entry_type: &str) -> &'static str {
    match entry_type {
        "Message" => "CONVERSATION_MESSAGE",
        "ParticipantChanged" => "CONVERSATION_PARTICIPANT_CHANGED",
        "RoutingResult" => "CONVERSATION_ROUTING_RESULT",
        "TypingStartedIndicator" => "CONVERSATION_TYPING_STARTED_INDICATOR",
        "TypingStoppedIndicator" => "CONVERSATION_TYPING_STOPPED_INDICATOR",
        "DeliveryAcknowledgement" => "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT",
        "ReadAcknowledgement" => "CONVERSATION_READ_ACKNOWLEDGEMENT",
        "CloseConversation" => "CONVERSATION_CLOSE_CONVERSATION",
        "SessionStatusChanged" => "CONVERSATION_SESSION_STATUS_CHANGED",
        _ => "CONVERSATION_UNKNOWN",
    }
}

/// Whether entries of this type are kept for the entries list (typing indicators are not).
pub fn is_transcripted(entry_type: &str) -> bool {
    !matches!(
        entry_type,
        "TypingStartedIndicator" | "TypingStoppedIndicator"
    )
}

/// A text message payload (§7.4, StaticContentMessage / Text): `id` is the entry's,
/// `message_id` the abstract message's (the same unless a duplicate was stored again).
pub fn text_payload(id: &str, message_id: &str, text: &str, in_reply_to: Option<&str>) -> Value {
    json!({
        "entryType": "Message",
        "id": id,
        "abstractMessage": {
            "messageType": "StaticContentMessage",
            "id": message_id,
            "inReplyToMessageId": in_reply_to,
            "references": [],
            "staticContent": {"formatType": "Text", "text": text},
        },
        "messageReason": null,
    })
}

/// An attachments message payload (§7.4).
pub fn attachment_payload(id: &str, name: &str, mime_type: &str, url: &str) -> Value {
    json!({
        "entryType": "Message",
        "id": id,
        "abstractMessage": {
            "messageType": "StaticContentMessage",
            "id": id,
            "inReplyToMessageId": null,
            "references": [],
            "staticContent": {
                "formatType": "Attachments",
                "text": null,
                "attachments": [{
                    "name": name, "id": id, "mimeType": mime_type, "url": url,
                    "referenceId": id, "attachmentUploadResult": {},
                }],
            },
        },
        "messageReason": null,
    })
}

/// A participant joining (`add`) or leaving (`remove`).
pub fn participant_payload(id: &str, operation: &str, agent: &Sender) -> Value {
    json!({
        "entryType": "ParticipantChanged",
        "id": id,
        "entries": [{
            "operation": operation,
            "displayName": agent.display_name,
            "menuMetadata": null,
            "participant": agent.json(),
        }],
    })
}

/// A routing outcome: `routingType` Initial / Transfer, `failureType` None / RoutingError.
pub fn routing_payload(id: &str, routing_type: &str, failed: bool) -> Value {
    json!({
        "entryType": "RoutingResult",
        "id": id,
        "routingType": routing_type,
        "failureType": if failed { "RoutingError" } else { "None" },
        "failureReason": if failed { Value::from("No agent is available") } else { Value::Null },
        "estimatedWaitTime": {"estimatedWaitTimeInSeconds": null, "isEWTRequested": false},
    })
}

/// A typing indicator.
pub fn typing_payload(id: &str, started: bool) -> Value {
    let kind = if started {
        "TypingStartedIndicator"
    } else {
        "TypingStoppedIndicator"
    };
    json!({ "entryType": kind, "id": id })
}

/// A delivery or read receipt.
pub fn ack_payload(id: &str, read: bool, at: u64) -> Value {
    let kind = if read {
        "ReadAcknowledgement"
    } else {
        "DeliveryAcknowledgement"
    };
    json!({ "entryType": kind, "id": id, "acknowledgementTimestamp": at })
}

/// A messaging session ended.
pub fn session_ended_payload(id: &str, ended_by: Role) -> Value {
    json!({
        "entryType": "SessionStatusChanged",
        "id": id,
        "sessionStatus": "Ended",
        "sessionEndedByRole": ended_by.as_str(),
    })
}

/// The end user closed the conversation.
pub fn close_payload(id: &str, conversation_id: &str) -> Value {
    json!({ "entryType": "CloseConversation", "id": id, "conversationIdentifier": conversation_id })
}
