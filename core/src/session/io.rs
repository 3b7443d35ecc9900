//! The transient half of a session: which requests are in flight, their deadlines, retry timers
//! and how long each lane has been failing. None of it is persisted: after a restore the
//! session simply issues what its state needs.

use std::collections::BTreeMap;
use std::time::Duration;

use super::input::{RequestId, TransportFailure};
use crate::time::Timestamp;

/// What an in-flight request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Purpose {
    SessionId,
    Reconnect,
    ResyncState,
    Poll,
    Post,
}

/// Requests of one lane go out one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Lane {
    Control,
    Poll,
    Post,
}

impl Purpose {
    pub(crate) fn lane(self) -> Lane {
        match self {
            Purpose::SessionId | Purpose::Reconnect | Purpose::ResyncState => Lane::Control,
            Purpose::Poll => Lane::Poll,
            Purpose::Post => Lane::Post,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub(crate) purpose: Purpose,
    pub(crate) deadline: Timestamp,
    /// The POST numbering in force when it was sent (see [`Io::numbering`]).
    pub(crate) numbering: u32,
}

/// How an answer is classified (spec §7.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx other than 204, with its body.
    Success(String),
    /// 204.
    NoContent,
    /// 409, with its body.
    Conflict(String),
    /// 403: the session is gone.
    Forbidden,
    /// 405.
    MethodNotAllowed,
    /// 503: the session moved to another server.
    Moved,
    /// Any other 4xx: this request will never succeed.
    Rejected(u16),
    /// 5xx other than 503, or no HTTP response: try again later.
    Transient,
}

impl Verdict {
    pub(crate) fn of_status(status: u16, body: String) -> Verdict {
        match status {
            204 => Verdict::NoContent,
            200..=299 => Verdict::Success(body),
            403 => Verdict::Forbidden,
            405 => Verdict::MethodNotAllowed,
            409 => Verdict::Conflict(body),
            503 => Verdict::Moved,
            400..=499 => Verdict::Rejected(status),
            _ => Verdict::Transient,
        }
    }

    pub(crate) fn of_failure(_: TransportFailure) -> Verdict {
        Verdict::Transient
    }
}

#[derive(Debug, Default)]
pub(crate) struct Io {
    pub(crate) inflight: BTreeMap<RequestId, InFlight>,
    pub(crate) retry_at: BTreeMap<Lane, Timestamp>,
    pub(crate) failing_since: BTreeMap<Lane, Timestamp>,
    pub(crate) post_attempts: u32,
    /// Counts the server's sequence resets (`resetSequence` after a failover) in this process:
    /// a POST sent before one carries numbers the server no longer counts by.
    pub(crate) numbering: u32,
}

impl Io {
    /// A request of this lane is in flight or waiting to be retried.
    pub(crate) fn busy(&self, lane: Lane) -> bool {
        self.retry_at.contains_key(&lane)
            || self.inflight.values().any(|f| f.purpose.lane() == lane)
    }

    /// Removes the in-flight requests of these lanes and their retry timers.
    pub(crate) fn abandon(&mut self, lanes: &[Lane]) -> Vec<RequestId> {
        let ids: Vec<RequestId> = self
            .inflight
            .iter()
            .filter(|(_, f)| lanes.contains(&f.purpose.lane()))
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.inflight.remove(id);
        }
        for lane in lanes {
            self.retry_at.remove(lane);
        }
        ids
    }

    /// A lane's request succeeded in reaching the server.
    pub(crate) fn recovered(&mut self, lane: Lane) {
        self.failing_since.remove(&lane);
        if lane == Lane::Post {
            self.post_attempts = 0;
        }
    }

    /// A lane's request failed transiently. Returns false when the lane has been failing for
    /// longer than `budget`; otherwise arms the retry timer after `delay`.
    pub(crate) fn failed(
        &mut self,
        lane: Lane,
        now: Timestamp,
        budget: Duration,
        delay: Duration,
    ) -> bool {
        let since = *self.failing_since.entry(lane).or_insert(now);
        if now.saturating_since(since) >= budget {
            return false;
        }
        self.retry_at.insert(lane, now + delay);
        true
    }

    /// The earliest deadline or retry time.
    pub(crate) fn next_wakeup(&self) -> Option<Timestamp> {
        let deadlines = self.inflight.values().map(|f| f.deadline);
        deadlines.chain(self.retry_at.values().copied()).min()
    }

    /// Removes and returns the requests whose deadline passed.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<(RequestId, Purpose)> {
        let expired: Vec<(RequestId, Purpose)> = self
            .inflight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(id, f)| (*id, f.purpose))
            .collect();
        for (id, _) in &expired {
            self.inflight.remove(id);
        }
        self.retry_at.retain(|_, at| *at > now);
        expired
    }
}
