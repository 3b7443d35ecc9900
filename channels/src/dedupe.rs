//! Dedupe keys for inbound events, and a small in-memory set of recently seen keys.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Identifies one inbound push across the platform's retries. Built by the adapter from the
/// decrypted fields, never from ciphertext or signatures (which change between retries).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DedupeKey(pub String);

impl fmt::Debug for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DedupeKey({})", self.0)
    }
}

impl fmt::Display for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keys seen within the last `ttl`, at most `capacity` of them (oldest forgotten first).
///
/// For tests and single-process use; the engine keeps its inbox in its store.
#[derive(Debug)]
pub struct RecentKeys {
    ttl: Duration,
    capacity: usize,
    seen: HashMap<DedupeKey, Instant>,
    order: VecDeque<(Instant, DedupeKey)>,
}

impl RecentKeys {
    /// An empty set remembering keys for `ttl`, at most `capacity` keys.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Records `key` at `now`; returns `true` if it was not seen within the TTL (process it).
    pub fn insert(&mut self, key: &DedupeKey, now: Instant) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.ttl {
                break;
            }
            self.forget_oldest();
        }
        if self.seen.contains_key(key) {
            return false;
        }
        while self.order.len() >= self.capacity {
            self.forget_oldest();
        }
        self.seen.insert(key.clone(), now);
        self.order.push_back((now, key.clone()));
        true
    }

    fn forget_oldest(&mut self) {
        if let Some((_, old)) = self.order.pop_front() {
            self.seen.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_key_until_its_ttl_passes() {
        let mut keys = RecentKeys::new(Duration::from_secs(600), 100);
        let k = DedupeKey("a".into());
        let t0 = Instant::now();
        assert!(keys.insert(&k, t0));
        assert!(!keys.insert(&k, t0 + Duration::from_secs(599)));
        assert!(keys.insert(&k, t0 + Duration::from_secs(601)));
    }

    #[test]
    fn forgets_the_oldest_key_beyond_capacity() {
        let mut keys = RecentKeys::new(Duration::from_secs(600), 2);
        let t0 = Instant::now();
        for k in ["a", "b", "c"] {
            assert!(keys.insert(&DedupeKey(k.into()), t0));
        }
        assert!(keys.insert(&DedupeKey("a".into()), t0));
        assert!(!keys.insert(&DedupeKey("c".into()), t0));
    }
}
