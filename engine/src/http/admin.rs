//! The admin listener. Every route but `/livez` needs `Authorization: Bearer {token}`.
//!
//! - `GET /livez` — the process is up.
//! - `GET /readyz` — the store is open and the listeners run (several instances: and the first
//!   round of taking shards is done; `503` until then).
//! - `GET /metrics` — Prometheus text.
//! - `GET /admin/sessions` — live Live Agent sessions and their states (JSON).
//! - `GET /admin/conversations` — conversations (JSON).
//! - `POST /admin/conversations/{id}/end` — end the conversation's live chat.
//! - `GET /admin/shards` — several instances: which instance holds each shard (JSON; 404 for
//!   a store that is not shared).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use subtle::ConstantTimeEq;
use switchboard_core::session::StateKind;

use super::limits::{ConnectionCounters, render_connections};
use super::serve::{Request, respond};
use crate::bridge::{Bridge, BridgeError};
use crate::engine::Engine;
use crate::metrics::{WebhookCounters, render_prometheus};

/// What the admin routes need.
#[derive(Clone)]
pub struct AdminState {
    /// The engine.
    pub engine: Engine,
    /// The bridge.
    pub bridge: Bridge,
    /// Public webhook counters.
    pub webhooks: Arc<WebhookCounters>,
    /// Connection counters of the public and the admin listener.
    pub connections: [Arc<ConnectionCounters>; 2],
    /// The bearer token.
    pub token: Arc<String>,
    /// Several instances: the task holding this one's shards.
    #[cfg(feature = "postgres")]
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState").finish_non_exhaustive()
    }
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// Answers one admin request.
pub async fn admin_handler(state: AdminState, request: Request) -> http::Response<Full<Bytes>> {
    let path = request.parts.uri.path().to_owned();
    if path == "/livez" {
        return respond(200, TEXT, "ok\n");
    }
    let presented = request
        .parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(state.token.as_bytes())) {
        return respond(401, TEXT, "missing or wrong bearer token\n");
    }
    let method = request.parts.method.clone();
    match (method.as_str(), path.as_str()) {
        ("GET", "/readyz") => {
            #[cfg(feature = "postgres")]
            if state.cluster.as_ref().is_some_and(|c| !c.ready()) {
                return respond(503, TEXT, "taking shards\n");
            }
            respond(200, TEXT, "ready\n")
        }
        ("GET", "/metrics") => {
            let chats = state.engine.chats();
            let by_state: Vec<(&str, usize)> = [
                (StateKind::Init, "init"),
                (StateKind::Established, "established"),
                (StateKind::Polling, "polling"),
                (StateKind::Resyncing, "resyncing"),
            ]
            .iter()
            .map(|(kind, name)| (*name, chats.iter().filter(|(_, s)| s == kind).count()))
            .collect();
            let mut body = render_prometheus(&state.engine.metrics(), &state.webhooks, &by_state);
            body.push_str(&state.bridge.delivery_latency());
            let [public, admin] = &state.connections;
            body.push_str(&render_connections(&[("public", public), ("admin", admin)]));
            #[cfg(feature = "postgres")]
            if let Some(cluster) = &state.cluster {
                body.push_str(&cluster.metrics().render());
            }
            respond(200, "text/plain; version=0.0.4", body)
        }
        ("GET", "/admin/sessions") => {
            let sessions: Vec<serde_json::Value> = state
                .engine
                .chats()
                .into_iter()
                .map(|(chat, s)| {
                    serde_json::json!({"chat": chat.0, "state": format!("{s:?}"), "shard": chat.shard()})
                })
                .collect();
            #[cfg(feature = "postgres")]
            let instance = state.cluster.as_ref().map(|c| c.instance().to_owned());
            #[cfg(not(feature = "postgres"))]
            let instance: Option<String> = None;
            respond(
                200,
                JSON,
                serde_json::json!({ "instance": instance, "sessions": sessions }).to_string(),
            )
        }
        #[cfg(feature = "postgres")]
        ("GET", "/admin/shards") => match &state.cluster {
            None => respond(404, TEXT, "this instance does not share its store\n"),
            Some(cluster) => match cluster.leases().await {
                Ok(leases) => {
                    let shards: Vec<serde_json::Value> = leases
                        .iter()
                        .map(|l| {
                            serde_json::json!({"shard": l.shard, "owner": l.owner, "epoch": l.epoch, "expired": l.expired})
                        })
                        .collect();
                    let body =
                        serde_json::json!({"instance": cluster.instance(), "shards": shards});
                    respond(200, JSON, body.to_string())
                }
                Err(e) => respond(503, TEXT, format!("{e}\n")),
            },
        },
        ("GET", "/admin/conversations") => {
            let conversations = state.bridge.conversations().await;
            respond(
                200,
                JSON,
                serde_json::json!({ "conversations": conversations }).to_string(),
            )
        }
        ("POST", p) if conversation_to_end(p).is_some() => {
            let id = conversation_to_end(p).unwrap_or_default();
            let id = switchboard_core::liveagent::request::percent_decode(id);
            match state.bridge.end_conversation(&id).await {
                Ok(()) => respond(200, JSON, serde_json::json!({"ended": id}).to_string()),
                Err(BridgeError::UnknownConversation(_)) => {
                    respond(404, TEXT, "no such conversation\n")
                }
                Err(BridgeError::NoLiveChat(_)) => {
                    respond(409, TEXT, "the conversation has no live chat\n")
                }
                Err(e) => respond(503, TEXT, format!("{e}\n")),
            }
        }
        (
            _,
            "/readyz" | "/metrics" | "/admin/sessions" | "/admin/conversations" | "/admin/shards",
        ) => respond(405, TEXT, "method not allowed\n"),
        _ => respond(404, TEXT, "not found\n"),
    }
}

/// `/admin/conversations/{id}/end` → `{id}` (still percent-encoded), if non-empty.
fn conversation_to_end(path: &str) -> Option<&str> {
    path.strip_prefix("/admin/conversations/")
        .and_then(|rest| rest.strip_suffix("/end"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
}
