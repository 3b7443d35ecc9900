//! The agent control API as JSON over HTTP under `/__sim/`, for the web console:
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /__sim/chats` | | every session, with its `transcript` (both sides' texts in order) |
//! | `GET /__sim/chats/{id}` | | one session |
//! | `GET /__sim/waiting` | | chats waiting for an agent |
//! | `GET /__sim/requests` | | recorded requests (method, path, status, time; no headers) |
//! | `POST /__sim/chats/{id}/accept` | `{"agent":"Andy"}` | the session |
//! | `POST /__sim/chats/{id}/reject` | `{"reason":"Unavailable"}` (optional) | the session |
//! | `POST /__sim/chats/{id}/queue` | `{"position":2}` | the session |
//! | `POST /__sim/chats/{id}/text` | `{"text":"Hello"}` | the session |
//! | `POST /__sim/chats/{id}/typing` | `{"typing":true}` | the session |
//! | `POST /__sim/chats/{id}/transfer` | `{"agent":"Bea"}` | the session |
//! | `POST /__sim/chats/{id}/file`, `/disconnect`, `/end`, `/failover` | | the session |
//! | `POST /__sim/chats/{id}/expire` | | `{"expired":id}` |
//! | `POST /__sim/failover` | | `{"sessions":n}` |
//!
//! Errors are `{"error":"…"}`: 404 unknown session or route, 409 wrong phase, 400 bad JSON or
//! a missing field, 405 wrong method.

use http::Method;
use serde_json::{Value, json};
use switchboard_core::liveagent::request::percent_decode;
use switchboard_core::model::server::{Phase, Recorded};

use super::console::Transcripts;
use super::control::{AgentControl, AgentError, SessionView, WaitingChat};
use super::http::{Body, json};
use super::state::Shared;

use std::sync::Arc;

/// Answers one control request.
pub(crate) fn serve(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    body: &[u8],
) -> http::Response<Body> {
    let control = AgentControl {
        shared: shared.clone(),
    };
    let segments: Vec<String> = path
        .trim_start_matches("/__sim")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let result = match (method, segments.as_slice()) {
        (&Method::GET, ["chats"]) => Ok(shared.read_transcripts(|state| {
            Value::Array(
                state
                    .server
                    .sessions()
                    .map(|s| session_json(&SessionView::of(s), &state.transcripts))
                    .collect(),
            )
        })),
        (&Method::GET, ["chats", id]) => one_session(shared, id),
        (&Method::GET, ["waiting"]) => Ok(Value::Array(
            control.waiting().iter().map(waiting_json).collect(),
        )),
        (&Method::GET, ["requests"]) => Ok(Value::Array(
            control.recorded().iter().map(recorded_json).collect(),
        )),
        (&Method::POST, ["failover"]) => Ok(json!({ "sessions": control.failover_all() })),
        (&Method::POST, ["chats", id, action]) => act(&control, id, action, body)
            .and_then(|reply| reply.map_or_else(|| one_session(shared, id), Ok)),
        (_, ["chats"] | ["chats", _] | ["waiting"] | ["requests"] | ["failover"])
        | (_, ["chats", _, _]) => Err(failure(405, "method not allowed".into())),
        _ => Err(failure(404, "no such control route".into())),
    };
    match result {
        Ok(value) => json(200, &value),
        Err((status, message)) => json(status, &json!({ "error": message })),
    }
}

type Failure = (u16, String);

fn failure(status: u16, message: String) -> Failure {
    (status, message)
}

fn refused(error: AgentError) -> Failure {
    (error.http_status(), error.to_string())
}

/// One session as JSON, transcript included.
fn one_session(shared: &Shared, id: &str) -> Result<Value, Failure> {
    shared
        .read_transcripts(|state| {
            state
                .server
                .session(id)
                .map(|s| session_json(&SessionView::of(s), &state.transcripts))
        })
        .ok_or_else(|| failure(404, format!("no session {id}")))
}

/// Performs one action; `Some` is an answer of its own, `None` means "answer with the session".
fn act(
    control: &AgentControl,
    id: &str,
    action: &str,
    body: &[u8],
) -> Result<Option<Value>, Failure> {
    let args = arguments(body)?;
    let text_arg = |name: &str| {
        args.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| failure(400, format!("expected a string \"{name}\"")))
    };
    match action {
        "accept" => control.accept(id, &text_arg("agent")?),
        "reject" => {
            let reason = args
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("Unavailable");
            control.reject(id, reason)
        }
        "queue" => {
            let position = args
                .get("position")
                .and_then(Value::as_i64)
                .ok_or_else(|| failure(400, "expected an integer \"position\"".into()))?;
            control.queue_update(id, position)
        }
        "text" => control.send_text(id, &text_arg("text")?),
        "typing" => {
            let typing = args
                .get("typing")
                .and_then(Value::as_bool)
                .ok_or_else(|| failure(400, "expected a boolean \"typing\"".into()))?;
            control.typing(id, typing)
        }
        "transfer" => control.transfer(id, &text_arg("agent")?),
        "file" => control.request_file(id),
        "disconnect" => control.disconnect_agent(id),
        "end" => control.end(id),
        "failover" => control.failover(id),
        "expire" => {
            control.expire(id).map_err(refused)?;
            return Ok(Some(json!({ "expired": id })));
        }
        _ => return Err(failure(404, format!("no control action {action}"))),
    }
    .map_err(refused)?;
    Ok(None)
}

/// The JSON object of a control body; an empty body is an empty object.
fn arguments(body: &[u8]) -> Result<serde_json::Map<String, Value>, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(failure(400, "expected a JSON object".into())),
        Err(e) => Err(failure(400, format!("bad JSON: {e}"))),
    }
}

fn phase_json(phase: &Phase) -> (&'static str, Option<&str>) {
    match phase {
        Phase::Created => ("created", None),
        Phase::Requested => ("waiting", None),
        Phase::Established { agent } => ("established", Some(agent.as_str())),
        Phase::Ended => ("ended", None),
    }
}

fn pairs_json(pairs: &[(String, String)]) -> Value {
    Value::Array(pairs.iter().map(|(k, v)| json!([k, v])).collect())
}

fn session_json(view: &SessionView, transcripts: &Transcripts) -> Value {
    let (phase, agent) = phase_json(&view.phase);
    let transcript: Vec<Value> = transcripts
        .lines(&view.id)
        .iter()
        .map(|line| json!({ "from": line.from.as_str(), "text": line.text, "atMs": line.at_ms }))
        .collect();
    json!({
        "id": view.id,
        "phase": phase,
        "agent": agent,
        "visitorName": view.visitor_name,
        "prechat": pairs_json(&view.prechat),
        "visitorTexts": view.visitor_texts,
        "agentTexts": view.agent_texts,
        "visitorTyping": view.visitor_typing,
        "customEvents": pairs_json(&view.custom_events),
        "polling": view.polling,
        "moved": view.moved,
        "affinityToken": view.affinity_token,
        "transcript": transcript,
    })
}

fn waiting_json(chat: &WaitingChat) -> Value {
    json!({
        "id": chat.session_id,
        "visitorName": chat.visitor_name,
        "prechat": pairs_json(&chat.prechat),
    })
}

fn recorded_json(record: &Recorded) -> Value {
    json!({
        "atMs": record.at.as_millis(),
        "method": record.request.method.as_str(),
        "path": record.request.resource.path(),
        "status": record.status,
    })
}
