//! What the agent console (`crate::console`, served at `GET /console`) shows that the model
//! does not: each chat's texts from both sides in the order they happened. The model records
//! the visitor's and the agent's texts in two lists; a transcript is brought up to date
//! whenever the model wakes the session (every agent action does) and whenever the console
//! reads it, so a visitor text is always placed before an agent text that followed it.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_core::model::server::ServerSession;

/// Who wrote a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Speaker {
    Visitor,
    Agent,
}

impl Speaker {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Speaker::Visitor => "visitor",
            Speaker::Agent => "agent",
        }
    }
}

/// One text in a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) from: Speaker,
    pub(crate) text: String,
    /// Wall-clock milliseconds since the Unix epoch when the console first saw it.
    pub(crate) at_ms: u64,
}

#[derive(Debug, Default)]
struct Transcript {
    visitor_seen: usize,
    agent_seen: usize,
    lines: Vec<Line>,
}

/// Ordered transcripts of every session the console has seen.
#[derive(Debug, Default)]
pub(crate) struct Transcripts {
    by_session: HashMap<String, Transcript>,
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Transcripts {
    /// Appends what `session` received or sent since the last look: visitor texts first (they
    /// arrived before the agent action that triggered this look, or before the console read).
    pub(crate) fn sync(&mut self, session: &ServerSession) {
        let visitor = session.visitor_texts();
        let agent = session.agent_texts();
        let entry = self.by_session.entry(session.id().to_owned()).or_default();
        if entry.visitor_seen == visitor.len() && entry.agent_seen == agent.len() {
            return;
        }
        let at_ms = wall_ms();
        for text in visitor.iter().skip(entry.visitor_seen) {
            entry.lines.push(Line {
                from: Speaker::Visitor,
                text: text.clone(),
                at_ms,
            });
        }
        for text in agent.iter().skip(entry.agent_seen) {
            entry.lines.push(Line {
                from: Speaker::Agent,
                text: text.clone(),
                at_ms,
            });
        }
        entry.visitor_seen = visitor.len();
        entry.agent_seen = agent.len();
    }

    /// Forgets sessions the model no longer has.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(&str) -> bool) {
        self.by_session.retain(|id, _| live(id));
    }

    /// The lines of session `id` so far.
    pub(crate) fn lines(&self, id: &str) -> &[Line] {
        self.by_session.get(id).map_or(&[], |t| t.lines.as_slice())
    }
}
