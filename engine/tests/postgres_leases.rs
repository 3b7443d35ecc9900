//! Shard leases on a real PostgreSQL server (a database per test): a shard is taken once and
//! its epoch rises with every takeover; renewal keeps a lease until it moved; a handed-over
//! shard is taken at once and says how long ago its previous owner let go; a write under a
//! lease that moved is refused by the database and never seen by the new owner (fencing); and
//! three instances following the plan of `switchboard_core::cluster` spread the shards evenly,
//! then take over the shards of one that stops.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use switchboard_core::cluster::{SHARDS, plan};
use switchboard_engine::store::conformance::conversation_record;
use switchboard_engine::store::{
    ConversationId, ConversationUnit, Leases, PgStore, Store, StoreError,
};

const TTL: Duration = Duration::from_millis(800);

async fn shared(url: &str, instance: &str) -> (PgStore, Leases) {
    let store = PgStore::open_shared(url, instance)
        .await
        .expect("the shared store opens");
    let leases = store.leases(instance, TTL).await.expect("leases");
    (store, leases)
}

/// A conversation id in `shard`.
fn conversation_in(shard: u16) -> ConversationId {
    (0..)
        .map(|i| ConversationId::of("wechat", &format!("oUser{i}")))
        .find(|id| id.shard() == shard)
        .expect("some id lands in every shard")
}

fn commit(store: &PgStore, id: &ConversationId, chats: u64) -> Result<(), StoreError> {
    store.commit_conversation(&ConversationUnit {
        id,
        record: &conversation_record(id, chats),
        enqueue: Vec::new(),
        seen: None,
        done: None,
    })
}

#[tokio::test]
async fn a_free_shard_is_taken_once_and_its_epoch_rises_with_each_takeover() {
    let url = support::postgres::fresh_database().await;
    let (_a_store, a) = shared(&url, "a").await;
    let (_b_store, b) = shared(&url, "b").await;

    let first = a.acquire(5).await.unwrap().expect("a free shard is taken");
    assert_eq!((first.shard, first.epoch), (5, 1));
    assert_eq!(first.since_previous, None, "it never had an owner");
    assert_eq!(
        b.acquire(5).await.unwrap(),
        None,
        "a held shard is not taken"
    );

    let (still, _) = a.renew(&[(5, 1)]).await.unwrap();
    assert_eq!(still, [5], "renewal keeps it");
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    let taken = b
        .acquire(5)
        .await
        .unwrap()
        .expect("a lapsed lease is taken");
    assert_eq!(taken.epoch, 2);
    let since = taken.since_previous.expect("it had an owner");
    assert!(since < Duration::from_secs(2), "{since:?}");
    let (still, _) = a.renew(&[(5, 1)]).await.unwrap();
    assert!(
        still.is_empty(),
        "the old owner's renewal fails once the lease moved"
    );
}

#[tokio::test]
async fn a_handed_over_shard_is_taken_at_once() {
    let url = support::postgres::fresh_database().await;
    let (_a_store, a) = shared(&url, "a").await;
    let (_b_store, b) = shared(&url, "b").await;
    let held = a.acquire(9).await.unwrap().unwrap();
    a.release(9, held.epoch).await.unwrap();
    let taken = b
        .acquire(9)
        .await
        .unwrap()
        .expect("no wait for the lease time");
    assert_eq!(taken.epoch, held.epoch + 1);
    assert!(taken.since_previous.unwrap() < TTL);
}

#[tokio::test]
async fn a_commit_to_a_shard_not_held_is_refused() {
    let url = support::postgres::fresh_database().await;
    let (store, _) = shared(&url, "a").await;
    let id = conversation_in(3);
    assert!(matches!(
        commit(&store, &id, 0),
        Err(StoreError::NotOwner(3))
    ));
}

#[tokio::test]
async fn a_write_under_a_lease_that_moved_is_refused_by_the_database() {
    let url = support::postgres::fresh_database().await;
    let (a_store, a) = shared(&url, "a").await;
    let (b_store, b) = shared(&url, "b").await;
    let id = conversation_in(7);

    let held = a.acquire(7).await.unwrap().unwrap();
    a_store.adopt(7, held.epoch).await.unwrap();
    commit(&a_store, &id, 1).unwrap();
    a_store.flush().await.expect("the owner's write lands");

    // a stalls (no renewal); its lease runs out and b takes the shard over.
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    let taken = b.acquire(7).await.unwrap().unwrap();
    b_store.adopt(7, taken.epoch).await.unwrap();

    // a, not knowing yet, writes again: the database refuses it.
    commit(&a_store, &id, 2).unwrap();
    let err = a_store.flush().await.unwrap_err();
    assert!(matches!(err, StoreError::Fenced(7)), "{err}");

    // b sees a's first write and never its second, and writes on.
    let seen: BTreeMap<ConversationId, u64> = b_store
        .load_conversations()
        .unwrap()
        .into_iter()
        .map(|(id, r)| (id, r.chats))
        .collect();
    assert_eq!(seen.get(&id), Some(&1));
    commit(&b_store, &id, 3).unwrap();
    b_store.flush().await.expect("the new owner writes");
    let (fresh, _) = shared(&url, "c").await;
    fresh.adopt(7, 0).await.unwrap();
    let stored = fresh.load_conversations().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].1.chats, 3,
        "the database holds the new owner's write"
    );
}

/// One round of an instance: heartbeat, read, plan, act; returns how many shards moved.
async fn round(leases: &Leases, held: &mut BTreeMap<u16, u64>) -> usize {
    let (view, live) = leases.view().await.unwrap();
    let steps = plan(leases.instance(), &view, &live);
    let mut moved = 0;
    for shard in steps.release {
        if let Some(epoch) = held.remove(&shard) {
            leases.release(shard, epoch).await.unwrap();
            moved += 1;
        }
    }
    for shard in steps.acquire {
        if let Some(got) = leases.acquire(shard).await.unwrap() {
            held.insert(shard, got.epoch);
            moved += 1;
        }
    }
    let pairs: Vec<(u16, u64)> = held.iter().map(|(s, e)| (*s, *e)).collect();
    let (still, _) = leases.renew(&pairs).await.unwrap();
    held.retain(|s, _| still.contains(s));
    moved
}

#[tokio::test]
async fn three_instances_spread_the_shards_and_take_over_from_one_that_stops() {
    let url = support::postgres::fresh_database().await;
    let mut instances = Vec::new();
    for name in ["a", "b", "c"] {
        let (store, leases) = shared(&url, name).await;
        // Everyone is seen alive before anyone plans.
        leases.view().await.unwrap();
        instances.push((store, leases, BTreeMap::new()));
    }
    for _ in 0..10 {
        let mut moved = 0;
        for (_, leases, held) in &mut instances {
            moved += round(leases, held).await;
        }
        if moved == 0 {
            break;
        }
    }
    let counts: Vec<usize> = instances.iter().map(|(_, _, h)| h.len()).collect();
    assert_eq!(
        counts.iter().sum::<usize>(),
        usize::from(SHARDS),
        "{counts:?}"
    );
    assert!(counts.iter().all(|n| (21..=22).contains(n)), "{counts:?}");

    // c stops renewing (a crash): once its leases run out, a and b share everything.
    let (_, c_leases, _) = instances.pop().unwrap();
    drop(c_leases);
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    for _ in 0..10 {
        let mut moved = 0;
        for (_, leases, held) in &mut instances {
            moved += round(leases, held).await;
        }
        if moved == 0 {
            break;
        }
    }
    let counts: Vec<usize> = instances.iter().map(|(_, _, h)| h.len()).collect();
    assert_eq!(counts, [32, 32]);
}
