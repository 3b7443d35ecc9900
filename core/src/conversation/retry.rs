//! Trying a send again: how long to wait after each failed attempt, and when to stop. The driver
//! makes one attempt per [`Output::Send`](super::Output::Send) or
//! [`Output::Retry`](super::Output::Retry) and reports it; the conversation answers a failure
//! that may pass with a `Retry` at a time it chose, or settles the send (given up: the agent is
//! told). Attempts are counted in memory only: after a restart the driver performs the queued
//! send at once and the give-up clock starts again.

use std::cmp::max;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// When failed sends are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    /// Wait after the first failure; each later failure doubles it.
    pub first_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// A send still failing this long after its first failure is given up.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            give_up_after: Duration::from_secs(15 * 60),
        }
    }
}

/// The failed attempts of one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempts {
    /// Failures so far.
    failures: u32,
    /// When the first one was reported.
    first_failure: Timestamp,
    /// Whether the channel's credentials were already renewed for this send.
    renewed: bool,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try again at this time.
    RetryAt(Timestamp),
    /// Stop: the send is given up.
    GiveUp,
}

impl Attempts {
    pub(crate) fn new(now: Timestamp) -> Attempts {
        Attempts {
            failures: 0,
            first_failure: now,
            renewed: false,
        }
    }

    /// A failure that may pass (the channel's `after`, if it named a wait, is respected).
    pub(crate) fn transient(
        &mut self,
        policy: &RetryPolicy,
        after: Option<Duration>,
        now: Timestamp,
    ) -> Verdict {
        self.failures += 1;
        if now.saturating_since(self.first_failure) >= policy.give_up_after {
            return Verdict::GiveUp;
        }
        let doublings = self.failures.saturating_sub(1).min(31);
        let backoff = policy
            .first_backoff
            .saturating_mul(1 << doublings)
            .min(policy.max_backoff);
        Verdict::RetryAt(now + max(backoff, after.unwrap_or_default()))
    }

    /// The channel's credentials were refused and renewed: once per send (and before the give-up
    /// time), try again at once.
    pub(crate) fn renewed(&mut self, policy: &RetryPolicy, now: Timestamp) -> Verdict {
        self.failures += 1;
        if self.renewed || now.saturating_since(self.first_failure) >= policy.give_up_after {
            return Verdict::GiveUp;
        }
        self.renewed = true;
        Verdict::RetryAt(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_longest_then_the_send_is_given_up() {
        let policy = RetryPolicy::default();
        let start = Timestamp::from_millis(1_000);
        let mut attempts = Attempts::new(start);
        let mut now = start;
        let mut waits = Vec::new();
        while let Verdict::RetryAt(at) = attempts.transient(&policy, None, now) {
            waits.push(at.saturating_since(now));
            now = at;
        }
        assert_eq!(
            waits[..4],
            [500, 1_000, 2_000, 4_000].map(Duration::from_millis)
        );
        assert!(waits.iter().all(|w| *w <= policy.max_backoff));
        assert!(now.saturating_since(start) >= policy.give_up_after);
        assert!(now.saturating_since(start) < policy.give_up_after + policy.max_backoff);
    }

    #[test]
    fn a_wait_the_channel_names_is_kept_when_longer_than_the_backoff() {
        let mut attempts = Attempts::new(Timestamp::from_millis(0));
        let verdict = attempts.transient(
            &RetryPolicy::default(),
            Some(Duration::from_secs(7)),
            Timestamp::from_millis(0),
        );
        assert_eq!(verdict, Verdict::RetryAt(Timestamp::from_millis(7_000)));
    }

    #[test]
    fn renewed_credentials_buy_one_immediate_attempt() {
        let now = Timestamp::from_millis(5);
        let mut attempts = Attempts::new(now);
        let policy = RetryPolicy::default();
        assert_eq!(attempts.renewed(&policy, now), Verdict::RetryAt(now));
        assert_eq!(attempts.renewed(&policy, now), Verdict::GiveUp);
    }
}
