//! Verified users for Enhanced Chat (spec §4.2): the gateway signs each user's
//! `customerIdentityToken` itself — an RS256 JWT from the org's keyset key, `iss` the keyset's
//! issuer, `sub` a stable, salted hash of the channel user (the OpenID never goes to Salesforce
//! in clear), valid for a few minutes — so a token can be renewed for the same end user and a
//! conversation outlives an access token's lifetime.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;
use thiserror::Error;

use crate::store::ConversationId;

/// How long a signed identity token is valid: long enough to be exchanged for an access token.
const IDENTITY_LIFETIME: Duration = Duration::from_secs(300);

/// The signing key or a signature failed.
#[derive(Debug, Clone, Error)]
pub enum IdentityError {
    /// Not an RSA private key in PKCS#8 (PEM or base64 DER).
    #[error("the identity key is not an RSA PKCS#8 key: {0}")]
    Key(String),
    /// ring could not sign.
    #[error("signing the identity token failed")]
    Sign,
}

/// Signs identity tokens with one keyset key.
pub struct IdentitySigner {
    key: RsaKeyPair,
    issuer: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for IdentitySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySigner")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl IdentitySigner {
    /// A signer from a PKCS#8 RSA key given as PEM (`-----BEGIN PRIVATE KEY-----`) or as base64
    /// DER, for tokens whose `iss` is `issuer`.
    pub fn from_key_text(text: &str, issuer: &str) -> Result<IdentitySigner, IdentityError> {
        let base64: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(base64.as_bytes())
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        IdentitySigner::from_pkcs8(&der, issuer)
    }

    /// A signer from PKCS#8 DER bytes.
    pub fn from_pkcs8(der: &[u8], issuer: &str) -> Result<IdentitySigner, IdentityError> {
        let key = RsaKeyPair::from_pkcs8(der).map_err(|e| IdentityError::Key(e.to_string()))?;
        Ok(IdentitySigner {
            key,
            issuer: issuer.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    /// The `sub` of a conversation's user: SHA-256 of the issuer and the conversation id, hex.
    pub fn subject_for(&self, conversation: &ConversationId) -> String {
        let mut input = self.issuer.clone().into_bytes();
        input.push(0);
        input.extend_from_slice(conversation.0.as_bytes());
        let digest = ring::digest::digest(&ring::digest::SHA256, &input);
        digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// An identity token for `subject`, issued at `now_unix_secs`.
    pub fn sign(&self, subject: &str, now_unix_secs: u64) -> Result<String, IdentityError> {
        let header = json!({"alg": "RS256", "typ": "JWT"});
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "iat": now_unix_secs,
            "exp": now_unix_secs + IDENTITY_LIFETIME.as_secs(),
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| IdentityError::Sign)?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::model::enhanced::identity::{
        TEST_ISSUER, TEST_PRIVATE_KEY_PKCS8, verify,
    };
    use switchboard_core::model::enhanced::{IdentityKeyset, Knobs};
    use switchboard_core::time::Timestamp;

    #[test]
    fn a_signed_token_verifies_at_the_reference_server_with_its_subject() {
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(TEST_PRIVATE_KEY_PKCS8)
        );
        let signer = IdentitySigner::from_key_text(&pem, TEST_ISSUER).unwrap();
        let subject = signer.subject_for(&ConversationId("wechat:oUser1".into()));
        assert_eq!(subject.len(), 32);
        assert_ne!(
            subject,
            signer.subject_for(&ConversationId("wechat:oUser2".into()))
        );
        let now = 1_764_000_000;
        let token = signer.sign(&subject, now).unwrap();
        let keyset: IdentityKeyset = Knobs::default().identity.unwrap();
        assert_eq!(
            verify(&token, &keyset, Timestamp::from_millis(now * 1000)),
            Ok(subject.clone())
        );
        // Five minutes later it no longer does.
        assert!(verify(&token, &keyset, Timestamp::from_millis((now + 301) * 1000)).is_err());
    }

    #[test]
    fn a_key_that_is_not_pkcs8_rsa_is_a_clear_error() {
        assert!(matches!(
            IdentitySigner::from_key_text("bm90IGEga2V5", "iss"),
            Err(IdentityError::Key(_))
        ));
    }
}
