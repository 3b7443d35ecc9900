//! Entry resources (§6): the end user's messages (echoed on SSE with role EndUser, 22 a minute
//! per conversation, 417 once the session ended unless `isNewMessagingSession`, duplicate ids
//! per knob), typing indicators, acknowledgements, and the entries list with its filters.

use serde_json::{Value, json};

use super::conversation::{Conversation, SessionState};
use super::entry::{self, Role};
use super::knobs::{DuplicateMessage, ListPayload};
use super::routes::parse_limit;
use super::{EnhancedRequest, EnhancedServer, Response};
use crate::time::Timestamp;

/// What a message request asks for, once checked.
struct Outgoing {
    message_id: String,
    text: String,
    in_reply_to: Option<String>,
    new_session: bool,
    routing_attributes: Option<Value>,
}

fn parse_message(body: &Value) -> Result<Outgoing, Response> {
    let message = body
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| Response::error(400, "message is required"))?;
    let message_id = message
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Response::error(400, "message.id is required"))?;
    let message_type = message.get("messageType").and_then(Value::as_str);
    if message_type != Some("StaticContentMessage") {
        return Err(Response::error(400, "Unsupported messageType"));
    }
    let content = message.get("staticContent");
    let format = content
        .and_then(|c| c.get("formatType"))
        .and_then(Value::as_str);
    let text = content.and_then(|c| c.get("text")).and_then(Value::as_str);
    let (Some("Text"), Some(text)) = (format, text) else {
        return Err(Response::error(
            400,
            "staticContent must be Text with a text",
        ));
    };
    Ok(Outgoing {
        message_id: message_id.to_owned(),
        text: text.to_owned(),
        in_reply_to: message
            .get("inReplyToMessageId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        new_session: body.get("isNewMessagingSession").and_then(Value::as_bool) == Some(true),
        routing_attributes: body.get("routingAttributes").cloned(),
    })
}

impl EnhancedServer {
    pub(super) fn send_message(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        let Some(body @ Value::Object(_)) = request.json() else {
            return Response::error(400, "Request body must be a JSON object");
        };
        if !self.deployment_ok(body.get("esDeveloperName").and_then(Value::as_str)) {
            return Response::error(400, "Invalid esDeveloperName");
        }
        let outgoing = match parse_message(&body) {
            Ok(outgoing) => outgoing,
            Err(response) => return response,
        };
        let (limit, duplicate) = (
            self.knobs.messages_per_minute as usize,
            self.knobs.duplicate_message,
        );
        let closed_status = self.knobs.closed_conversation_status;
        let Some(conversation) = self.conversations.get_mut(id) else {
            return Response::error(404, "Conversation not found");
        };
        if !conversation.is_open() {
            return Response::error(closed_status, "The conversation is closed");
        }
        let seen = conversation.message_ids.contains(&outgoing.message_id);
        match (seen, duplicate) {
            (true, DuplicateMessage::Ignore) => {
                return accepted_message(self.knobs.accepted_status, &outgoing.message_id, now);
            }
            (true, DuplicateMessage::Conflict) => {
                return Response::error(409, "A message with this id was already sent");
            }
            (true, DuplicateMessage::Duplicate) | (false, _) => {}
        }
        let ended = conversation.session == SessionState::Ended;
        if ended && !outgoing.new_session {
            return Response::error(417, "There is no active messaging session");
        }
        let minute_ago = now.as_millis().saturating_sub(60_000);
        while conversation
            .recent_messages
            .front()
            .is_some_and(|t| t.as_millis() <= minute_ago)
        {
            conversation.recent_messages.pop_front();
        }
        if conversation.recent_messages.len() >= limit {
            return self.fault_response(429);
        }
        conversation.recent_messages.push_back(now);
        conversation.message_ids.insert(outgoing.message_id.clone());
        conversation.end_user_texts.push(outgoing.text.clone());
        conversation.end_user_typing = false;
        if ended {
            if let Some(attributes) = outgoing.routing_attributes.clone() {
                conversation.routing_attributes = attributes;
            }
            self.start_session(id, false, now);
        }
        let entry_id = if self.knobs.echo_uses_message_id && !seen {
            outgoing.message_id.clone()
        } else {
            self.uuid()
        };
        let payload = entry::text_payload(
            &entry_id,
            &outgoing.message_id,
            &outgoing.text,
            outgoing.in_reply_to.as_deref(),
        );
        self.push_entry(
            id,
            entry_id.clone(),
            Role::EndUser,
            None,
            payload,
            Vec::new(),
            now,
        );
        let stamp = self.conversations.get(id).and_then(|c| c.entries.last());
        let at = stamp.map_or(now.as_millis(), |e| e.transcripted_timestamp);
        Response::json(
            self.knobs.accepted_status,
            &json!({ "conversationEntries": [{ "id": entry_id, "clientTimestamp": at }] }),
        )
    }

    pub(super) fn send_entry(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        let body = request.json().unwrap_or(Value::Null);
        let started = match body.get("entryType").and_then(Value::as_str) {
            Some("TypingStartedIndicator") => true,
            Some("TypingStoppedIndicator") => false,
            _ => return Response::error(400, "Unsupported entryType"),
        };
        let closed_status = self.knobs.closed_conversation_status;
        match self.conversations.get_mut(id) {
            Some(c) if c.is_open() => c.end_user_typing = started,
            Some(_) | None => return Response::error(closed_status, "The conversation is closed"),
        }
        Response::empty(self.knobs.accepted_status)
    }

    pub(super) fn acknowledge_entries(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        let body = request.json().unwrap_or(Value::Null);
        let Some(acks) = body.get("acks").and_then(Value::as_array) else {
            return Response::error(400, "acks must be an array");
        };
        let mut parsed = Vec::new();
        for ack in acks {
            let kind = ack.get("entryType").and_then(Value::as_str);
            let entry_id = ack.get("conversationEntryId").and_then(Value::as_str);
            match (kind, entry_id) {
                (Some(kind @ ("Delivery" | "Read")), Some(entry_id)) => {
                    parsed.push((kind.to_owned(), entry_id.to_owned()));
                }
                _ => {
                    return Response::error(
                        400,
                        "Each ack needs entryType and conversationEntryId",
                    );
                }
            }
        }
        if let Some(c) = self.conversations.get_mut(id) {
            c.end_user_acks.extend(parsed);
        }
        Response::empty(self.knobs.accepted_status)
    }

    pub(super) fn list_entries(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        let limit = match parse_limit(request.query_value("limit")) {
            Ok(limit) => limit,
            Err(response) => return response,
        };
        let bound = |name: &str| -> Result<Option<u64>, Response> {
            request
                .query_value(name)
                .map(|v| v.trim().parse::<u64>())
                .transpose()
                .map_err(|_| Response::error(400, &format!("{name} must be epoch milliseconds")))
        };
        let (start, end) = match (bound("startTimestamp"), bound("endTimestamp")) {
            (Ok(start), Ok(end)) => (start, end),
            (Err(response), _) | (_, Err(response)) => return response,
        };
        let from_start = match request.query_value("direction") {
            None | Some("FromEnd") => false,
            Some("FromStart") => true,
            Some(_) => return Response::error(400, "direction must be FromStart or FromEnd"),
        };
        let filter: Option<Vec<&str>> = request.query_value("entryTypeFilter").map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        });
        let as_string = self.knobs.list_payload == ListPayload::String;
        let Some(conversation) = self.conversations.get(id) else {
            return Response::error(404, "Conversation not found");
        };
        let entries = select_entries(conversation, start, end, filter.as_deref(), from_start);
        let listed: Vec<Value> = entries
            .take(limit)
            .map(|e| e.entry_json(as_string))
            .collect();
        Response::json(200, &json!({ "conversationEntries": listed }))
    }
}

/// Entries within `[start, end]` whose type passes `filter`, oldest first or newest first.
fn select_entries<'a>(
    conversation: &'a Conversation,
    start: Option<u64>,
    end: Option<u64>,
    filter: Option<&'a [&'a str]>,
    from_start: bool,
) -> Box<dyn Iterator<Item = &'a entry::Entry> + 'a> {
    let keep = move |e: &&entry::Entry| {
        start.is_none_or(|s| e.transcripted_timestamp >= s)
            && end.is_none_or(|t| e.transcripted_timestamp <= t)
            && filter.is_none_or(|f| f.contains(&e.entry_type))
    };
    if from_start {
        Box::new(conversation.entries.iter().filter(keep))
    } else {
        Box::new(conversation.entries.iter().rev().filter(keep))
    }
}

fn accepted_message(status: u16, id: &str, now: Timestamp) -> Response {
    Response::json(
        status,
        &json!({ "conversationEntries": [{ "id": id, "clientTimestamp": now.as_millis() }] }),
    )
}
