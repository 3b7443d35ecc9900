//! The token endpoints (§4) and Bearer authentication: unauthenticated tokens make a new
//! anonymous subject, authenticated ones a verified subject after the identity token checks,
//! continuation tokens keep subject and expiry. Tokens are JWT-shaped but opaque: the server
//! looks them up. Expired or revoked → 401; 200 token requests a minute per org, then 429.

use serde_json::{Value, json};

use super::identity::{self, b64url};
use super::knobs::UnverifiedIdentity;
use super::{EnhancedRequest, EnhancedServer, Response};
use crate::time::Timestamp;

/// An access token as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `v2/iamessage/ANON/…` or `v2/iamessage/AUTH/{keyset}/uid:{sub}`.
    pub subject: String,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Whether it came from the authenticated endpoint (or a continuation of such a token).
    pub verified: bool,
    /// Revoked by `DELETE …/authenticated/access-token`.
    pub revoked: bool,
}

impl TokenInfo {
    /// Usable at `now`.
    pub fn is_valid(&self, now: Timestamp) -> bool {
        !self.revoked && now < self.expires_at
    }
}

/// Why a Bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    Missing,
    Unknown,
    Expired,
}

impl AuthFailure {
    pub(crate) fn rest_response(self) -> Response {
        match self {
            AuthFailure::Missing => Response::error(401, "Authorization header is required"),
            AuthFailure::Unknown => Response::error(401, "Invalid access token"),
            AuthFailure::Expired => Response::error(401, "Jwt is expired"),
        }
    }
}

impl EnhancedServer {
    /// The token and subject of a request's Bearer header.
    pub(crate) fn authenticate_token(
        &self,
        request: &EnhancedRequest,
        now: Timestamp,
    ) -> Result<(String, String), AuthFailure> {
        let token = request.bearer_token().ok_or(AuthFailure::Missing)?;
        let info = self.tokens.get(token).ok_or(AuthFailure::Unknown)?;
        if !info.is_valid(now) {
            return Err(AuthFailure::Expired);
        }
        Ok((token.to_owned(), info.subject.clone()))
    }

    /// The subject of a REST request, or its 401.
    pub(crate) fn authenticate(
        &self,
        request: &EnhancedRequest,
        now: Timestamp,
    ) -> Result<String, Response> {
        self.authenticate_token(request, now)
            .map(|(_, subject)| subject)
            .map_err(AuthFailure::rest_response)
    }

    /// Checks the fields every token request carries; the parsed body on success.
    fn token_body(&mut self, request: &EnhancedRequest, now: Timestamp) -> Result<Value, Response> {
        let Some(body @ Value::Object(_)) = request.json() else {
            return Err(Response::error(400, "Request body must be a JSON object"));
        };
        let org = body
            .get("orgId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !self.org_id_matches(org, true) {
            return Err(Response::error(400, "Invalid orgId"));
        }
        let name = body.get("esDeveloperName").and_then(Value::as_str);
        if name != Some(self.knobs.es_developer_name.as_str()) {
            return Err(Response::error(400, "Invalid esDeveloperName"));
        }
        let minute_ago = Timestamp::from_millis(now.as_millis().saturating_sub(60_000));
        while self
            .token_requests
            .front()
            .is_some_and(|t| *t <= minute_ago)
        {
            self.token_requests.pop_front();
        }
        if self.token_requests.len() >= self.knobs.tokens_per_minute as usize {
            return Err(self.fault_response(429));
        }
        self.token_requests.push_back(now);
        Ok(body)
    }

    /// Whether `org` names the configured org: the 15-character id, or the 18-character form
    /// when `allow_18` is set.
    pub(crate) fn org_id_matches(&self, org: &str, allow_18: bool) -> bool {
        let expected = self.knobs.org_id.as_str();
        org == expected
            || (allow_18
                && org.len() == expected.len() + 3
                && org.is_char_boundary(expected.len())
                && org[..expected.len()] == *expected)
    }

    pub(super) fn unauthenticated_token(
        &mut self,
        request: &EnhancedRequest,
        now: Timestamp,
    ) -> Response {
        let body = match self.token_body(request, now) {
            Ok(body) => body,
            Err(response) => return response,
        };
        let subject = format!("v2/iamessage/ANON/{}", self.uuid());
        let lifetime = self.knobs.token_lifetime;
        self.issue(subject, now, now + lifetime, false, &body)
    }

    pub(super) fn authenticated_token(
        &mut self,
        request: &EnhancedRequest,
        now: Timestamp,
    ) -> Response {
        let body = match self.token_body(request, now) {
            Ok(body) => body,
            Err(response) => return response,
        };
        if body.get("authorizationType").and_then(Value::as_str) != Some("JWT") {
            return Response::error(400, "authorizationType must be JWT");
        }
        let Some(identity_token) = body.get("customerIdentityToken").and_then(Value::as_str) else {
            return Response::error(400, "customerIdentityToken is required");
        };
        let verified = match &self.knobs.identity {
            Some(keyset) => identity::verify(identity_token, keyset, now)
                .map(|sub| format!("v2/iamessage/AUTH/{}/uid:{sub}", keyset.name))
                .map_err(|e| e.to_string()),
            None => Err("no keyset is configured for verified users".to_owned()),
        };
        match (verified, self.knobs.unverified_identity) {
            (Ok(subject), _) => {
                let lifetime = self.knobs.verified_token_lifetime;
                self.issue(subject, now, now + lifetime, true, &body)
            }
            (Err(reason), UnverifiedIdentity::Reject) => Response::error(401, &reason),
            (Err(_), UnverifiedIdentity::FallBackToAnonymous) => {
                let subject = format!("v2/iamessage/ANON/{}", self.uuid());
                let lifetime = self.knobs.token_lifetime;
                self.issue(subject, now, now + lifetime, false, &body)
            }
        }
    }

    pub(super) fn revoke_token(&mut self, request: &EnhancedRequest, now: Timestamp) -> Response {
        let token = match self.authenticate_token(request, now) {
            Ok((token, _)) => token,
            Err(failure) => return failure.rest_response(),
        };
        if let Some(info) = self.tokens.get_mut(&token) {
            if !info.verified {
                return Response::error(400, "Only verified-user tokens can be revoked");
            }
            info.revoked = true;
        }
        Response::empty(self.knobs.close_status)
    }

    pub(super) fn continuation_token(
        &mut self,
        request: &EnhancedRequest,
        now: Timestamp,
    ) -> Response {
        let old = match self.authenticate_token(request, now) {
            Ok((token, _)) => token,
            Err(failure) => return failure.rest_response(),
        };
        let Some(info) = self.tokens.get(&old).cloned() else {
            return Response::error(401, "Invalid access token");
        };
        let token = self.mint(&info.subject, info.expires_at, now);
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                issued_at: now,
                ..info
            },
        );
        Response::json(
            200,
            &json!({ "accessToken": token, "lastEventId": self.last_event_id().to_string() }),
        )
    }

    fn issue(
        &mut self,
        subject: String,
        now: Timestamp,
        expires_at: Timestamp,
        verified: bool,
        body: &Value,
    ) -> Response {
        let token = self.mint(&subject, expires_at, now);
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                subject: subject.clone(),
                issued_at: now,
                expires_at,
                verified,
                revoked: false,
            },
        );
        let device_id = match body.get("deviceId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => self.uuid(),
        };
        let name = self.knobs.es_developer_name.clone();
        Response::json(
            200,
            &json!({
                "accessToken": token,
                "lastEventId": self.last_event_id().to_string(),
                "context": {
                    "deviceId": device_id,
                    "endUser": {"subject": subject},
                    "configuration": {"embeddedServiceConfig": {
                        "name": name,
                        "deploymentType": "Custom",
                        "embeddedServiceMessagingChannel": {
                            "channelAddressIdentifier": self.knobs.channel_address_identifier,
                            "authMode": if verified { "Auth" } else { "UnAuth" },
                        },
                        "forms": [{"displayContext": "Conversation", "formFields": [
                            {"name": "Channel_Source", "isHidden": true, "order": 1,
                             "required": false, "type": "Text"}
                        ]}],
                        "choiceListConfig": {"choiceList": []},
                    }},
                },
            }),
        )
    }

    /// A JWT-shaped opaque token.
    fn mint(&mut self, subject: &str, expires_at: Timestamp, now: Timestamp) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "switchboard-sim"});
        let claims = json!({
            "sub": subject,
            "iss": "switchboard-sim",
            "iat": now.as_millis() / 1000,
            "exp": expires_at.as_millis() / 1000,
            "jti": self.uuid(),
            "orgId": self.knobs.org_id,
        });
        let signature: Vec<u8> = (0..4).flat_map(|_| self.random().to_be_bytes()).collect();
        format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes()),
            b64url(&signature)
        )
    }

    /// Makes every token of `subject` (or just `token`) expire at `now`.
    pub(crate) fn expire_tokens(
        &mut self,
        mut which: impl FnMut(&str, &TokenInfo) -> bool,
        now: Timestamp,
    ) -> usize {
        let mut count = 0;
        for (token, info) in &mut self.tokens {
            if which(token, info) && info.expires_at > now {
                info.expires_at = now;
                count += 1;
            }
        }
        count
    }
}
