//! The webhook endpoint (§1, §2, §4): URL verification on `GET`, pushes on `POST` in plaintext,
//! compatible and safe mode (chosen by the `encrypt_type` query parameter), and the reply.

use std::collections::BTreeMap;

use http::Method;

use crate::channel::UserId;
use crate::webhook::{
    HttpReply, InboundEvent, InboundKind, MediaRef, Webhook, WebhookError, WebhookRequest,
};

use super::crypto::{AesKey, CryptoError};
use super::dedupe::dedupe_key;
use super::message::{EventKind, Message, MessageKind};
use super::signature;
use super::xml;

/// What the endpoint needs to verify and decrypt.
#[derive(Debug)]
pub struct PushVerifier<'a> {
    /// The Token configured in the account's server settings.
    pub token: &'a str,
    /// The AES key, when an EncodingAESKey is configured.
    pub aes_key: Option<&'a AesKey>,
    /// The AppID, checked after decryption.
    pub app_id: &'a str,
    /// Largest accepted body.
    pub max_body: usize,
}

/// A verified, decoded push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The typed message.
    pub message: Message,
    /// Whether it arrived encrypted (then the reply is an empty body).
    pub encrypted: bool,
}

/// The outcome of one webhook request at the WeChat layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// URL verification: answer `echostr`.
    Verification {
        /// The echo string, verbatim.
        echostr: String,
    },
    /// A push.
    Push(Push),
}

/// The query parameters of a request, decoded.
#[derive(Debug, Default)]
struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(raw: &str) -> Self {
        Self(
            form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn require(&self, name: &str) -> Result<&str, WebhookError> {
        self.get(name)
            .ok_or_else(|| WebhookError::BadSignature(format!("missing `{name}` parameter")))
    }
}

impl PushVerifier<'_> {
    /// Verifies and decodes one request.
    pub fn handle(&self, req: &WebhookRequest) -> Result<Handled, WebhookError> {
        if req.body.len() > self.max_body {
            return Err(WebhookError::TooLarge {
                size: req.body.len(),
                limit: self.max_body,
            });
        }
        let query = Query::parse(&req.query);
        let timestamp = query.require("timestamp")?;
        let nonce = query.require("nonce")?;
        let sig = query.require("signature")?;
        if !signature::verify(sig, &[self.token, timestamp, nonce]) {
            return Err(WebhookError::BadSignature(
                CryptoError::ValidateSignature.to_string(),
            ));
        }
        match req.method {
            Method::GET => {
                let echostr = query
                    .get("echostr")
                    .ok_or_else(|| WebhookError::Malformed("missing `echostr`".into()))?;
                Ok(Handled::Verification {
                    echostr: echostr.to_owned(),
                })
            }
            Method::POST => self
                .push(&query, timestamp, nonce, &req.body)
                .map(Handled::Push),
            _ => Err(WebhookError::MethodNotAllowed),
        }
    }

    fn push(
        &self,
        query: &Query,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
    ) -> Result<Push, WebhookError> {
        let outer = xml::parse(body, self.max_body).map_err(xml_error)?;
        let (fields, encrypted) = match query.get("encrypt_type") {
            None | Some("raw") | Some("") => (outer, false),
            Some("aes") => {
                let key = self.aes_key.ok_or_else(|| {
                    WebhookError::Malformed(
                        "encrypted push but no EncodingAESKey configured".into(),
                    )
                })?;
                let encrypt = outer
                    .text("Encrypt")
                    .ok_or_else(|| WebhookError::Malformed("missing <Encrypt>".into()))?;
                let msg_signature = query.require("msg_signature")?;
                if !signature::verify(msg_signature, &[self.token, timestamp, nonce, encrypt]) {
                    return Err(WebhookError::BadSignature(
                        CryptoError::ValidateSignature.to_string(),
                    ));
                }
                let plain = key.decrypt(encrypt, self.app_id).map_err(|e| match e {
                    CryptoError::ValidateAppid => WebhookError::BadSignature(e.to_string()),
                    other => WebhookError::Malformed(other.to_string()),
                })?;
                (xml::parse(&plain, self.max_body).map_err(xml_error)?, true)
            }
            Some(other) => {
                return Err(WebhookError::Malformed(format!(
                    "unknown encrypt_type {other:?}"
                )));
            }
        };
        let message =
            Message::from_fields(&fields).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        Ok(Push { message, encrypted })
    }
}

fn xml_error(e: xml::XmlError) -> WebhookError {
    match e {
        xml::XmlError::TooLarge { size, limit } => WebhookError::TooLarge { size, limit },
        other => WebhookError::Malformed(format!("{other} ({})", CryptoError::ParseXml.code())),
    }
}

impl Handled {
    /// The engine-facing result: events plus the exact reply.
    ///
    /// Verification echoes `echostr` as the whole body. A plaintext push is answered `success`;
    /// an encrypted one with an empty body (a plaintext `success` is not documented for safe
    /// mode; an empty body always stops WeChat's retries).
    pub fn into_webhook(self) -> Webhook {
        match self {
            Self::Verification { echostr } => Webhook {
                events: Vec::new(),
                reply: HttpReply::text(echostr),
            },
            Self::Push(push) => Webhook {
                reply: if push.encrypted {
                    HttpReply::empty()
                } else {
                    HttpReply::text("success")
                },
                events: vec![inbound_event(&push.message)],
            },
        }
    }
}

fn navigation(name: &str, target: Option<&String>) -> InboundKind {
    InboundKind::Navigation {
        kind: name.to_owned(),
        target: target.filter(|t| !t.is_empty()).cloned(),
    }
}

/// The channel-neutral event for a push.
pub fn inbound_event(msg: &Message) -> InboundEvent {
    let other = |kind: String| InboundKind::Other {
        kind,
        fields: msg.fields.clone(),
    };
    let kind = match &msg.kind {
        MessageKind::Text { content, .. } => InboundKind::Text {
            text: content.clone(),
        },
        MessageKind::Image { pic_url, media_id } => InboundKind::Image {
            media: MediaRef {
                id: media_id.clone(),
                url: pic_url.clone(),
                format: None,
            },
        },
        MessageKind::Voice {
            media_id,
            format,
            recognition,
        } => InboundKind::Voice {
            media: MediaRef {
                id: media_id.clone(),
                url: None,
                format: format.clone(),
            },
            recognition: recognition.clone(),
        },
        MessageKind::Location {
            latitude,
            longitude,
            label,
            ..
        } => InboundKind::Location {
            latitude: latitude.clone(),
            longitude: longitude.clone(),
            label: label.clone(),
        },
        MessageKind::Video { media_id, .. } => InboundKind::Video {
            media: MediaRef {
                id: media_id.clone(),
                url: None,
                format: None,
            },
        },
        MessageKind::Link { title, url, .. } => InboundKind::Link {
            title: title.clone(),
            url: url.clone(),
        },
        MessageKind::Unknown { msg_type } => other(msg_type.clone()),
        MessageKind::Event { name, event, .. } => match event {
            EventKind::Subscribe { scene } => InboundKind::Followed { key: scene.clone() },
            EventKind::Unsubscribe => InboundKind::Unfollowed,
            EventKind::Click { key } => InboundKind::MenuClick { key: key.clone() },
            EventKind::Location {
                latitude,
                longitude,
                precision,
            } => InboundKind::LocationReport {
                latitude: latitude.clone(),
                longitude: longitude.clone(),
                precision: precision.clone(),
            },
            EventKind::View { url } => navigation(name, Some(url)),
            EventKind::Scan { scene } => navigation(name, Some(scene)),
            EventKind::ScanCode { result, .. } => navigation(name, result.as_ref()),
            EventKind::TemplateSendJobFinish { .. } | EventKind::Other => {
                InboundKind::Notification { kind: name.clone() }
            }
        },
    };
    InboundEvent {
        dedupe_key: dedupe_key(msg),
        user: UserId::new(msg.from.clone()),
        display_name: None,
        created_at: msg.create_time,
        kind,
    }
}
