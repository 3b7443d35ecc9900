//! Telegram's send rate limits: a token bucket per chat (a burst of
//! [`per_chat_burst`](super::BotSimConfig::per_chat_burst) sends, then one per
//! [`per_chat_interval`](super::BotSimConfig::per_chat_interval)) and a rolling one-second
//! window across all chats ([`global_per_second`](super::BotSimConfig::global_per_second)).
//! A send beyond either is refused with the whole seconds until it would be allowed (at least
//! 1), and costs nothing. A burst injection answers the next sends 429 whatever the timing.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::config::BotSimConfig;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The limiter's memory.
#[derive(Debug, Default)]
pub(super) struct RateLimiter {
    chats: HashMap<i64, Bucket>,
    recent: VecDeque<Instant>,
    /// Sends still to be refused by a burst injection, and the `retry_after` they get.
    forced: Option<(u32, u64)>,
}

/// Whole seconds covering `d`, at least 1.
fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl RateLimiter {
    /// The next `count` sends are refused with `retry_after` seconds.
    pub fn force(&mut self, count: u32, retry_after: u64) {
        self.force_remaining(count, retry_after.max(1));
    }

    fn force_remaining(&mut self, count: u32, retry_after: u64) {
        self.forced = (count > 0).then_some((count, retry_after));
    }

    /// Admits one send to `chat_id` at `now`, or says how many seconds to wait.
    pub fn admit(&mut self, config: &BotSimConfig, chat_id: i64, now: Instant) -> Result<(), u64> {
        if let Some((count, secs)) = self.forced {
            self.force_remaining(count - 1, secs);
            return Err(secs);
        }
        let mut wait = Duration::ZERO;
        let interval = config.per_chat_interval;
        let burst = f64::from(config.per_chat_burst.max(1));
        let mut bucket = None;
        if !interval.is_zero() {
            let b = self.chats.get(&chat_id).copied().unwrap_or(Bucket {
                tokens: burst,
                at: now,
            });
            let refill = now.saturating_duration_since(b.at).as_secs_f64() / interval.as_secs_f64();
            let tokens = (b.tokens + refill).min(burst);
            if tokens < 1.0 {
                wait = wait.max(interval.mul_f64(1.0 - tokens));
            }
            bucket = Some(Bucket { tokens, at: now });
        }
        let limit = config.global_per_second as usize;
        if limit > 0 {
            while self
                .recent
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
            {
                self.recent.pop_front();
            }
            if self.recent.len() >= limit
                && let Some(oldest) = self.recent.front()
            {
                wait = wait.max(
                    Duration::from_secs(1).saturating_sub(now.saturating_duration_since(*oldest)),
                );
            }
        }
        if !wait.is_zero() {
            return Err(ceil_secs(wait));
        }
        if let Some(mut b) = bucket {
            b.tokens -= 1.0;
            self.chats.insert(chat_id, b);
        }
        if limit > 0 {
            self.recent.push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(burst: u32, interval_ms: u64, global: u32) -> BotSimConfig {
        BotSimConfig {
            per_chat_burst: burst,
            per_chat_interval: Duration::from_millis(interval_ms),
            global_per_second: global,
            ..BotSimConfig::default()
        }
    }

    #[test]
    fn a_chat_gets_its_burst_then_one_send_per_interval() {
        let c = config(2, 1000, 0);
        let mut l = RateLimiter::default();
        let t0 = Instant::now();
        assert_eq!(l.admit(&c, 1, t0), Ok(()));
        assert_eq!(l.admit(&c, 1, t0), Ok(()));
        assert_eq!(l.admit(&c, 1, t0), Err(1));
        assert_eq!(l.admit(&c, 2, t0), Ok(()), "other chats are not affected");
        assert_eq!(l.admit(&c, 1, t0 + Duration::from_millis(999)), Err(1));
        assert_eq!(l.admit(&c, 1, t0 + Duration::from_millis(1000)), Ok(()));
        assert_eq!(l.admit(&c, 1, t0 + Duration::from_millis(1000)), Err(1));
    }

    #[test]
    fn retry_after_rounds_the_wait_up_to_whole_seconds() {
        let c = config(1, 2500, 0);
        let mut l = RateLimiter::default();
        let t0 = Instant::now();
        assert_eq!(l.admit(&c, 1, t0), Ok(()));
        assert_eq!(l.admit(&c, 1, t0), Err(3));
        assert_eq!(l.admit(&c, 1, t0 + Duration::from_millis(600)), Err(2));
    }

    #[test]
    fn the_global_limit_counts_every_chat_over_a_rolling_second() {
        let c = config(1, 0, 3);
        let mut l = RateLimiter::default();
        let t0 = Instant::now();
        for chat in 1..=3 {
            assert_eq!(l.admit(&c, chat, t0), Ok(()));
        }
        assert_eq!(l.admit(&c, 4, t0 + Duration::from_millis(10)), Err(1));
        assert_eq!(l.admit(&c, 4, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn a_forced_burst_refuses_the_next_sends_whatever_the_timing() {
        let c = config(1, 0, 0);
        let mut l = RateLimiter::default();
        l.force(2, 7);
        let t0 = Instant::now();
        assert_eq!(l.admit(&c, 1, t0), Err(7));
        assert_eq!(l.admit(&c, 2, t0), Err(7));
        assert_eq!(l.admit(&c, 1, t0), Ok(()));
    }
}
