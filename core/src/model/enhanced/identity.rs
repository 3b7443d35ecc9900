//! Checking a verified user's `customerIdentityToken` (§4.2): a compact JWT whose header `alg`
//! is RS256 or RS512, whose `iss` is the keyset's issuer, whose `sub` is not empty and whose
//! `exp` (Unix seconds) is after `now` (the model clock, Unix milliseconds), with an RSA
//! PKCS#1 v1.5 signature checked by `ring` against the keyset's public key.
//!
//! Also a throwaway RSA-2048 key pair for tests ([`TEST_PRIVATE_KEY_PKCS8`],
//! [`TEST_PUBLIC_KEY_DER`]); the default knobs trust its public half under [`TEST_ISSUER`].
//! It protects nothing and must never be used outside tests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::Value;
use thiserror::Error;

use super::knobs::IdentityKeyset;
use crate::time::Timestamp;

/// The test key pair's private half, PKCS#8 DER (for signing test identity tokens).
pub const TEST_PRIVATE_KEY_PKCS8: &[u8] = include_bytes!("test_identity_key.pk8.der");
/// The test key pair's public half, PKCS#1 `RSAPublicKey` DER.
pub const TEST_PUBLIC_KEY_DER: &[u8] = include_bytes!("test_identity_key.pub.der");
/// The issuer the default keyset expects.
pub const TEST_ISSUER: &str = "https://switchboard.test/identity";

/// Why an identity token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// Not three base64url parts of JSON.
    #[error("the identity token is not a well-formed JWT")]
    Malformed,
    /// `alg` is not RS256 or RS512.
    #[error("unsupported signing algorithm {0:?}; use RS256 or RS512")]
    Algorithm(String),
    /// `iss` differs from the keyset's issuer.
    #[error("the issuer does not match the keyset")]
    Issuer,
    /// `sub` is missing or empty.
    #[error("the identity token has no subject")]
    Subject,
    /// `exp` is missing or not in the future.
    #[error("the identity token is expired")]
    Expired,
    /// The signature does not verify with the keyset's key.
    #[error("the identity token's signature is invalid")]
    Signature,
}

/// Checks `token` against `keyset` at `now`; the verified `sub` on success.
pub fn verify(
    token: &str,
    keyset: &IdentityKeyset,
    now: Timestamp,
) -> Result<String, IdentityError> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::Malformed);
    };
    let header_json = decode_json(header)?;
    let claims_json = decode_json(claims)?;
    let signature_bytes = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| IdentityError::Malformed)?;
    let alg = header_json
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params: &'static signature::RsaParameters = match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        other => return Err(IdentityError::Algorithm(other.to_owned())),
    };
    if claims_json.get("iss").and_then(Value::as_str) != Some(keyset.issuer.as_str()) {
        return Err(IdentityError::Issuer);
    }
    let sub = claims_json
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or(IdentityError::Subject)?;
    let exp_ms = claims_json
        .get("exp")
        .and_then(Value::as_u64)
        .map(|secs| secs.saturating_mul(1000));
    if exp_ms.is_none_or(|exp| exp <= now.as_millis()) {
        return Err(IdentityError::Expired);
    }
    if let Some(key) = &keyset.public_key_der {
        let signed = &token[..header.len() + 1 + claims.len()];
        UnparsedPublicKey::new(params, key)
            .verify(signed.as_bytes(), &signature_bytes)
            .map_err(|_| IdentityError::Signature)?;
    }
    Ok(sub.to_owned())
}

fn decode_json(part: &str) -> Result<Value, IdentityError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| IdentityError::Malformed)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) | Err(_) => Err(IdentityError::Malformed),
    }
}

/// base64url without padding, as JWTs use.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
