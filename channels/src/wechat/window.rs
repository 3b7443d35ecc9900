//! Per-user bookkeeping of the customer-service send window and its quota (§5.1).
//!
//! A user message opens a 48-hour window with a quota (5 by current docs, configurable); a
//! follow, QR scan or menu click opens a short one (3 messages within a minute). The API is the
//! authority: the tracker counts what was sent so the agent can be shown the remaining budget,
//! refuses locally only what it *knows* will fail (a window that has certainly expired, or a user
//! for whom the API already answered 45015/45047/43004), and is reset by the next interaction.
//! A user it has never seen (e.g. after a restart) is not refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use crate::channel::UserId;
use crate::delivery::GiveUpReason;

/// Window lengths and quotas.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct WindowPolicy {
    /// Window opened by a user message.
    pub message_window: Duration,
    /// Messages allowed per user message.
    pub message_quota: u32,
    /// Window opened by a follow, QR scan or menu click.
    pub event_window: Duration,
    /// Messages allowed per such event.
    pub event_quota: u32,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        Self {
            message_window: Duration::from_secs(48 * 3600),
            message_quota: 5,
            event_window: Duration::from_secs(60),
            event_quota: 3,
        }
    }
}

/// What opened a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    /// The user sent a message.
    Message,
    /// The user followed, scanned a QR code or clicked a menu entry.
    Event,
}

/// What the tracker knows about one user's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStatus {
    /// When the last open grant closes (unix seconds); `None` if unknown.
    pub closes_at: Option<u64>,
    /// Messages left in the open grants, if known.
    pub remaining: Option<u32>,
    /// Set when the API refused this user and no interaction has happened since.
    pub blocked: Option<GiveUpReason>,
}

#[derive(Debug, Clone, Copy)]
struct Grant {
    opened_at: u64,
    closes_at: u64,
    quota: u32,
    used: u32,
}

#[derive(Debug, Default)]
struct UserWindow {
    message: Option<Grant>,
    event: Option<Grant>,
    blocked: Option<GiveUpReason>,
    last_interaction: u64,
}

impl UserWindow {
    fn open_grants(&self, now: u64) -> impl Iterator<Item = &Grant> {
        [self.event.as_ref(), self.message.as_ref()]
            .into_iter()
            .flatten()
            .filter(move |g| now < g.closes_at)
    }
}

/// Tracks send windows for all users of one account.
#[derive(Debug, Default)]
pub struct WindowTracker {
    policy: WindowPolicy,
    users: Mutex<HashMap<UserId, UserWindow>>,
}

impl WindowTracker {
    /// A tracker with the given policy.
    pub fn new(policy: WindowPolicy) -> Self {
        Self {
            policy,
            users: Mutex::new(HashMap::new()),
        }
    }

    fn with_user<T>(&self, user: &UserId, f: impl FnOnce(&mut UserWindow) -> T) -> T {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        f(users.entry(user.clone()).or_default())
    }

    /// Records an interaction at `at` (the push's `CreateTime`). Idempotent for retries of the
    /// same push; an older interaction than one already recorded changes nothing.
    pub fn record_interaction(&self, user: &UserId, kind: Interaction, at: u64) {
        let (window, quota) = match kind {
            Interaction::Message => (self.policy.message_window, self.policy.message_quota),
            Interaction::Event => (self.policy.event_window, self.policy.event_quota),
        };
        self.with_user(user, |w| {
            let slot = match kind {
                Interaction::Message => &mut w.message,
                Interaction::Event => &mut w.event,
            };
            if slot.is_some_and(|g| g.opened_at >= at) {
                return;
            }
            *slot = Some(Grant {
                opened_at: at,
                closes_at: at.saturating_add(window.as_secs()),
                quota,
                used: 0,
            });
            if at > w.last_interaction || w.last_interaction == 0 {
                w.blocked = None;
                w.last_interaction = at;
            }
        });
    }

    /// The user unfollowed: nothing can be sent until they interact again.
    pub fn record_unfollow(&self, user: &UserId, at: u64) {
        self.with_user(user, |w| {
            w.message = None;
            w.event = None;
            w.blocked = Some(GiveUpReason::NotFollowing);
            w.last_interaction = w.last_interaction.max(at);
        });
    }

    /// The API refused a send to this user for `reason`.
    pub fn block(&self, user: &UserId, reason: GiveUpReason) {
        self.with_user(user, |w| w.blocked = Some(reason));
    }

    /// Whether a send to `user` at `now` may be attempted.
    pub fn check(&self, user: &UserId, now: u64) -> Result<(), GiveUpReason> {
        self.with_user(user, |w| {
            if let Some(reason) = w.blocked {
                return Err(reason);
            }
            let known = w.message.is_some() || w.event.is_some();
            if known && w.open_grants(now).next().is_none() {
                return Err(GiveUpReason::WindowClosed);
            }
            Ok(())
        })
    }

    /// Counts one message sent at `now` against the grant that closes first.
    pub fn record_sent(&self, user: &UserId, now: u64) {
        self.with_user(user, |w| {
            let mut grants: Vec<&mut Grant> = [w.event.as_mut(), w.message.as_mut()]
                .into_iter()
                .flatten()
                .filter(|g| now < g.closes_at && g.used < g.quota)
                .collect();
            grants.sort_by_key(|g| g.closes_at);
            if let Some(g) = grants.into_iter().next() {
                g.used += 1;
            }
        });
    }

    /// What is known about `user`'s window at `now`.
    pub fn status(&self, user: &UserId, now: u64) -> WindowStatus {
        self.with_user(user, |w| {
            let open: Vec<&Grant> = w.open_grants(now).collect();
            let known = w.message.is_some() || w.event.is_some();
            WindowStatus {
                closes_at: open.iter().map(|g| g.closes_at).max(),
                remaining: known.then(|| open.iter().map(|g| g.quota - g.used).sum()),
                blocked: w.blocked,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn user() -> UserId {
        UserId::new("o")
    }

    #[test]
    fn a_retried_push_does_not_reset_the_used_quota() {
        let w = WindowTracker::new(WindowPolicy::default());
        w.record_interaction(&user(), Interaction::Message, T0);
        w.record_sent(&user(), T0 + 1);
        w.record_sent(&user(), T0 + 2);
        w.record_interaction(&user(), Interaction::Message, T0);
        assert_eq!(w.status(&user(), T0 + 3).remaining, Some(3));
        w.record_interaction(&user(), Interaction::Message, T0 + 10);
        assert_eq!(w.status(&user(), T0 + 11).remaining, Some(5));
    }

    #[test]
    fn spends_the_short_event_grant_before_the_message_grant() {
        let w = WindowTracker::new(WindowPolicy::default());
        w.record_interaction(&user(), Interaction::Message, T0);
        w.record_interaction(&user(), Interaction::Event, T0 + 1);
        assert_eq!(w.status(&user(), T0 + 2).remaining, Some(8));
        w.record_sent(&user(), T0 + 2);
        // The event grant closes after a minute, taking its unspent messages with it.
        assert_eq!(w.status(&user(), T0 + 62).remaining, Some(5));
        assert_eq!(w.status(&user(), T0 + 62).closes_at, Some(T0 + 48 * 3600));
    }

    #[test]
    fn an_unknown_user_is_not_refused_but_an_expired_window_is() {
        let w = WindowTracker::new(WindowPolicy::default());
        assert_eq!(w.check(&user(), T0), Ok(()));
        assert_eq!(w.status(&user(), T0).remaining, None);
        w.record_interaction(&user(), Interaction::Message, T0);
        assert_eq!(w.check(&user(), T0 + 48 * 3600 - 1), Ok(()));
        assert_eq!(
            w.check(&user(), T0 + 48 * 3600),
            Err(GiveUpReason::WindowClosed)
        );
    }

    #[test]
    fn an_older_interaction_does_not_lift_a_block() {
        let w = WindowTracker::new(WindowPolicy::default());
        w.record_interaction(&user(), Interaction::Message, T0);
        w.record_unfollow(&user(), T0 + 5);
        w.record_interaction(&user(), Interaction::Message, T0 + 1);
        assert_eq!(w.check(&user(), T0 + 6), Err(GiveUpReason::NotFollowing));
        w.record_interaction(&user(), Interaction::Event, T0 + 9);
        assert_eq!(w.check(&user(), T0 + 10), Ok(()));
    }
}
