//! The webhook endpoint (§1, §2, §4): URL verification on `GET`, pushes on `POST` in plaintext,
//! compatible and safe mode (chosen by the `encrypt_type` query parameter), and the reply.

use std::borrow::Cow;

use http::Method;

use crate::channel::UserId;
use crate::webhook::{
    HttpReply, InboundEvent, InboundKind, MediaRef, Webhook, WebhookError, WebhookRequest,
};

use super::crypto::{AesKey, CryptoError};
use super::dedupe::dedupe_key;
use super::message::{EventKind, Message, MessageKind};
use super::signature;
use super::xml::{self, Document};

/// What the endpoint needs to verify and decrypt.
#[derive(Debug)]
pub struct PushVerifier<'a> {
    /// The Token configured in the account's server settings.
    pub token: &'a str,
    /// The AES key, when an EncodingAESKey is configured.
    pub aes_key: Option<&'a AesKey>,
    /// The AppID, checked after decryption.
    pub app_id: &'a str,
    /// With an AES key: accept plaintext pushes too (only while migrating to safe mode).
    pub accept_plaintext: bool,
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

/// The query parameters the endpoint reads, decoded as `form_urlencoded` decodes them (a
/// parameter given twice keeps its last value) and borrowed from the query string unless they
/// carry escapes.
#[derive(Debug, Default)]
struct Query<'a> {
    signature: Option<Cow<'a, str>>,
    timestamp: Option<Cow<'a, str>>,
    nonce: Option<Cow<'a, str>>,
    echostr: Option<Cow<'a, str>>,
    encrypt_type: Option<Cow<'a, str>>,
    msg_signature: Option<Cow<'a, str>>,
}

impl<'a> Query<'a> {
    fn parse(raw: &'a str) -> Self {
        let mut query = Self::default();
        for (name, value) in query_pairs(raw) {
            if let Some(slot) = query.slot(&name) {
                *slot = Some(value);
            }
        }
        query
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Cow<'a, str>>> {
        Some(match name {
            "signature" => &mut self.signature,
            "timestamp" => &mut self.timestamp,
            "nonce" => &mut self.nonce,
            "echostr" => &mut self.echostr,
            "encrypt_type" => &mut self.encrypt_type,
            "msg_signature" => &mut self.msg_signature,
            _ => return None,
        })
    }

    fn require<'q>(value: &'q Option<Cow<'a, str>>, name: &str) -> Result<&'q str, WebhookError> {
        value
            .as_deref()
            .ok_or_else(|| WebhookError::BadSignature(format!("missing `{name}` parameter")))
    }
}

/// The `name=value` pairs of a query string, as [`form_urlencoded::parse`] yields them; a pair
/// without `%` or `+` needs no decoding and is borrowed as it is.
fn query_pairs(raw: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    raw.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        if pair.bytes().any(|b| b == b'%' || b == b'+') {
            decode_pair(pair)
        } else {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (Cow::Borrowed(name), Cow::Borrowed(value))
        }
    })
}

fn decode_pair(pair: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .unwrap_or_default()
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
        let timestamp = Query::require(&query.timestamp, "timestamp")?;
        let nonce = Query::require(&query.nonce, "nonce")?;
        let sig = Query::require(&query.signature, "signature")?;
        if !signature::verify(sig, &[self.token, timestamp, nonce]) {
            return Err(bad_signature());
        }
        match req.method {
            Method::GET => {
                let echostr = query
                    .echostr
                    .ok_or_else(|| WebhookError::Malformed("missing `echostr`".into()))?;
                Ok(Handled::Verification {
                    echostr: echostr.into_owned(),
                })
            }
            Method::POST => self
                .push(&query, timestamp, nonce, &req.body)
                .map(Handled::Push),
            _ => Err(WebhookError::MethodNotAllowed),
        }
    }

    /// A push in the mode its `encrypt_type` says (§2.1).
    fn push(
        &self,
        query: &Query<'_>,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
    ) -> Result<Push, WebhookError> {
        match query.encrypt_type.as_deref() {
            None | Some("raw") | Some("") => {
                self.check_plaintext_allowed()?;
                let message = typed(&self.document(body)?)?;
                Ok(Push {
                    message,
                    encrypted: false,
                })
            }
            Some("aes") => {
                let plain = self.decrypt_envelope(query, timestamp, nonce, body)?;
                let message = typed(&self.document(&plain)?)?;
                Ok(Push {
                    message,
                    encrypted: true,
                })
            }
            Some(other) => {
                // The body is read first, as for the other modes: malformed XML is reported as such.
                self.document(body)?;
                Err(WebhookError::Malformed(format!(
                    "unknown encrypt_type {other:?}"
                )))
            }
        }
    }

    /// A plaintext push's `signature` covers token, timestamp and nonce only, not the body: with
    /// a key configured (compatible or safe mode) such a push is refused, unless plaintext is
    /// explicitly accepted for a migration.
    fn check_plaintext_allowed(&self) -> Result<(), WebhookError> {
        if self.aes_key.is_some() && !self.accept_plaintext {
            return Err(WebhookError::BadSignature(
                "plaintext push refused: an EncodingAESKey is configured, so pushes must be \
                 encrypted (`encrypt_type=aes` with `msg_signature`)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The decrypted XML of a compatible- or safe-mode envelope, once its `msg_signature` is
    /// verified and its AppID checked.
    fn decrypt_envelope(
        &self,
        query: &Query<'_>,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, WebhookError> {
        let envelope = self.document(body)?;
        let key = self.aes_key.ok_or_else(|| {
            WebhookError::Malformed("encrypted push but no EncodingAESKey configured".into())
        })?;
        let encrypt = envelope
            .text("Encrypt")
            .ok_or_else(|| WebhookError::Malformed("missing <Encrypt>".into()))?;
        let msg_signature = Query::require(&query.msg_signature, "msg_signature")?;
        if !signature::verify(msg_signature, &[self.token, timestamp, nonce, encrypt]) {
            return Err(bad_signature());
        }
        key.decrypt(encrypt, self.app_id).map_err(|e| match e {
            CryptoError::ValidateAppid => WebhookError::BadSignature(e.to_string()),
            other => WebhookError::Malformed(other.to_string()),
        })
    }

    fn document<'b>(&self, body: &'b [u8]) -> Result<Document<'b>, WebhookError> {
        Document::parse(body, self.max_body).map_err(xml_error)
    }
}

fn typed(doc: &Document<'_>) -> Result<Message, WebhookError> {
    Message::from_document(doc).map_err(|e| WebhookError::Malformed(e.to_string()))
}

fn bad_signature() -> WebhookError {
    WebhookError::BadSignature(CryptoError::ValidateSignature.to_string())
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
                events: vec![into_inbound_event(push.message)],
            },
        }
    }
}

fn navigation(name: String, target: Option<String>) -> InboundKind {
    InboundKind::Navigation {
        kind: name,
        target: target.filter(|t| !t.is_empty()),
    }
}

/// The channel-neutral event for a push.
pub fn inbound_event(msg: &Message) -> InboundEvent {
    into_inbound_event(msg.clone())
}

/// The channel-neutral event for a push, taking the push's strings.
pub fn into_inbound_event(msg: Message) -> InboundEvent {
    let dedupe_key = dedupe_key(&msg);
    let kind = match msg.kind {
        MessageKind::Text { content, .. } => InboundKind::Text { text: content },
        MessageKind::Image { pic_url, media_id } => InboundKind::Image {
            media: MediaRef {
                id: media_id,
                url: pic_url,
                format: None,
            },
        },
        MessageKind::Voice {
            media_id,
            format,
            recognition,
        } => InboundKind::Voice {
            media: MediaRef {
                id: media_id,
                url: None,
                format,
            },
            recognition,
        },
        MessageKind::Location {
            latitude,
            longitude,
            label,
            ..
        } => InboundKind::Location {
            latitude,
            longitude,
            label,
        },
        MessageKind::Video { media_id, .. } => InboundKind::Video {
            media: MediaRef {
                id: media_id,
                url: None,
                format: None,
            },
        },
        MessageKind::Link { title, url, .. } => InboundKind::Link { title, url },
        MessageKind::Unknown { msg_type } => InboundKind::Other {
            kind: msg_type,
            fields: msg.fields,
        },
        MessageKind::Event { name, event, .. } => event_kind(name, event),
    };
    InboundEvent {
        dedupe_key,
        user: UserId::new(msg.from),
        display_name: None,
        created_at: msg.create_time,
        kind,
    }
}

fn event_kind(name: String, event: EventKind) -> InboundKind {
    match event {
        EventKind::Subscribe { scene } => InboundKind::Followed { key: scene },
        EventKind::Unsubscribe => InboundKind::Unfollowed,
        EventKind::Click { key } => InboundKind::MenuClick { key },
        EventKind::Location {
            latitude,
            longitude,
            precision,
        } => InboundKind::LocationReport {
            latitude,
            longitude,
            precision,
        },
        EventKind::View { url } => navigation(name, Some(url)),
        EventKind::Scan { scene } => navigation(name, Some(scene)),
        EventKind::ScanCode { result, .. } => navigation(name, result),
        EventKind::TemplateSendJobFinish { .. } | EventKind::Other => {
            InboundKind::Notification { kind: name }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    const TOKEN: &str = "spamtest";
    const APP_ID: &str = "wx2c2769f8efd9abc2";
    const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    /// Vector A's plain `signature`, timestamp and nonce (§3.6).
    const SIGNED: &str = "signature=16120ec1b8dbb870f510d87ce6bc2463eae6ca1a&timestamp=1409735669&nonce=1320562132&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs";
    const MSG_SIGNATURE: &str = "msg_signature=5d197aaffba7e9b25a30732f161a50dee96bd5fa";
    const ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
    /// Any XML an attacker likes, sent as the plaintext of a push.
    const FORGED_XML: &str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oSomeoneElse]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[forged]]></Content><MsgId>1</MsgId></xml>";

    fn key() -> AesKey {
        AesKey::from_encoding_aes_key(ENCODING_AES_KEY).unwrap()
    }

    fn verifier(aes_key: Option<&AesKey>, accept_plaintext: bool) -> PushVerifier<'_> {
        PushVerifier {
            token: TOKEN,
            aes_key,
            app_id: APP_ID,
            accept_plaintext,
            max_body: xml::DEFAULT_MAX_BODY,
        }
    }

    fn post(query: &str, body: impl Into<bytes::Bytes>) -> WebhookRequest {
        WebhookRequest::new(Method::POST, query, body)
    }

    fn envelope() -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
        )
    }

    fn text_of(handled: Handled) -> String {
        match handled {
            Handled::Push(Push {
                message:
                    Message {
                        kind: MessageKind::Text { content, .. },
                        ..
                    },
                ..
            }) => content,
            other => panic!("not a text push: {other:?}"),
        }
    }

    #[test]
    fn refuses_a_plaintext_push_with_401_when_an_aes_key_is_configured() {
        let key = key();
        let verifier = verifier(Some(&key), false);
        for query in [
            SIGNED.to_owned(),
            format!("{SIGNED}&encrypt_type=raw"),
            format!("{SIGNED}&encrypt_type="),
        ] {
            let err = verifier.handle(&post(&query, FORGED_XML)).unwrap_err();
            assert!(
                matches!(err, WebhookError::BadSignature(_)),
                "{query}: {err:?}"
            );
            assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
            assert!(err.to_string().contains("plaintext push refused"), "{err}");
        }
    }

    #[test]
    fn refuses_a_plaintext_push_in_safe_mode_before_reading_its_body() {
        let key = key();
        let err = verifier(Some(&key), false)
            .handle(&post(SIGNED, &b"<xml>\xC3\x28</xml>"[..]))
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED, "{err}");
    }

    #[test]
    fn accepts_a_plaintext_push_despite_a_key_while_plaintext_is_allowed_for_a_migration() {
        let key = key();
        let handled = verifier(Some(&key), true)
            .handle(&post(SIGNED, FORGED_XML))
            .unwrap();
        assert_eq!(text_of(handled), "forged");
    }

    #[test]
    fn accepts_a_plaintext_push_when_no_key_is_configured() {
        let handled = verifier(None, false)
            .handle(&post(SIGNED, FORGED_XML))
            .unwrap();
        assert_eq!(text_of(handled), "forged");
    }

    #[test]
    fn accepts_an_encrypted_push_whether_or_not_plaintext_is_allowed() {
        let key = key();
        let query = format!("{SIGNED}&encrypt_type=aes&{MSG_SIGNATURE}");
        for accept_plaintext in [false, true] {
            let handled = verifier(Some(&key), accept_plaintext)
                .handle(&post(&query, envelope()))
                .unwrap();
            assert_eq!(text_of(handled), "abcdteT");
        }
    }

    #[test]
    fn answers_url_verification_with_a_key_configured() {
        let key = key();
        let query = format!("{SIGNED}&echostr=5927782489442352469");
        let request = WebhookRequest::new(Method::GET, query, "");
        assert_eq!(
            verifier(Some(&key), false).handle(&request).unwrap(),
            Handled::Verification {
                echostr: "5927782489442352469".into()
            }
        );
    }

    #[test]
    fn still_checks_the_plain_signature_of_a_plaintext_push_allowed_for_a_migration() {
        let key = key();
        let forged = SIGNED.replace("16120ec1b8", "26120ec1b8");
        let err = verifier(Some(&key), true)
            .handle(&post(&forged, FORGED_XML))
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    }
}
