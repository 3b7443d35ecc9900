//! The messaging-session rules shared by the REST routes and the agent: entries go into the
//! conversation (when transcripted) and into the owner's event log; sessions start routing,
//! are routed when due ([`EnhancedServer::advance`]) and end with a participant removal and
//! `SessionStatusChanged Ended` (§3, §7.4, §11).

use serde_json::Value;

use super::EnhancedServer;
use super::conversation::{RoutingStatus, SessionState};
use super::entry::{self, Entry, Role, Sender};
use super::knobs::RoutingOutcome;
use crate::time::Timestamp;

/// The Salesforce user id the simulator gives an agent: `005` and 12 hex digits of its name.
pub(crate) fn agent_subject(name: &str) -> String {
    // FNV-1a: stable across runs and platforms.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("005{:012x}", hash & 0xffff_ffff_ffff)
}

pub(crate) fn agent_sender(name: &str) -> Sender {
    Sender {
        role: Role::Agent,
        subject: agent_subject(name),
        display_name: name.to_owned(),
    }
}

impl EnhancedServer {
    fn sender(&self, conversation_id: &str, role: Role, agent: Option<&str>) -> Sender {
        match role {
            Role::EndUser => Sender {
                role,
                subject: self
                    .conversations
                    .get(conversation_id)
                    .map(|c| c.subject.clone())
                    .unwrap_or_default(),
                display_name: "Guest".into(),
            },
            Role::Agent => agent_sender(agent.unwrap_or("Agent")),
            Role::System => Sender {
                role,
                subject: "system".into(),
                display_name: "System".into(),
            },
            Role::Router => Sender {
                role,
                subject: "router".into(),
                display_name: "Omni-Channel".into(),
            },
        }
    }

    /// Stores an entry in the conversation and pushes its event to the owner's stream;
    /// returns the event id (0 for an unknown conversation).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_entry(
        &mut self,
        conversation_id: &str,
        identifier: String,
        role: Role,
        agent: Option<&str>,
        payload: Value,
        related_records: Vec<String>,
        now: Timestamp,
    ) -> u64 {
        let Some(owner) = self
            .conversations
            .get(conversation_id)
            .map(|c| c.subject.clone())
        else {
            return 0;
        };
        let entry_type = entry_type_of(&payload);
        let stamp = self.stamp(now);
        let entry = Entry {
            identifier,
            conversation_id: conversation_id.to_owned(),
            entry_type,
            sender: self.sender(conversation_id, role, agent),
            payload,
            transcripted_timestamp: stamp,
            client_timestamp: stamp,
            related_records,
        };
        let data = entry
            .envelope(&owner, &self.knobs.channel_address_identifier)
            .to_string();
        let name = entry.event_name();
        if entry::is_transcripted(entry_type)
            && let Some(c) = self.conversations.get_mut(conversation_id)
        {
            c.entries.push(entry);
        }
        self.push_event(&owner, name, data)
    }

    /// Starts routing the conversation's session (a new one, or a transfer).
    pub(crate) fn start_session(&mut self, id: &str, transfer: bool, now: Timestamp) {
        let due = now + self.knobs.routing_delay;
        if let Some(c) = self.conversations.get_mut(id) {
            if !transfer {
                c.sessions_started += 1;
                c.routing_status = RoutingStatus::Initial;
            }
            c.session = SessionState::Routing { due, transfer };
        }
    }

    /// Ends the current session: the agent (if any) leaves, then `SessionStatusChanged Ended`;
    /// routing status `NEEDS_ROUTING`. Nothing happens when it already ended.
    pub(crate) fn end_session(&mut self, id: &str, by: Role, now: Timestamp) {
        let Some(session) = self.conversations.get(id).map(|c| c.session.clone()) else {
            return;
        };
        if session == SessionState::Ended {
            return;
        }
        if let SessionState::Active { agent } = &session {
            self.participant(id, "remove", agent, now);
        }
        let entry_id = self.uuid();
        let payload = entry::session_ended_payload(&entry_id, by);
        self.push_entry(id, entry_id, Role::System, None, payload, Vec::new(), now);
        if let Some(c) = self.conversations.get_mut(id) {
            c.session = SessionState::Ended;
            c.routing_status = RoutingStatus::NeedsRouting;
        }
    }

    /// A `ParticipantChanged` for `agent`.
    pub(crate) fn participant(&mut self, id: &str, operation: &str, agent: &str, now: Timestamp) {
        let entry_id = self.uuid();
        let payload = entry::participant_payload(&entry_id, operation, &agent_sender(agent));
        self.push_entry(id, entry_id, Role::System, None, payload, Vec::new(), now);
    }

    /// A `RoutingResult`.
    pub(crate) fn routing_result(
        &mut self,
        id: &str,
        transfer: bool,
        failed: bool,
        now: Timestamp,
    ) {
        let entry_id = self.uuid();
        let kind = if transfer { "Transfer" } else { "Initial" };
        let payload = entry::routing_payload(&entry_id, kind, failed);
        self.push_entry(id, entry_id, Role::Router, None, payload, Vec::new(), now);
    }

    /// Runs timed work due by `now`: sessions whose routing is due get their `RoutingResult`.
    pub fn advance(&mut self, now: Timestamp) {
        let due: Vec<(String, bool)> = self
            .conversations
            .values()
            .filter_map(|c| match c.session {
                SessionState::Routing { due, transfer } if due <= now && c.is_open() => {
                    Some((c.id.clone(), transfer))
                }
                _ => None,
            })
            .collect();
        for (id, transfer) in due {
            let failed = self.knobs.routing == RoutingOutcome::Fail;
            self.routing_result(&id, transfer, failed, now);
            if let Some(c) = self.conversations.get_mut(&id) {
                if failed {
                    c.session = SessionState::Ended;
                    c.routing_status = RoutingStatus::NeedsRouting;
                } else {
                    c.session = SessionState::Waiting;
                    if !transfer {
                        c.routing_status = RoutingStatus::Routed;
                    }
                }
            }
        }
    }

    /// When [`EnhancedServer::advance`] next has work.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.conversations
            .values()
            .filter(|c| c.is_open())
            .filter_map(|c| match c.session {
                SessionState::Routing { due, .. } => Some(due),
                _ => None,
            })
            .min()
    }
}

fn entry_type_of(payload: &Value) -> &'static str {
    match payload.get("entryType").and_then(Value::as_str) {
        Some("Message") => "Message",
        Some("ParticipantChanged") => "ParticipantChanged",
        Some("RoutingResult") => "RoutingResult",
        Some("TypingStartedIndicator") => "TypingStartedIndicator",
        Some("TypingStoppedIndicator") => "TypingStoppedIndicator",
        Some("DeliveryAcknowledgement") => "DeliveryAcknowledgement",
        Some("ReadAcknowledgement") => "ReadAcknowledgement",
        Some("CloseConversation") => "CloseConversation",
        Some("SessionStatusChanged") => "SessionStatusChanged",
        _ => "Unknown",
    }
}
