//! Signing verified users' `customerIdentityToken`s for tests (§4.2): RS256 or RS512 JWTs
//! made with `ring` from the throwaway key pair whose public half the default knobs trust.
//! Written apart from the reference server's checker, so that the two check each other.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA512, RsaKeyPair};
use serde_json::{Value, json};
use switchboard_core::model::enhanced::identity::{TEST_ISSUER, TEST_PRIVATE_KEY_PKCS8};
use thiserror::Error;

/// Signing failed (a bad key or algorithm).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignError {
    /// The key is not an RSA PKCS#8 key ring accepts.
    #[error("the signing key was rejected: {0}")]
    Key(String),
    /// Only RS256 and RS512 are signed here.
    #[error("cannot sign with {0}")]
    Algorithm(String),
    /// The signature could not be made.
    #[error("signing failed")]
    Sign,
}

/// An identity-token issuer: an RSA key and the `iss` it writes.
#[derive(Debug)]
pub struct IdentityIssuer {
    key: RsaKeyPair,
    issuer: String,
}

impl IdentityIssuer {
    /// The test issuer the default knobs trust.
    pub fn test() -> Result<Self, SignError> {
        Self::from_pkcs8(TEST_PRIVATE_KEY_PKCS8, TEST_ISSUER)
    }

    /// An issuer with this PKCS#8 key and `iss`.
    pub fn from_pkcs8(pkcs8: &[u8], issuer: &str) -> Result<Self, SignError> {
        let key = RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| SignError::Key(e.to_string()))?;
        Ok(Self {
            key,
            issuer: issuer.to_owned(),
        })
    }

    /// An RS256 token for `sub` that expires at `exp_unix_secs`.
    pub fn token(&self, sub: &str, exp_unix_secs: u64) -> Result<String, SignError> {
        let claims = json!({"iss": self.issuer, "sub": sub, "exp": exp_unix_secs});
        self.sign("RS256", &claims)
    }

    /// Signs `claims` as they are, with `alg` (`RS256` or `RS512`) in the header.
    pub fn sign(&self, alg: &str, claims: &Value) -> Result<String, SignError> {
        let padding = match alg {
            "RS256" => &RSA_PKCS1_SHA256,
            "RS512" => &RSA_PKCS1_SHA512,
            other => return Err(SignError::Algorithm(other.to_owned())),
        };
        let header = json!({"alg": alg, "typ": "JWT"});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                padding,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SignError::Sign)?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}
