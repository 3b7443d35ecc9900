//! How the event stream's connection moves the conversation: opened (a catch-up is owed once
//! the conversation exists), closed or refused (reconnect with backoff, or renew the token on a
//! 401), and which connection is the current one.

use super::state::{Phase, Stream};
use super::{EnhancedChat, RequestId, backoff};
use crate::time::Timestamp;

impl EnhancedChat {
    pub(super) fn on_stream_opened(&mut self, id: RequestId, now: Timestamp) {
        if self.io.stream != Stream::Opening(id) {
            return;
        }
        self.io.stream = Stream::Open { id, heard_at: now };
        self.io.stream_failures = 0;
        if self.io.rest.is_none() && self.io.rest_failures == 0 {
            self.io.failing_since = None;
        }
        if self.persisted.phase == Phase::Open {
            self.persisted.catch_up = true;
        }
    }

    pub(super) fn on_stream_closed(&mut self, id: RequestId, status: Option<u16>, now: Timestamp) {
        if self.stream_id() != Some(id) {
            return;
        }
        if status == Some(401) {
            self.io.stream = Stream::Closed { retry_at: None };
            self.unauthorized(now);
            return;
        }
        if status.is_some() {
            self.refused("event stream", status.unwrap_or_default());
        }
        self.stream_failed(now);
    }

    pub(super) fn stream_failed(&mut self, now: Timestamp) {
        self.io.failing_since.get_or_insert(now);
        let wait = backoff(
            self.config.first_backoff,
            1.5,
            self.io.stream_failures,
            self.config.max_backoff,
        );
        self.io.stream_failures += 1;
        self.io.stream = Stream::Closed {
            retry_at: Some(now + wait),
        };
    }

    pub(super) fn stream_id(&self) -> Option<RequestId> {
        match self.io.stream {
            Stream::Opening(id) | Stream::Open { id, .. } => Some(id),
            Stream::Closed { .. } => None,
        }
    }
}
