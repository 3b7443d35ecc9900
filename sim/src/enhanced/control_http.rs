//! The agent control API as JSON over HTTP under `/__sim/`, for scripts and the console page:
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /__sim/conversations` | | every conversation |
//! | `GET /__sim/conversations/{id}` | | one conversation |
//! | `GET /__sim/waiting` | | conversations waiting for an agent |
//! | `GET /__sim/streams` | | open streams |
//! | `GET /__sim/requests` | | recorded requests (method, path, status, time; no headers) |
//! | `POST /__sim/conversations/{id}/accept` | `{"agent":"Li Wei"}` | the conversation |
//! | `POST /__sim/conversations/{id}/text` | `{"text":"Hello"}` | `{"entryId":…}` |
//! | `POST /__sim/conversations/{id}/typing` | `{"typing":true}` | the conversation |
//! | `POST /__sim/conversations/{id}/ack` | `{"messageId":…,"read":true}` | the conversation |
//! | `POST /__sim/conversations/{id}/transfer` | `{"agent":"Bea"}` (optional) | the conversation |
//! | `POST /__sim/conversations/{id}/end`, `/route`, `/fail-routing` | | the conversation |
//! | `POST /__sim/streams/drop` | `{"subject":…,"mode":"clean"/"abort"/"midframe"}` | `{"streams":n}` |
//! | `POST /__sim/streams/stall` | `{"subject":…,"stalled":true}` | `{"streams":n}` |
//! | `POST /__sim/tokens/expire` | `{"token":…}` or `{"subject":…}` | `{"expired":n}` |
//! | `POST /__sim/faults` | `{"status":429,"count":1,"target":"rest"/"sse"}` | `{}` |
//! | `POST /__sim/clock` | `{"advanceMs":3600000}` | `{"nowMs":…}` |
//! | `/__sim/chats…`, `POST /__sim/failover` | | the agent console's adapter (`console_http`) |
//!
//! Errors are `{"error":"…"}`: 404 unknown conversation or route, 409 wrong state, 400 bad
//! JSON or a missing field, 405 wrong method.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::{Map, Value, json};
use switchboard_core::model::enhanced::{Acknowledgement, Recorded, SessionState};

use super::agent::{AgentError, ConversationView, EnhancedAgent};
use super::console_http;
use super::http::{Body, json};
use super::state::{DropMode, Shared};

/// A refusal: `(status, message)`.
pub(super) type Failure = (u16, String);

/// Answers one control request.
pub(crate) fn serve(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    body: &[u8],
) -> http::Response<Body> {
    let agent = EnhancedAgent {
        shared: shared.clone(),
    };
    let segments: Vec<&str> = path
        .trim_start_matches("/__sim")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let result = arguments(body).and_then(|args| route(&agent, method, &segments, &args));
    match result {
        Ok(value) => json(200, &value),
        Err((status, message)) => json(status, &json!({ "error": message })),
    }
}

fn route(
    agent: &EnhancedAgent,
    method: &Method,
    segments: &[&str],
    args: &Map<String, Value>,
) -> Result<Value, Failure> {
    match (method, segments) {
        (_, ["chats", ..] | ["failover"]) => console_http::route(agent, method, segments, args),
        (&Method::GET, ["conversations"]) => Ok(Value::Array(
            agent.conversations().iter().map(conversation_json).collect(),
        )),
        (&Method::GET, ["conversations", id]) => one(agent, id),
        (&Method::GET, ["waiting"]) => Ok(Value::Array(
            agent
                .waiting()
                .iter()
                .map(|w| json!({"id": w.conversation_id, "subject": w.subject, "routingAttributes": w.routing_attributes}))
                .collect(),
        )),
        (&Method::GET, ["streams"]) => Ok(Value::Array(
            agent
                .streams()
                .iter()
                .map(|s| json!({"subject": s.subject, "openedAtMs": s.opened_at.as_millis(), "stalled": s.stalled}))
                .collect(),
        )),
        (&Method::GET, ["requests"]) => Ok(Value::Array(
            agent.recorded().iter().map(recorded_json).collect(),
        )),
        (&Method::POST, ["conversations", id, action]) => act(agent, id, action, args),
        (&Method::POST, ["streams", action]) => {
            let subject = text(args, "subject")?;
            let streams = match *action {
                "drop" => {
                    let mode = match args.get("mode").and_then(Value::as_str) {
                        None | Some("clean") => DropMode::Clean,
                        Some("abort") => DropMode::Abort,
                        Some("midframe") => DropMode::MidFrame,
                        Some(other) => return Err((400, format!("unknown drop mode {other}"))),
                    };
                    agent.drop_streams(&subject, mode)
                }
                "stall" => agent.stall_streams(&subject, flag(args, "stalled")?),
                _ => return Err((404, format!("no stream action {action}"))),
            };
            Ok(json!({ "streams": streams }))
        }
        (&Method::POST, ["tokens", "expire"]) => {
            let expired = match (args.get("token"), args.get("subject")) {
                (Some(Value::String(token)), _) => usize::from(agent.expire_token(token)),
                (_, Some(Value::String(subject))) => agent.expire_subject(subject),
                _ => return Err((400, "expected a string \"token\" or \"subject\"".into())),
            };
            Ok(json!({ "expired": expired }))
        }
        (&Method::POST, ["faults"]) => {
            let status = number(args, "status")?;
            let status = u16::try_from(status)
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| (400, "status must be an HTTP status".to_owned()))?;
            let count = args.get("count").and_then(Value::as_u64).unwrap_or(1);
            let count = usize::try_from(count).unwrap_or(1);
            match args.get("target").and_then(Value::as_str) {
                None | Some("rest") => agent.fail_next_requests(status, count),
                Some("sse") => agent.fail_next_streams(status, count),
                Some(other) => return Err((400, format!("unknown target {other}"))),
            }
            Ok(json!({}))
        }
        (&Method::POST, ["clock"]) => {
            agent.advance_clock(Duration::from_millis(number(args, "advanceMs")?));
            Ok(json!({ "nowMs": agent.now().as_millis() }))
        }
        (_, ["conversations"] | ["conversations", _] | ["waiting"] | ["streams"] | ["requests"])
        | (_, ["conversations", _, _] | ["streams", _] | ["tokens", _] | ["faults"] | ["clock"]) => {
            Err((405, "method not allowed".into()))
        }
        _ => Err((404, "no such control route".into())),
    }
}

fn act(
    agent: &EnhancedAgent,
    id: &str,
    action: &str,
    args: &Map<String, Value>,
) -> Result<Value, Failure> {
    let refused = |e: AgentError| (e.http_status(), e.to_string());
    match action {
        "accept" => agent.accept(id, &text(args, "agent")?),
        "text" => {
            let entry = agent.send_text(id, &text(args, "text")?).map_err(refused)?;
            return Ok(json!({ "entryId": entry }));
        }
        "typing" => agent.typing(id, flag(args, "typing")?),
        "ack" => {
            let read = args.get("read").and_then(Value::as_bool).unwrap_or(false);
            let kind = if read {
                Acknowledgement::Read
            } else {
                Acknowledgement::Delivered
            };
            agent.acknowledge(id, &text(args, "messageId")?, kind)
        }
        "transfer" => {
            let to = args.get("agent").and_then(Value::as_str);
            agent.transfer(id, to)
        }
        "end" => agent.end_session(id),
        "route" => agent.route_now(id),
        "fail-routing" => agent.fail_routing(id),
        _ => return Err((404, format!("no conversation action {action}"))),
    }
    .map_err(refused)?;
    one(agent, id)
}

fn one(agent: &EnhancedAgent, id: &str) -> Result<Value, Failure> {
    agent
        .conversation(id)
        .map(|c| conversation_json(&c))
        .ok_or_else(|| (404, format!("no conversation {id}")))
}

fn arguments(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err((400, "expected a JSON object".into())),
        Err(e) => Err((400, format!("bad JSON: {e}"))),
    }
}

pub(super) fn text(args: &Map<String, Value>, name: &str) -> Result<String, Failure> {
    args.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| (400, format!("expected a string \"{name}\"")))
}

pub(super) fn flag(args: &Map<String, Value>, name: &str) -> Result<bool, Failure> {
    args.get(name)
        .and_then(Value::as_bool)
        .ok_or_else(|| (400, format!("expected a boolean \"{name}\"")))
}

fn number(args: &Map<String, Value>, name: &str) -> Result<u64, Failure> {
    args.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| (400, format!("expected a number \"{name}\"")))
}

fn conversation_json(c: &ConversationView) -> Value {
    let session = match &c.session {
        SessionState::Routing { .. } => "routing",
        SessionState::Waiting => "waiting",
        SessionState::Active { .. } => "active",
        SessionState::Ended => "ended",
    };
    json!({
        "id": c.id,
        "subject": c.subject,
        "open": c.open,
        "session": session,
        "agent": c.agent(),
        "routingStatus": c.routing_status.as_str(),
        "routingAttributes": c.routing_attributes,
        "endUserTexts": c.end_user_texts,
        "agentTexts": c.agent_texts,
        "endUserTyping": c.end_user_typing,
        "entries": c.entries,
        "sessionsStarted": c.sessions_started,
    })
}

fn recorded_json(record: &Recorded) -> Value {
    json!({
        "atMs": record.at.as_millis(),
        "method": record.request.method.as_str(),
        "path": record.request.path,
        "status": record.status,
    })
}
