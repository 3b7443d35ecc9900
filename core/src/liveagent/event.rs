//! Server → visitor events, the `{"type": …, "message": {…}}` envelopes inside `messages[]`
//! (spec §5). Decoding is lenient and never fails on an unknown or malformed event: such an
//! event is kept as [`Event::Unknown`] with its raw JSON, and encodes back to the same envelope.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::bodies::CustomDetail;
use super::lenient;

/// One event of a `Messages` batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The request was routed to agents; not yet accepted.
    ChatRequestSuccess(ChatRequestSuccess),
    /// The request was rejected. Terminal.
    ChatRequestFail(ChatRequestFail),
    /// Position in the queue changed.
    QueueUpdate(QueueUpdate),
    /// An agent accepted the chat; the visitor may now send.
    ChatEstablished(AgentInfo),
    /// Text from the agent (or a bot).
    ChatMessage(AgentMessage),
    /// The agent started typing.
    AgentTyping(AgentRef),
    /// The agent stopped typing.
    AgentNotTyping(AgentRef),
    /// The agent lost its connection; the chat stays alive.
    AgentDisconnect,
    /// Another agent took over.
    ChatTransferred(AgentInfo),
    /// The chat ended. Terminal.
    ChatEnded(ChatEnded),
    /// First event after a reconnect: the state of the chat so far.
    ChasitorSessionData(ChasitorSessionData),
    /// A custom event from the agent console.
    CustomEvent(CustomEvent),
    /// A visitor breadcrumb.
    NewVisitorBreadcrumb(Breadcrumb),
    /// The agent asked for (or cancelled, or finished) a file upload.
    FileTransfer(FileTransfer),
    /// Data-masking rules to apply before sending.
    SensitiveDataRules(SensitiveDataRules),
    /// Answer to `ReconnectSession`.
    ReconnectSession(ReconnectSession),
    /// Answer to `Visitor/Availability`.
    Availability(Availability),
    /// The org lives on another host now.
    SwitchServer(SwitchServer),
    /// Asynchronous outcome of an earlier request.
    AsyncResult(AsyncResult),
    /// Any other event, kept verbatim (type name and raw `message` JSON).
    Unknown {
        /// The `type` string.
        kind: String,
        /// The raw `message` value.
        message: Value,
    },
}

impl Event {
    /// The wire `type` of this event.
    pub fn kind(&self) -> &str {
        match self {
            Event::ChatRequestSuccess(_) => "ChatRequestSuccess",
            Event::ChatRequestFail(_) => "ChatRequestFail",
            Event::QueueUpdate(_) => "QueueUpdate",
            Event::ChatEstablished(_) => "ChatEstablished",
            Event::ChatMessage(_) => "ChatMessage",
            Event::AgentTyping(_) => "AgentTyping",
            Event::AgentNotTyping(_) => "AgentNotTyping",
            Event::AgentDisconnect => "AgentDisconnect",
            Event::ChatTransferred(_) => "ChatTransferred",
            Event::ChatEnded(_) => "ChatEnded",
            Event::ChasitorSessionData(_) => "ChasitorSessionData",
            Event::CustomEvent(_) => "CustomEvent",
            Event::NewVisitorBreadcrumb(_) => "NewVisitorBreadcrumb",
            Event::FileTransfer(_) => "FileTransfer",
            Event::SensitiveDataRules(_) => "SensitiveDataRules",
            Event::ReconnectSession(_) => "ReconnectSession",
            Event::Availability(_) => "Availability",
            Event::SwitchServer(_) => "SwitchServer",
            Event::AsyncResult(_) => "AsyncResult",
            Event::Unknown { kind, .. } => kind,
        }
    }

    fn from_envelope(kind: String, message: Value) -> Event {
        fn typed<T: DeserializeOwned>(
            message: &Value,
            wrap: impl FnOnce(T) -> Event,
        ) -> Option<Event> {
            let message = if message.is_null() {
                Value::Object(Default::default())
            } else {
                message.clone()
            };
            serde_json::from_value(message).ok().map(wrap)
        }
        let parsed = match kind.as_str() {
            "ChatRequestSuccess" => typed(&message, Event::ChatRequestSuccess),
            "ChatRequestFail" => typed(&message, Event::ChatRequestFail),
            "QueueUpdate" => typed(&message, Event::QueueUpdate),
            "ChatEstablished" => typed(&message, Event::ChatEstablished),
            "ChatMessage" => typed(&message, Event::ChatMessage),
            "AgentTyping" => typed(&message, Event::AgentTyping),
            "AgentNotTyping" => typed(&message, Event::AgentNotTyping),
            "AgentDisconnect" => Some(Event::AgentDisconnect),
            "ChatTransferred" => typed(&message, Event::ChatTransferred),
            "ChatEnded" => typed(&message, Event::ChatEnded),
            "ChasitorSessionData" => typed(&message, Event::ChasitorSessionData),
            "CustomEvent" => typed(&message, Event::CustomEvent),
            "NewVisitorBreadcrumb" => typed(&message, Event::NewVisitorBreadcrumb),
            "FileTransfer" => typed(&message, Event::FileTransfer),
            "SensitiveDataRules" => typed(&message, Event::SensitiveDataRules),
            "ReconnectSession" => typed(&message, Event::ReconnectSession),
            "Availability" => typed(&message, Event::Availability),
            "SwitchServer" => typed(&message, Event::SwitchServer),
            "AsyncResult" => typed(&message, Event::AsyncResult),
            _ => None,
        };
        parsed.unwrap_or(Event::Unknown { kind, message })
    }

    fn message_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            Event::ChatRequestSuccess(m) => serde_json::to_value(m),
            Event::ChatRequestFail(m) => serde_json::to_value(m),
            Event::QueueUpdate(m) => serde_json::to_value(m),
            Event::ChatEstablished(m) | Event::ChatTransferred(m) => serde_json::to_value(m),
            Event::ChatMessage(m) => serde_json::to_value(m),
            Event::AgentTyping(m) | Event::AgentNotTyping(m) => serde_json::to_value(m),
            Event::AgentDisconnect => Ok(Value::Object(Default::default())),
            Event::ChatEnded(m) => serde_json::to_value(m),
            Event::ChasitorSessionData(m) => serde_json::to_value(m),
            Event::CustomEvent(m) => serde_json::to_value(m),
            Event::NewVisitorBreadcrumb(m) => serde_json::to_value(m),
            Event::FileTransfer(m) => serde_json::to_value(m),
            Event::SensitiveDataRules(m) => serde_json::to_value(m),
            Event::ReconnectSession(m) => serde_json::to_value(m),
            Event::Availability(m) => serde_json::to_value(m),
            Event::SwitchServer(m) => serde_json::to_value(m),
            Event::AsyncResult(m) => serde_json::to_value(m),
            Event::Unknown { message, .. } => Ok(message.clone()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    kind: String,
    #[serde(default)]
    message: Value,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let envelope = Envelope::deserialize(d)?;
        Ok(Event::from_envelope(envelope.kind, envelope.message))
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let message = self.message_value().map_err(serde::ser::Error::custom)?;
        Envelope {
            kind: self.kind().to_owned(),
            message,
        }
        .serialize(s)
    }
}

/// `ChatRequestSuccess`: routed, waiting for an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChatRequestSuccess {
    /// Position in the queue (always 0 with Omni-Channel routing).
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub queue_position: Option<i64>,
    /// Estimated wait in seconds, `-1` when unknown (v47+).
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_wait_time: Option<i64>,
    /// How long (milliseconds) failed polls may be retried before the session is lost.
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_timeout: Option<i64>,
    /// Visitor id.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub visitor_id: Option<String>,
    /// Post-chat page.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub post_chat_url: Option<String>,
    /// Custom details echoed back.
    #[serde(
        deserialize_with = "lenient::vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub custom_details: Vec<CustomDetail>,
    /// Masking rules to apply before sending.
    #[serde(
        deserialize_with = "lenient::vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sensitive_data_rules: Vec<SensitiveDataRule>,
    /// Whether the transcript is saved.
    #[serde(deserialize_with = "lenient::bool")]
    pub transcript_save_enabled: bool,
    /// Visitor location as the server saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo_location: Option<Value>,
}

/// `ChatRequestFail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChatRequestFail {
    /// `Unavailable`, `Blocked`, `NoPost`, `InternalFailure`, `Unknown`, or another string.
    #[serde(deserialize_with = "lenient::string")]
    pub reason: String,
    /// Post-chat page.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub post_chat_url: Option<String>,
}

/// `QueueUpdate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueUpdate {
    /// Position; 0 = next.
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub position: Option<i64>,
    /// Estimated wait in seconds (v47+).
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_wait_time: Option<i64>,
}

/// Visitor idle-timeout settings carried by `ChatEstablished` and `ChatTransferred` (v35+).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdleTimeout {
    /// Whether the timer runs.
    #[serde(deserialize_with = "lenient::bool")]
    pub is_enabled: bool,
    /// When to warn (seconds, UNCONFIRMED unit).
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub warning_time: Option<i64>,
    /// When the server ends the chat (seconds, UNCONFIRMED unit).
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<i64>,
}

/// `ChatEstablished` and `ChatTransferred`: who the agent is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentInfo {
    /// Agent display name.
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// Agent user id (`005…`).
    #[serde(deserialize_with = "lenient::string")]
    pub user_id: String,
    /// Whether the agent sees what the visitor types.
    #[serde(deserialize_with = "lenient::bool")]
    pub sneak_peek_enabled: bool,
    /// Idle-timeout settings (v35+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chasitor_idle_timeout: Option<IdleTimeout>,
}

/// `ChatMessage` from the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentMessage {
    /// Sender display name.
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// The text.
    #[serde(deserialize_with = "lenient::string")]
    pub text: String,
    /// Sender user id, when present.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_id: Option<String>,
}

/// `AgentTyping` / `AgentNotTyping` (documented empty; real servers add these).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentRef {
    /// Agent display name.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Agent id.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_id: Option<String>,
}

/// `ChatEnded`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChatEnded {
    /// `agent`, `client`, `clientIdleTimeout`, `agentsUnavailable`, … or another string.
    #[serde(deserialize_with = "lenient::string")]
    pub reason: String,
    /// Records attached to the transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_records: Option<Value>,
}

/// One line of the transcript in `ChasitorSessionData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TranscriptEntry {
    /// `Agent`, `Chasitor` or `OperatorTransferred`.
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub kind: String,
    /// Who wrote it.
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// What was written.
    #[serde(deserialize_with = "lenient::string")]
    pub content: String,
    /// Epoch milliseconds.
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<i64>,
    /// Transcript sequence.
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence: Option<i64>,
}

/// `ChasitorSessionData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChasitorSessionData {
    /// Queue position at the time of the reconnect.
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub queue_position: Option<i64>,
    /// Whether sneak peek is on.
    #[serde(deserialize_with = "lenient::bool")]
    pub sneak_peek_enabled: bool,
    /// The transcript so far.
    #[serde(deserialize_with = "lenient::vec")]
    pub chat_messages: Vec<TranscriptEntry>,
}

/// `CustomEvent` from the agent console.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomEvent {
    /// Event type.
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub kind: String,
    /// Payload.
    #[serde(deserialize_with = "lenient::string")]
    pub data: String,
}

/// `NewVisitorBreadcrumb`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Breadcrumb {
    /// Page location.
    #[serde(deserialize_with = "lenient::string")]
    pub location: String,
}

/// `FileTransfer` (undocumented in the REST guide; spec §4.20).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileTransfer {
    /// `Requested`, `Canceled`, `Success` or `Failure`.
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub kind: String,
    /// One-time upload token.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_token: Option<String>,
    /// Where to POST the file.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub upload_servlet_url: Option<String>,
    /// Sent as `Referer` by some clients.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cdm_servlet_url: Option<String>,
}

/// A data-masking rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SensitiveDataRule {
    /// Rule id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Rule name.
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// Regular expression(s), newline-separated.
    #[serde(deserialize_with = "lenient::string")]
    pub pattern: String,
    /// Replacement text.
    #[serde(deserialize_with = "lenient::string")]
    pub replacement: String,
    /// e.g. `Replace`.
    #[serde(deserialize_with = "lenient::string")]
    pub action_type: String,
}

/// `SensitiveDataRules`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SensitiveDataRules {
    /// The rules.
    #[serde(deserialize_with = "lenient::vec")]
    pub sensitive_data_rules: Vec<SensitiveDataRule>,
}

/// `ReconnectSession` (answer to `System/ReconnectSession`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconnectSession {
    /// Restart the POST sequence at 1. Documented as always true; missing means true.
    #[serde(default = "default_true", deserialize_with = "lenient_true")]
    pub reset_sequence: bool,
    /// The new affinity token.
    #[serde(default, deserialize_with = "lenient::string")]
    pub affinity_token: String,
}

fn default_true() -> bool {
    true
}

fn lenient_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    if !d.is_human_readable() {
        return bool::deserialize(d);
    }
    Ok(match Value::deserialize(d)? {
        Value::Null => true,
        other => lenient::bool(other).unwrap_or(true),
    })
}

/// `Availability` results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Availability {
    /// One result per requested id.
    #[serde(deserialize_with = "lenient::vec")]
    pub results: Vec<AvailabilityResult>,
}

/// One `Availability` result; `isAvailable` is omitted when false.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AvailabilityResult {
    /// Button or agent id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Whether an agent can take a chat now.
    #[serde(deserialize_with = "lenient::bool", skip_serializing_if = "is_false")]
    pub is_available: bool,
    /// Estimated wait in seconds (v47+).
    #[serde(
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_wait_time: Option<i64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `SwitchServer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SwitchServer {
    /// `https://{host}/chat`.
    #[serde(deserialize_with = "lenient::string")]
    pub new_url: String,
}

/// `AsyncResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AsyncResult {
    /// Whether the earlier request succeeded.
    #[serde(deserialize_with = "lenient::bool")]
    pub is_success: bool,
    /// Failure text.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<String>,
}
