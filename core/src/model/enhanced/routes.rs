//! Conversation resources (§5): create (lowercase UUID, duplicate id), routing status, list,
//! close (`CONVERSATION_CLOSE_CONVERSATION`), ending only the session, and the transcript.

use serde_json::{Value, json};

use super::conversation::{Conversation, RoutingStatus, SessionState};
use super::entry::{self, Role};
use super::request::is_lowercase_uuid;
use super::{EnhancedRequest, EnhancedServer, Response};
use crate::time::Timestamp;

impl EnhancedServer {
    /// The authenticated subject and the conversation it owns, or the refusal: 401, 404 for
    /// an unknown id, the knob's status for another subject's conversation.
    pub(crate) fn owned(
        &self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Result<String, Response> {
        let subject = self.authenticate(request, now)?;
        match self.conversations.get(id) {
            None => Err(Response::error(404, "Conversation not found")),
            Some(c) if c.subject != subject => Err(Response::error(
                self.knobs.foreign_conversation_status,
                "Conversation not found",
            )),
            Some(_) => Ok(subject),
        }
    }

    /// Whether `name` is acceptable as the request's `esDeveloperName`.
    pub(crate) fn deployment_ok(&self, name: Option<&str>) -> bool {
        !self.knobs.require_es_developer_name || name == Some(self.knobs.es_developer_name.as_str())
    }

    pub(super) fn create_conversation(
        &mut self,
        request: &EnhancedRequest,
        now: Timestamp,
    ) -> Response {
        let subject = match self.authenticate(request, now) {
            Ok(subject) => subject,
            Err(response) => return response,
        };
        let Some(body @ Value::Object(_)) = request.json() else {
            return Response::error(400, "Request body must be a JSON object");
        };
        let id = body
            .get("conversationId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !is_lowercase_uuid(id, self.knobs.require_uuid_v4) {
            return Response::error(400, "Specify the conversationId in UUID format.");
        }
        if !self.deployment_ok(body.get("esDeveloperName").and_then(Value::as_str)) {
            return Response::error(400, "Invalid esDeveloperName");
        }
        let answer = json!({ "conversationId": id });
        if let Some(existing) = self.conversations.get(id) {
            if existing.subject == subject && !self.knobs.duplicate_conversation_conflict {
                return Response::json(self.knobs.create_status, &answer);
            }
            return Response::error(409, "A conversation with this id already exists");
        }
        let attributes = body
            .get("routingAttributes")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let due = now + self.knobs.routing_delay;
        let conversation = Conversation::new(id.to_owned(), subject, attributes, now, due);
        self.conversations.insert(id.to_owned(), conversation);
        Response::json(self.knobs.create_status, &answer)
    }

    pub(super) fn routing_status(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        let status = self
            .conversations
            .get(id)
            .map_or(RoutingStatus::Initial, |c| c.routing_status);
        Response::json(
            200,
            &json!({ "conversationId": id, "routingStatus": status.as_str() }),
        )
    }

    pub(super) fn list_conversations(
        &mut self,
        request: &EnhancedRequest,
        now: Timestamp,
    ) -> Response {
        let subject = match self.authenticate(request, now) {
            Ok(subject) => subject,
            Err(response) => return response,
        };
        let include_closed = request.query_value("inclClosedConvs") == Some("true");
        let limit = match parse_limit(request.query_value("limit")) {
            Ok(limit) => limit,
            Err(response) => return response,
        };
        let mut mine: Vec<&Conversation> = self
            .conversations
            .values()
            .filter(|c| c.subject == subject)
            .collect();
        mine.sort_by_key(|c| (c.created_at, c.id.clone()));
        let open = mine.iter().filter(|c| c.is_open()).count();
        let listed: Vec<Value> = mine
            .iter()
            .filter(|c| include_closed || c.is_open())
            .take(limit)
            .map(|c| {
                json!({
                    "conversationId": c.id,
                    "startTimestamp": c.created_at.as_millis(),
                    "endTimestamp": c.closed_at.map(Timestamp::as_millis),
                    "routingStatus": c.routing_status.as_str(),
                })
            })
            .collect();
        Response::json(
            200,
            &json!({
                "openConversationsFound": open,
                "closedConversationsFound": mine.len() - open,
                "conversations": listed,
            }),
        )
    }

    pub(super) fn close_conversation(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        if !self.deployment_ok(request.query_value("esDeveloperName")) {
            return Response::error(400, "Invalid esDeveloperName");
        }
        if !self
            .conversations
            .get(id)
            .is_some_and(Conversation::is_open)
        {
            return Response::error(
                self.knobs.closed_conversation_status,
                "The conversation is closed",
            );
        }
        self.end_session(id, Role::EndUser, now);
        let entry_id = self.uuid();
        let payload = entry::close_payload(&entry_id, id);
        self.push_entry(id, entry_id, Role::EndUser, None, payload, Vec::new(), now);
        if let Some(c) = self.conversations.get_mut(id) {
            c.closed_at = Some(now);
        }
        Response::empty(self.knobs.close_status)
    }

    pub(super) fn end_session_request(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        match self
            .conversations
            .get(id)
            .map(|c| (c.is_open(), &c.session))
        {
            Some((false, _)) => Response::error(
                self.knobs.closed_conversation_status,
                "The conversation is closed",
            ),
            Some((true, SessionState::Ended)) | None => {
                Response::error(400, "There is no active messaging session")
            }
            Some((true, _)) => {
                self.end_session(id, Role::EndUser, now);
                Response::empty(self.knobs.close_status)
            }
        }
    }

    pub(super) fn transcript(
        &mut self,
        request: &EnhancedRequest,
        id: &str,
        now: Timestamp,
    ) -> Response {
        if let Err(response) = self.owned(request, id, now) {
            return response;
        }
        let lines = self
            .conversations
            .get(id)
            .map(|c| c.end_user_texts.len() + c.agent_texts.len())
            .unwrap_or_default();
        let text = format!("Transcript {id}: {lines} messages");
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/pdf".into())],
            body: tiny_pdf(&text),
        }
    }
}

/// `limit`: default 20, 1..=50, else 400 (§5.3, §6.5).
pub(crate) fn parse_limit(value: Option<&str>) -> Result<usize, Response> {
    match value {
        None => Ok(20),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n @ 1..=50) => Ok(n),
            Ok(_) | Err(_) => Err(Response::error(400, "limit must be between 1 and 50")),
        },
    }
}

/// A one-page PDF showing `text` (ASCII only; other characters become `?`).
fn tiny_pdf(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .filter(|c| !matches!(c, '(' | ')' | '\\'))
        .collect();
    let stream = format!("BT /F1 12 Tf 40 780 Td ({safe}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{object}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf
}
