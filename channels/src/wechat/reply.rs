//! Encrypted passive replies (§3.4): the reply XML encrypted and wrapped in an envelope signed
//! with `sha1(sort([token, TimeStamp, Nonce, Encrypt]))`.

use super::crypto::AesKey;
use super::signature;
use super::xml::XmlWriter;

/// The parts of an encrypted reply envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedReply {
    /// Base64 ciphertext of the reply XML.
    pub encrypt: String,
    /// Signature over token, timestamp, nonce and `encrypt`.
    pub msg_signature: String,
    /// Unix seconds (the request's `timestamp` may be reused).
    pub timestamp: u64,
    /// Nonce (the request's may be reused).
    pub nonce: String,
}

impl SealedReply {
    /// Encrypts `reply_xml` with the given 16-byte random prefix and signs the result.
    pub fn seal_with_random(
        key: &AesKey,
        token: &str,
        app_id: &str,
        reply_xml: &str,
        timestamp: u64,
        nonce: &str,
        random: &[u8; 16],
    ) -> Self {
        let encrypt = key.encrypt_with_random(random, reply_xml.as_bytes(), app_id);
        let msg_signature = signature::sign(&[token, &timestamp.to_string(), nonce, &encrypt]);
        Self {
            encrypt,
            msg_signature,
            timestamp,
            nonce: nonce.to_owned(),
        }
    }

    /// The envelope XML to send as the HTTP body.
    pub fn to_xml(&self) -> String {
        XmlWriter::new()
            .cdata("Encrypt", &self.encrypt)
            .cdata("MsgSignature", &self.msg_signature)
            .number("TimeStamp", self.timestamp)
            .cdata("Nonce", &self.nonce)
            .finish()
    }
}

/// The passive text reply XML (§4.4): to the user's OpenID, from the account's `gh_` id.
pub fn text_reply_xml(
    to_user: &str,
    from_account: &str,
    create_time: u64,
    content: &str,
) -> String {
    XmlWriter::new()
        .cdata("ToUserName", to_user)
        .cdata("FromUserName", from_account)
        .number("CreateTime", create_time)
        .cdata("MsgType", "text")
        .cdata("Content", content)
        .finish()
}
