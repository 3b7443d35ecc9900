//! Which shards an instance should take and give up. Every instance runs [`plan`] on the same
//! view of the leases (read from the database) and of the instances alive (those whose
//! heartbeat is recent), so the shards spread evenly: each instance aims at a fair share
//! between `floor(SHARDS / live)` and `ceil(SHARDS / live)`.
//!
//! Safety does not rest here but in the database: a shard is taken only if its lease is free or
//! expired at that moment (the takeover raises its epoch), and every write carries the epoch.
//! The plan only has to converge: from any view, instances applying their plans in turn reach
//! an even spread with every shard owned, and then stop moving shards.

use std::collections::{BTreeMap, BTreeSet};

/// One shard's lease as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The shard.
    pub shard: u16,
    /// Who holds it; `None` once released (or never taken).
    pub owner: Option<String>,
    /// Raised by every takeover; an owner's writes carry the epoch it took the shard at.
    pub epoch: u64,
    /// Whether it ran out without being renewed (by the database's clock).
    pub expired: bool,
}

impl Lease {
    /// Whether `instance` holds it now.
    fn held_by(&self, instance: &str) -> bool {
        !self.expired && self.owner.as_deref() == Some(instance)
    }

    /// Whether anyone may take it now.
    fn free(&self) -> bool {
        self.expired || self.owner.is_none()
    }
}

/// What one instance should do next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Free or expired shards to take, most wanted first.
    pub acquire: Vec<u16>,
    /// Held shards to hand over, so that an instance with less can take them.
    pub release: Vec<u16>,
}

/// The shards `me` should take and give up, given every lease and the instances alive (`me`
/// counts as alive whether listed or not).
pub fn plan(me: &str, leases: &[Lease], live: &BTreeSet<String>) -> Plan {
    let mut alive = live.clone();
    alive.insert(me.to_owned());
    let shards = leases.len();
    let instances = alive.len();
    let floor = shards / instances;
    let ceil = shards.div_ceil(instances);

    let mine: Vec<u16> = leases
        .iter()
        .filter(|l| l.held_by(me))
        .map(|l| l.shard)
        .collect();
    let mut held: BTreeMap<&str, usize> = alive.iter().map(|i| (i.as_str(), 0)).collect();
    for lease in leases.iter().filter(|l| !l.free()) {
        if let Some(count) = lease.owner.as_deref().and_then(|o| held.get_mut(o)) {
            *count += 1;
        }
    }

    if mine.len() < ceil {
        let mut free: Vec<u16> = leases
            .iter()
            .filter(|l| l.free())
            .map(|l| l.shard)
            .collect();
        // Instances taking at once prefer different shards, so fewer of them collide.
        free.sort_by_key(|shard| preference(me, *shard));
        free.truncate(ceil - mine.len());
        return Plan {
            acquire: free,
            release: Vec::new(),
        };
    }
    let starved = held.iter().any(|(i, n)| *i != me && *n < floor);
    let keep = if mine.len() > ceil {
        ceil
    } else if starved && mine.len() > floor {
        mine.len() - 1
    } else {
        mine.len()
    };
    // Give up the shards this instance likes least.
    let mut release = mine;
    release.sort_by_key(|shard| std::cmp::Reverse(preference(me, *shard)));
    release.truncate(release.len() - keep);
    Plan {
        acquire: Vec::new(),
        release,
    }
}

/// A per-instance order of the shards (rendezvous hashing): lower is more wanted.
fn preference(instance: &str, shard: u16) -> u64 {
    super::shard::fnv1a(instance.as_bytes().iter().chain(&shard.to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lease(shard: u16, owner: Option<&str>, expired: bool) -> Lease {
        Lease {
            shard,
            owner: owner.map(str::to_owned),
            epoch: 1,
            expired,
        }
    }

    fn live(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_lone_instance_takes_every_free_or_expired_shard() {
        let leases = vec![
            lease(0, None, false),
            lease(1, Some("dead"), true),
            lease(2, Some("a"), false),
            lease(3, None, true),
        ];
        let mut p = plan("a", &leases, &live(&["a"]));
        p.acquire.sort_unstable();
        assert_eq!(p.acquire, [0, 1, 3]);
        assert!(p.release.is_empty());
    }

    #[test]
    fn a_lease_held_by_another_live_or_silent_instance_is_never_taken_before_it_expires() {
        let leases = vec![lease(0, Some("b"), false), lease(1, Some("gone"), false)];
        let p = plan("a", &leases, &live(&["a"]));
        assert!(p.acquire.is_empty(), "{p:?}");
    }

    #[test]
    fn an_instance_above_its_share_hands_over_to_one_that_joined() {
        let mut leases: Vec<Lease> = (0..32).map(|s| lease(s, Some("a"), false)).collect();
        leases.extend((32..64).map(|s| lease(s, Some("b"), false)));
        let p = plan("a", &leases, &live(&["a", "b", "c"]));
        assert_eq!(p.release.len(), 32 - 22);
        assert!(p.acquire.is_empty());
        let c = plan("c", &leases, &live(&["a", "b", "c"]));
        assert_eq!(c, Plan::default(), "nothing is free yet");
    }

    /// One instance's turn: it runs its plan; an acquire succeeds if the lease is still free.
    fn turn(me: &str, leases: &mut [Lease], live: &BTreeSet<String>) -> usize {
        let p = plan(me, leases, live);
        let mut moved = 0;
        for shard in p.release {
            let l = &mut leases[usize::from(shard)];
            assert!(l.held_by(me), "releases only what it holds");
            l.owner = None;
            moved += 1;
        }
        for shard in p.acquire {
            let l = &mut leases[usize::from(shard)];
            if l.free() {
                l.owner = Some(me.to_owned());
                l.epoch += 1;
                l.expired = false;
                moved += 1;
            }
        }
        moved
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn instances_taking_turns_spread_every_shard_evenly_and_then_stay_put(
            instances in 1usize..6,
            owners in proptest::collection::vec((0usize..8, any::<bool>()), 64),
            order in proptest::collection::vec(0usize..6, 0..400),
        ) {
            let names: Vec<String> = (0..instances).map(|i| format!("i{i}")).collect();
            let alive: BTreeSet<String> = names.iter().cloned().collect();
            // Any start: free shards, shards of live instances, shards of dead ones.
            let mut leases: Vec<Lease> = owners
                .iter()
                .enumerate()
                .map(|(s, (o, expired))| Lease {
                    shard: s as u16,
                    owner: (*o < 7).then(|| format!("i{o}")),
                    epoch: 1,
                    expired: *expired,
                })
                .collect();
            // Dead instances are not renewed: their leases run out.
            for l in &mut leases {
                if l.owner.as_ref().is_some_and(|o| !alive.contains(o)) {
                    l.expired = true;
                }
            }
            // Arbitrary interleaving first, then round-robin until nothing moves.
            for i in &order {
                turn(&names[i % instances], &mut leases, &alive);
            }
            let mut rounds = 0;
            loop {
                let moved: usize = names.iter().map(|n| turn(n, &mut leases, &alive)).sum();
                if moved == 0 {
                    break;
                }
                rounds += 1;
                prop_assert!(rounds < 20, "still moving after {rounds} rounds");
            }
            let floor = 64 / instances;
            let ceil = 64usize.div_ceil(instances);
            for name in &names {
                let n = leases.iter().filter(|l| l.held_by(name)).count();
                prop_assert!((floor..=ceil).contains(&n), "{name} holds {n}");
            }
            prop_assert!(leases.iter().all(|l| !l.free()), "every shard is owned");
        }
    }
}
