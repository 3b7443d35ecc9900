//! The visitor POST lane: a FIFO of POSTs sent one at a time, each numbered with
//! `X-LIVEAGENT-SEQUENCE` when first sent and keeping that number on every retry (spec §7.2).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::liveagent::Resource;

/// One visitor POST waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum VisitorPost {
    /// The chat request; always the first POST of a session.
    ChasitorInit,
    /// Text for the agent.
    Text(String),
    /// Typing started.
    Typing,
    /// Typing stopped.
    NotTyping,
    /// Sneak-peek update.
    SneakPeek { position: i64, text: String },
    /// Custom event for the console.
    CustomEvent { kind: String, data: String },
    /// The visitor ends the chat.
    End,
}

impl VisitorPost {
    pub(crate) fn resource(&self) -> Resource {
        match self {
            VisitorPost::ChasitorInit => Resource::ChasitorInit,
            VisitorPost::Text(_) => Resource::ChatMessage,
            VisitorPost::Typing => Resource::ChasitorTyping,
            VisitorPost::NotTyping => Resource::ChasitorNotTyping,
            VisitorPost::SneakPeek { .. } => Resource::ChasitorSneakPeek,
            VisitorPost::CustomEvent { .. } => Resource::CustomEvent,
            VisitorPost::End => Resource::ChatEnd,
        }
    }

    /// Typing indicators and sneak peeks: only the latest one matters.
    fn is_ephemeral(&self) -> bool {
        match self {
            VisitorPost::Typing | VisitorPost::NotTyping | VisitorPost::SneakPeek { .. } => true,
            VisitorPost::ChasitorInit
            | VisitorPost::Text(_)
            | VisitorPost::CustomEvent { .. }
            | VisitorPost::End => false,
        }
    }
}

/// A POST in the lane, with the number it was given when first sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueuedPost {
    pub(crate) post: VisitorPost,
    /// Assigned on first send; kept on retries; cleared when the server resets the sequence.
    pub(crate) sequence: Option<u32>,
    /// Sent at least once without a confirmed answer: the server may already have it.
    pub(crate) uncertain: bool,
}

/// What a `409 Out of sync` means for the POST at the head of the lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resync {
    /// The server already accepted this number: the POST is done.
    AlreadyAccepted,
    /// The server is behind: the POST was renumbered and must be sent again.
    Renumbered,
}

/// The FIFO and the next number to hand out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PostLane {
    next_sequence: u32,
    queue: VecDeque<QueuedPost>,
}

impl PostLane {
    /// A lane holding only the chat request, which will be POST number 1.
    pub(crate) fn with_chat_request() -> Self {
        let mut lane = PostLane {
            next_sequence: 1,
            queue: VecDeque::new(),
        };
        lane.push(VisitorPost::ChasitorInit);
        lane
    }

    /// Appends a POST. An ephemeral POST replaces an unsent ephemeral one at the tail.
    pub(crate) fn push(&mut self, post: VisitorPost) {
        if post.is_ephemeral()
            && let Some(last) = self.queue.back_mut()
            && last.post.is_ephemeral()
            && last.sequence.is_none()
            && !last.uncertain
        {
            last.post = post;
            return;
        }
        self.queue.push_back(QueuedPost {
            post,
            sequence: None,
            uncertain: false,
        });
    }

    pub(crate) fn head(&self) -> Option<&QueuedPost> {
        self.queue.front()
    }

    pub(crate) fn contains_end(&self) -> bool {
        self.queue.iter().any(|p| p.post == VisitorPost::End)
    }

    /// The number the head goes out with, assigning the next one on first send.
    pub(crate) fn number_head(&mut self) -> Option<u32> {
        let head = self.queue.front_mut()?;
        let number = *head.sequence.get_or_insert_with(|| {
            let n = self.next_sequence;
            self.next_sequence = n.saturating_add(1);
            n
        });
        head.uncertain = true;
        Some(number)
    }

    /// The server confirmed the head.
    pub(crate) fn complete_head(&mut self) -> Option<VisitorPost> {
        self.queue.pop_front().map(|p| p.post)
    }

    /// Applies `409 Out of sync … Actual {actual}` to the head: if `actual` is the head's own
    /// number the server already has it; otherwise the head is renumbered `actual + 1`.
    pub(crate) fn out_of_sync(&mut self, actual: i64) -> Resync {
        let next = u32::try_from(actual.saturating_add(1)).unwrap_or(1).max(1);
        match self.queue.front_mut() {
            // Our own number is the last one the server took: a retry of a POST it already has.
            Some(head) if head.sequence.is_some_and(|s| i64::from(s) == actual) => {
                self.next_sequence = self.next_sequence.max(next);
                Resync::AlreadyAccepted
            }
            Some(head) => {
                head.sequence = Some(next);
                self.next_sequence = next.saturating_add(1);
                Resync::Renumbered
            }
            None => Resync::Renumbered,
        }
    }

    /// The server reset the sequence (after ReconnectSession): the next POST is number 1.
    pub(crate) fn reset_numbering(&mut self) {
        self.next_sequence = 1;
        for post in &mut self.queue {
            post.sequence = None;
        }
    }

    /// Texts still queued, in order (for the `undelivered` list when the chat ends).
    pub(crate) fn texts(&self) -> impl Iterator<Item = &str> {
        self.queue.iter().filter_map(|p| match &p.post {
            VisitorPost::Text(t) => Some(t.as_str()),
            VisitorPost::ChasitorInit
            | VisitorPost::Typing
            | VisitorPost::NotTyping
            | VisitorPost::SneakPeek { .. }
            | VisitorPost::CustomEvent { .. }
            | VisitorPost::End => None,
        })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_posts_from_one_and_keeps_the_number_on_retry() {
        let mut lane = PostLane::with_chat_request();
        lane.push(VisitorPost::Text("a".into()));
        assert_eq!(lane.number_head(), Some(1));
        assert_eq!(lane.number_head(), Some(1), "a retry keeps its number");
        assert_eq!(lane.complete_head(), Some(VisitorPost::ChasitorInit));
        assert_eq!(lane.number_head(), Some(2));
    }

    #[test]
    fn coalesces_unsent_typing_indicators() {
        let mut lane = PostLane::with_chat_request();
        lane.push(VisitorPost::Typing);
        lane.push(VisitorPost::NotTyping);
        lane.push(VisitorPost::Text("x".into()));
        lane.push(VisitorPost::Typing);
        assert_eq!(lane.len(), 4);
        assert_eq!(lane.queue[1].post, VisitorPost::NotTyping);
    }

    #[test]
    fn out_of_sync_behind_renumbers_and_ahead_completes() {
        let mut lane = PostLane::with_chat_request();
        lane.push(VisitorPost::Text("a".into()));
        lane.number_head();
        lane.complete_head();
        assert_eq!(lane.number_head(), Some(2));
        // The server last accepted 6: our 2 must become 7.
        assert_eq!(lane.out_of_sync(6), Resync::Renumbered);
        assert_eq!(lane.number_head(), Some(7));
        // The server already has 7.
        assert_eq!(lane.out_of_sync(7), Resync::AlreadyAccepted);
        lane.complete_head();
        lane.push(VisitorPost::End);
        assert_eq!(lane.number_head(), Some(8));
    }

    #[test]
    fn reset_restarts_numbering_at_one() {
        let mut lane = PostLane::with_chat_request();
        lane.number_head();
        lane.reset_numbering();
        assert_eq!(lane.number_head(), Some(1));
        assert!(lane.head().is_some_and(|h| h.uncertain));
    }
}
