//! JSON bodies of the visitor's POSTs (spec §4.3–§4.14). Encoded exactly as the server expects;
//! decoded leniently, because the simulator parses them too.

use serde::{Deserialize, Serialize};

use super::lenient;

/// A pre-chat detail shown to the agent and/or saved on the transcript (spec §6 CustomDetail).
///
/// Every field is always encoded: the spec asks for `entityMaps` and `transcriptFields` arrays to
/// be present even when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomDetail {
    /// Label; `entityFieldsMaps[].label` refers to it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub label: String,
    /// The value.
    #[serde(default, deserialize_with = "lenient::string")]
    pub value: String,
    /// Legacy entity maps; always sent empty.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub entity_maps: Vec<EntityMap>,
    /// Transcript field API names the value is saved to.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub transcript_fields: Vec<String>,
    /// Whether the agent console shows it.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub display_to_agent: bool,
}

impl CustomDetail {
    /// A detail shown to the agent and saved to no transcript field.
    pub fn shown(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
            entity_maps: Vec::new(),
            transcript_fields: Vec::new(),
            display_to_agent: true,
        }
    }
}

/// Legacy `entityMaps` element (kept for decoding; clients send an empty list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityMap {
    /// Entity API name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub entity_name: String,
    /// Field API name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub field_name: String,
}

/// A record to find or create from the pre-chat details (spec §6 Entity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    /// Entity API name, e.g. `Contact`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub entity_name: String,
    /// Open the record in the console when it is created.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub show_on_create: bool,
    /// Entity to link the record to (empty for none).
    #[serde(default, deserialize_with = "lenient::string")]
    pub link_to_entity_name: String,
    /// Field of that entity holding the link (empty for none).
    #[serde(default, deserialize_with = "lenient::string")]
    pub link_to_entity_field: String,
    /// Transcript lookup field to save the record to, e.g. `ContactId` (empty for none).
    #[serde(default, deserialize_with = "lenient::string")]
    pub save_to_transcript: String,
    /// How detail labels map onto fields (note the plural "Fields").
    #[serde(default, deserialize_with = "lenient::vec")]
    pub entity_fields_maps: Vec<EntityFieldsMap>,
}

/// One field mapping of an [`Entity`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityFieldsMap {
    /// Field API name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub field_name: String,
    /// Must equal a [`CustomDetail::label`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub label: String,
    /// Search for a record by this field.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub do_find: bool,
    /// Require an exact match.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_exact_match: bool,
    /// Create the record when none is found.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub do_create: bool,
}

/// `POST Chasitor/ChasitorInit` body (spec §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChasitorInit {
    /// Org id (`00D…`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub organization_id: String,
    /// Deployment id (`572…`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub deployment_id: String,
    /// Button id (`573…`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub button_id: String,
    /// Direct-to-agent request.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_id: Option<String>,
    /// With `agent_id`: fall back to the button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_fallback: Option<bool>,
    /// `id` from SessionId.
    #[serde(default, deserialize_with = "lenient::string")]
    pub session_id: String,
    /// Any user-agent string.
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_agent: String,
    /// e.g. `en-US`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub language: String,
    /// e.g. `1900x1080`, or `n/a`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub screen_resolution: String,
    /// Name shown to the agent.
    #[serde(default, deserialize_with = "lenient::string")]
    pub visitor_name: String,
    /// Pre-chat details.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub prechat_details: Vec<CustomDetail>,
    /// Pre-chat entities.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub prechat_entities: Vec<Entity>,
    /// Ordered routing targets overriding the button.
    #[serde(
        default,
        deserialize_with = "lenient::vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub button_overrides: Vec<String>,
    /// Ask for `QueueUpdate` events.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub receive_queue_updates: bool,
    /// Always true.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_post: bool,
}

/// `POST Chasitor/ChatMessage` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessageBody {
    /// The visitor's text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: String,
}

/// `POST Chasitor/ChasitorSneakPeek` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SneakPeekBody {
    /// Position of the update.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub position: Option<i64>,
    /// Current contents of the input box.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: String,
}

/// `POST Chasitor/CustomEvent` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomEventBody {
    /// Event type the console listens for.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub kind: String,
    /// Payload.
    #[serde(default, deserialize_with = "lenient::string")]
    pub data: String,
}

/// `POST Chasitor/ChatEnd` body; `reason` is required and is `client` for a visitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEndBody {
    /// Why the visitor ended the chat.
    #[serde(default, deserialize_with = "lenient::string")]
    pub reason: String,
}

/// `POST Chasitor/ChasitorResyncState` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResyncStateBody {
    /// Org id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub organization_id: String,
}

/// `POST Chasitor/ChasitorIdleTimeoutWarningEvent` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdleTimeoutWarningBody {
    /// `triggered` or `cleared`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub idle_timeout_warning_event: String,
}

/// The body a typing or not-typing POST carries: real clients send `{}`.
pub const EMPTY_OBJECT: &str = "{}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_chasitor_init_with_empty_arrays_and_without_absent_options() {
        let body = ChasitorInit {
            organization_id: "00DD0000000JVXs".into(),
            deployment_id: "572D000000000J6".into(),
            button_id: "573D000000000OC".into(),
            agent_id: None,
            do_fallback: None,
            session_id: "5503f854-0203-4324-8ed5-f793a367426f".into(),
            user_agent: "Switchboard".into(),
            language: "en-US".into(),
            screen_resolution: "n/a".into(),
            visitor_name: "Jon A.".into(),
            prechat_details: vec![CustomDetail::shown("E-mail Address", "jon@example.com")],
            prechat_entities: vec![],
            button_overrides: vec![],
            receive_queue_updates: true,
            is_post: true,
        };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"organizationId":"00DD0000000JVXs","deploymentId":"572D000000000J6","buttonId":"573D000000000OC","sessionId":"5503f854-0203-4324-8ed5-f793a367426f","userAgent":"Switchboard","language":"en-US","screenResolution":"n/a","visitorName":"Jon A.","prechatDetails":[{"label":"E-mail Address","value":"jon@example.com","entityMaps":[],"transcriptFields":[],"displayToAgent":true}],"prechatEntities":[],"receiveQueueUpdates":true,"isPost":true}"#
        );
        let back: ChasitorInit = serde_json::from_str(&json).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn decodes_doc_style_chasitor_init_with_button_overrides() {
        let json = r#"{"organizationId":"00DD0000000JVXs","deploymentId":"572D000000000J6","buttonId":"573D000000000OC",
            "sessionId":"5503f854","userAgent":"Mozilla/5.0","language":"en-US","screenResolution":"2560x1440",
            "visitorName":"Jon A.","prechatDetails":[{"label":"E-mail Address","value":"jon@example.com",
            "entityMaps":[],"transcriptFields":["c__EmailAddress"],"displayToAgent":true}],
            "prechatEntities":[],"buttonOverrides":["573D000000000OD"],"receiveQueueUpdates":true,"isPost":true}"#;
        let body: ChasitorInit = serde_json::from_str(json).unwrap();
        assert_eq!(body.button_overrides, vec!["573D000000000OD"]);
        assert_eq!(
            body.prechat_details[0].transcript_fields,
            vec!["c__EmailAddress"]
        );
        assert!(body.is_post);
    }

    #[test]
    fn custom_event_uses_type_on_the_wire() {
        let body = CustomEventBody {
            kind: "PromptForCreditCard".into(),
            data: "Visa".into(),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"type":"PromptForCreditCard","data":"Visa"}"#
        );
    }
}
