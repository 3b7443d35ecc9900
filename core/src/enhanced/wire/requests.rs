//! The REST requests of a visitor client (spec §4–§6): method, path and query, exact JSON body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

/// REST prefix of the custom-client API.
pub const API_PREFIX: &str = "/iamessage/api/v2";
/// Path of the event stream.
pub const SSE_PATH: &str = "/eventrouter/v1/sse";

/// The deployment a client talks to (its Setup snippet's values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The org id as the snippet gives it (`00D…`, 15 or 18 characters).
    pub org_id: String,
    /// The deployment's API name (`esDeveloperName`).
    pub es_developer_name: String,
    /// `context.clientVersion` in token requests.
    pub client_version: String,
}

impl Deployment {
    /// The 15-character org id the event stream wants in `X-Org-Id` (§2.1).
    pub fn org_id_15(&self) -> &str {
        self.org_id.get(..15).unwrap_or(&self.org_id)
    }
}

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

/// One REST request of the visitor client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnhancedRequest {
    /// `POST /authorization/unauthenticated/access-token` (§4.1): no `Authorization` header.
    UnauthenticatedToken,
    /// `POST /authorization/authenticated/access-token` (§4.2) for the verified user `subject`;
    /// the driver adds the `customerIdentityToken` it signs (see [`EnhancedRequest::body`]).
    VerifiedToken {
        /// The `sub` of the identity token.
        subject: String,
    },
    /// `POST /conversation` (§5.1).
    CreateConversation {
        /// Client-made lowercase UUID.
        conversation_id: String,
        /// Pre-chat fields by name.
        routing_attributes: BTreeMap<String, String>,
        /// The visitor's language, if known (`zh_CN`).
        language: Option<String>,
    },
    /// `POST /conversation/{id}/message` (§6.1): one text.
    SendMessage {
        /// The conversation.
        conversation_id: String,
        /// Client-made UUID; a resend reuses it.
        message_id: String,
        /// The text.
        text: String,
        /// Start a new messaging session (after a 417).
        new_session: bool,
    },
    /// `POST /conversation/{id}/entry` (§6.2): typing started or stopped.
    Typing {
        /// The conversation.
        conversation_id: String,
        /// Client-made UUID of the entry.
        entry_id: String,
        /// Started (`true`) or stopped.
        started: bool,
    },
    /// `GET /conversation/{id}/entries` (§6.5): catch-up from `since` (epoch ms), oldest first.
    ListEntries {
        /// The conversation.
        conversation_id: String,
        /// `startTimestamp`, when known.
        since: Option<u64>,
    },
    /// `DELETE /conversation/{id}?esDeveloperName=…` (§5.4).
    Close {
        /// The conversation.
        conversation_id: String,
    },
}

/// Most entries one list call returns (§6.5).
pub const ENTRIES_PAGE: usize = 50;

impl EnhancedRequest {
    /// The method.
    pub fn method(&self) -> Method {
        match self {
            EnhancedRequest::ListEntries { .. } => Method::Get,
            EnhancedRequest::Close { .. } => Method::Delete,
            _ => Method::Post,
        }
    }

    /// Whether it carries `Authorization: Bearer <access token>`.
    pub fn needs_token(&self) -> bool {
        !matches!(
            self,
            EnhancedRequest::UnauthenticatedToken | EnhancedRequest::VerifiedToken { .. }
        )
    }

    /// Path and query under the SCRT URL.
    pub fn path_and_query(&self, deployment: &Deployment) -> String {
        let es = encode(&deployment.es_developer_name);
        match self {
            EnhancedRequest::UnauthenticatedToken => {
                format!("{API_PREFIX}/authorization/unauthenticated/access-token")
            }
            EnhancedRequest::VerifiedToken { .. } => {
                format!("{API_PREFIX}/authorization/authenticated/access-token")
            }
            EnhancedRequest::CreateConversation { .. } => format!("{API_PREFIX}/conversation"),
            EnhancedRequest::SendMessage {
                conversation_id, ..
            } => format!("{API_PREFIX}/conversation/{conversation_id}/message"),
            EnhancedRequest::Typing {
                conversation_id, ..
            } => format!("{API_PREFIX}/conversation/{conversation_id}/entry"),
            EnhancedRequest::ListEntries {
                conversation_id,
                since,
            } => {
                let mut path = format!(
                    "{API_PREFIX}/conversation/{conversation_id}/entries?limit={ENTRIES_PAGE}&direction=FromStart"
                );
                if let Some(since) = since {
                    path.push_str(&format!("&startTimestamp={since}"));
                }
                path
            }
            EnhancedRequest::Close { conversation_id } => {
                format!("{API_PREFIX}/conversation/{conversation_id}?esDeveloperName={es}")
            }
        }
    }

    /// The JSON body, if the method has one. `identity` is the signed `customerIdentityToken`
    /// of a [`VerifiedToken`](EnhancedRequest::VerifiedToken) request.
    pub fn body(&self, deployment: &Deployment, identity: Option<&str>) -> Option<String> {
        let es = &deployment.es_developer_name;
        let token_body = || {
            json!({
                "orgId": deployment.org_id,
                "esDeveloperName": es,
                "capabilitiesVersion": "1",
                "platform": "Web",
                "context": {"appName": "switchboard", "clientVersion": deployment.client_version},
            })
        };
        let body = match self {
            EnhancedRequest::UnauthenticatedToken => token_body(),
            EnhancedRequest::VerifiedToken { .. } => {
                let mut body = token_body();
                body["authorizationType"] = json!("JWT");
                body["customerIdentityToken"] = json!(identity.unwrap_or_default());
                body
            }
            EnhancedRequest::CreateConversation {
                conversation_id,
                routing_attributes,
                language,
            } => {
                let mut body = json!({
                    "conversationId": conversation_id,
                    "esDeveloperName": es,
                    "routingAttributes": routing_attributes,
                });
                if let Some(language) = language {
                    body["language"] = json!(language);
                }
                body
            }
            EnhancedRequest::SendMessage {
                message_id,
                text,
                new_session,
                ..
            } => json!({
                "message": {
                    "id": message_id,
                    "messageType": "StaticContentMessage",
                    "staticContent": {"formatType": "Text", "text": text},
                },
                "esDeveloperName": es,
                "isNewMessagingSession": new_session,
                "routingAttributes": {},
            }),
            EnhancedRequest::Typing {
                entry_id, started, ..
            } => json!({
                "entryType": if *started { "TypingStartedIndicator" } else { "TypingStoppedIndicator" },
                "id": entry_id,
            }),
            EnhancedRequest::ListEntries { .. } | EnhancedRequest::Close { .. } => return None,
        };
        Some(body.to_string())
    }
}

/// Percent-encodes a query value (unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
