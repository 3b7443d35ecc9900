//! SSE connect rules (§7.1, §4.4) and reading the event logs. A connect needs `X-Org-Id`
//! (400 `OrgId is required`; the 15-character id, the 18-character one by knob), a valid
//! Bearer token (401; an expired one gets `Jwt is expired` as text or JSON by knob) and, by
//! knob, `Last-Event-Id` (400). Accepted, it streams the subject's events after the
//! `Last-Event-Id` (replay) or after the current tip (no replay).

use serde_json::json;

use super::knobs::{ExpiredStreamShape, Replay};
use super::reply::StreamOpen;
use super::tokens::AuthFailure;
use super::{EnhancedRequest, EnhancedServer, Reply, Response, SSE_PATH, SseEvent};
use crate::time::Timestamp;

impl EnhancedServer {
    pub(super) fn connect(&mut self, request: &EnhancedRequest, now: Timestamp) -> Reply {
        let Some(org) = request
            .header_value("x-org-id")
            .map(str::trim)
            .filter(|o| !o.is_empty())
        else {
            return Response::error(400, "OrgId is required").into();
        };
        if !self.org_id_matches(org, self.knobs.accept_18_char_org_id) {
            return Response::error(400, "OrgId is invalid").into();
        }
        let (token, subject) = match self.authenticate_token(request, now) {
            Ok(found) => found,
            Err(AuthFailure::Expired) => return self.expired_stream().into(),
            Err(AuthFailure::Missing | AuthFailure::Unknown) => {
                return Response::json(
                    401,
                    &json!({"status": 401, "error": "Unauthorized", "path": SSE_PATH}),
                )
                .into();
            }
        };
        let last = request
            .header_value("last-event-id")
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let last = match last.map(str::parse::<u64>) {
            None if self.knobs.require_last_event_id => {
                return Response::error(400, "Last-Event-Id is required").into();
            }
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return Response::error(400, "Last-Event-Id is invalid").into(),
        };
        let tip = self.last_event_id();
        let after = match (self.knobs.replay, last) {
            (Replay::AfterLastEventId, Some(id)) => id,
            (Replay::AfterLastEventId, None) | (Replay::None, _) => tip,
        };
        Reply::Stream(StreamOpen {
            subject,
            token,
            after,
        })
    }

    fn expired_stream(&self) -> Response {
        match self.knobs.expired_stream_shape {
            ExpiredStreamShape::Text => Response::text(401, "Jwt is expired"),
            ExpiredStreamShape::Json => Response::json(
                401,
                &json!({"status": 401, "error": "Unauthorized", "path": SSE_PATH}),
            ),
        }
    }

    /// `subject`'s events with an id above `after`, oldest first.
    pub fn events_after(&self, subject: &str, after: u64) -> Vec<SseEvent> {
        let Some(log) = self.logs.get(subject) else {
            return Vec::new();
        };
        let start = log.partition_point(|e| e.id <= after);
        log[start..].to_vec()
    }

    /// Every event of `subject`, oldest first.
    pub fn events(&self, subject: &str) -> &[SseEvent] {
        self.logs.get(subject).map_or(&[], Vec::as_slice)
    }

    /// Whether `token` still works at `now` (a running stream checks this).
    pub fn token_valid(&self, token: &str, now: Timestamp) -> bool {
        self.tokens.get(token).is_some_and(|t| t.is_valid(now))
    }
}
