//! The access-token answer (§4.1), and the expiry read from the JWT it carries.

use serde_json::Value;

use super::{WireError, scalar, unreadable};

/// An access-token answer (§4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAnswer {
    /// The JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Where the event stream starts, when given (a numeric string in samples).
    pub last_event_id: Option<String>,
    /// How long the token lives (`exp − iat` of the JWT's claims, when it has both): a span,
    /// so that the server's clock and ours need not agree.
    pub lifetime_secs: Option<u64>,
}

impl TokenAnswer {
    /// Decodes a token answer.
    pub fn parse(body: &str) -> Result<TokenAnswer, WireError> {
        let value: Value = serde_json::from_str(body).map_err(|e| unreadable("token answer", e))?;
        let access_token = value["accessToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unreadable("token answer", "no accessToken"))?
            .to_owned();
        Ok(TokenAnswer {
            lifetime_secs: jwt_lifetime(&access_token),
            last_event_id: scalar(&value["lastEventId"]),
            access_token,
        })
    }
}

/// `exp − iat` of a JWT, without checking its signature (the token is the server's).
fn jwt_lifetime(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["exp"].as_u64()?.checked_sub(claims["iat"].as_u64()?)
}

/// Unpadded (or padded) base64url.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().take_while(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
