//! The agent console's adapter (the page is `crate::console`, served at `GET /console`): each
//! Enhanced Chat conversation presented as the console's chat, under `/__sim/chats`, next to
//! the simulator's own control routes.
//!
//! | request | body | does | answer |
//! |---|---|---|---|
//! | `GET /__sim/chats` | | | every conversation as a chat |
//! | `GET /__sim/chats/{id}` | | | one chat |
//! | `POST /__sim/chats/{id}/accept` | `{"agent":"Li Wei"}` | the agent joins | the chat |
//! | `POST /__sim/chats/{id}/reject` | ignored | routing fails, the session ends | the chat |
//! | `POST /__sim/chats/{id}/text` | `{"text":"Hello"}` | the agent writes | the chat |
//! | `POST /__sim/chats/{id}/typing` | `{"typing":true}` | typing starts or stops | the chat |
//! | `POST /__sim/chats/{id}/transfer` | `{"agent":"Bea"}` (optional: the queue) | transfer | the chat |
//! | `POST /__sim/chats/{id}/end` | | the agent ends the session | the chat |
//! | `POST /__sim/chats/{id}/failover` | | the subject's streams are cut mid-frame | the chat |
//! | `POST /__sim/chats/{id}/file` | | nothing: not modelled | 422 |
//! | `POST /__sim/failover` | | every open stream is cut mid-frame | `{"streams":n}` |
//!
//! A chat is `{id, phase, agent, visitorName, prechat, transcript, polling, moved,
//! visitorTyping}`: `phase` is `routing` until routing answers, `waiting` in the queue,
//! `established` while an agent is in the session, `ended` once the session ended or the
//! conversation closed; `agent` is the agent's display name; `visitorName` is the routing
//! attribute `Visitor_Name`; `prechat` the routing attributes as `[name, value]` pairs;
//! `transcript` the end user's and agents' messages in transcript order, `atMs` their
//! `transcriptedTimestamp`; `polling` whether the subject has an open stream; `moved` is always
//! false (Enhanced Chat has no failover to wait for). Errors are `{"error":…}`, with the status
//! codes of the control API.

use std::collections::{BTreeMap, BTreeSet};

use http::Method;
use serde_json::{Map, Value, json};
use switchboard_core::model::enhanced::{Conversation, Entry, Role, SessionState};

use super::agent::{AgentError, EnhancedAgent};
use super::control_http::{Failure, flag, text};
use super::state::{DropMode, StreamEntry};

/// The routing attribute holding the visitor's display name (the gateway's `name_field`).
pub(crate) const VISITOR_NAME: &str = "Visitor_Name";

/// Answers a request under `/__sim/chats` or `/__sim/failover`.
pub(crate) fn route(
    agent: &EnhancedAgent,
    method: &Method,
    segments: &[&str],
    args: &Map<String, Value>,
) -> Result<Value, Failure> {
    match (method, segments) {
        (&Method::GET, ["chats"]) => Ok(agent.shared.read(|state| {
            Value::Array(
                state
                    .server
                    .conversations()
                    .map(|c| chat_json(c, &state.streams))
                    .collect(),
            )
        })),
        (&Method::GET, ["chats", id]) => chat(agent, id),
        (&Method::POST, ["chats", id, action]) => {
            act(agent, id, action, args)?;
            chat(agent, id)
        }
        (&Method::POST, ["failover"]) => Ok(json!({ "streams": drop_every_stream(agent) })),
        (_, ["chats"] | ["chats", _] | ["chats", _, _] | ["failover"]) => {
            Err((405, "method not allowed".into()))
        }
        _ => Err((404, "no such control route".into())),
    }
}

fn chat(agent: &EnhancedAgent, id: &str) -> Result<Value, Failure> {
    agent
        .shared
        .read(|state| {
            state
                .server
                .conversation(id)
                .map(|c| chat_json(c, &state.streams))
        })
        .ok_or_else(|| (404, format!("no conversation {id}")))
}

/// Performs one console action on conversation `id`.
fn act(
    agent: &EnhancedAgent,
    id: &str,
    action: &str,
    args: &Map<String, Value>,
) -> Result<(), Failure> {
    let Some(subject) = agent.conversation(id).map(|c| c.subject) else {
        return Err((404, format!("no conversation {id}")));
    };
    let done = match action {
        "accept" => agent.accept(id, &text(args, "agent")?),
        "reject" => agent.fail_routing(id),
        "text" => agent.send_text(id, &text(args, "text")?).map(drop),
        "typing" => agent.typing(id, flag(args, "typing")?),
        "transfer" => agent.transfer(id, args.get("agent").and_then(Value::as_str)),
        "end" => agent.end_session(id),
        "failover" => {
            agent.drop_streams(&subject, DropMode::MidFrame);
            Ok(())
        }
        "file" => {
            return Err((
                422,
                "file requests are not modelled by the Enhanced Chat simulator".into(),
            ));
        }
        _ => return Err((404, format!("no console action {action}"))),
    };
    done.map_err(|e: AgentError| (e.http_status(), e.to_string()))
}

/// Cuts every open stream mid-frame; how many.
fn drop_every_stream(agent: &EnhancedAgent) -> usize {
    let subjects: BTreeSet<String> = agent
        .streams()
        .into_iter()
        .map(|stream| stream.subject)
        .collect();
    subjects
        .iter()
        .map(|subject| agent.drop_streams(subject, DropMode::MidFrame))
        .sum()
}

fn phase(c: &Conversation) -> &'static str {
    if !c.is_open() {
        return "ended";
    }
    match c.session() {
        SessionState::Routing { .. } => "routing",
        SessionState::Waiting => "waiting",
        SessionState::Active { .. } => "established",
        SessionState::Ended => "ended",
    }
}

fn chat_json(c: &Conversation, streams: &BTreeMap<u64, StreamEntry>) -> Value {
    let attributes = c.routing_attributes();
    let prechat: Vec<Value> = attributes
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| json!([name, shown(value)]))
        .collect();
    let transcript: Vec<Value> = c.entries().iter().filter_map(line_json).collect();
    json!({
        "id": c.id(),
        "phase": phase(c),
        "agent": c.agent(),
        "visitorName": attributes.get(VISITOR_NAME).and_then(Value::as_str),
        "prechat": prechat,
        "transcript": transcript,
        "polling": streams.values().any(|s| s.subject == c.subject()),
        "moved": false,
        "visitorTyping": c.end_user_typing(),
    })
}

/// A routing attribute's value as the console shows it: strings as they are, the rest as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A transcript line for an end user's or an agent's message; `None` for any other entry.
fn line_json(entry: &Entry) -> Option<Value> {
    if entry.entry_type != "Message" {
        return None;
    }
    let from = match entry.sender.role {
        Role::EndUser => "visitor",
        Role::Agent => "agent",
        Role::System | Role::Router => return None,
    };
    let content = &entry.payload["abstractMessage"]["staticContent"];
    let text = match content["formatType"].as_str() {
        Some("Attachments") => {
            let names: Vec<&str> = content["attachments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["name"].as_str())
                .collect();
            format!("[file: {}]", names.join(", "))
        }
        _ => content["text"].as_str()?.to_owned(),
    };
    Some(json!({ "from": from, "text": text, "atMs": entry.transcripted_timestamp }))
}
