//! Three instances of the shipped binary share one PostgreSQL database (`[store] shared`):
//! thirty WeChat users chat with agents through a round-robin front over the three webhook
//! listeners, so most pushes reach an instance that does not serve the user's conversation and
//! are handed to the one that does. One instance is SIGKILLed, later another stopped with
//! SIGTERM; the survivors take their shards over. Every message reaches the agent once, in
//! order, and every reply the user once, in order; the Live Agent simulator answers no poll
//! with 409 (two pollers for one chat) during the whole run; and the chats of the instance that
//! went away poll again from another within 2 × the lease plus the takeover wait.
//!
//! `GATEWAY_LOG=info GATEWAY_LOG_DIR=/tmp/logs` keeps each instance's log in a file.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use support::desk::{Desk, DeskKind};
use support::{APP_ID, APP_SECRET, Gateway, PATIENCE, admin_get, eventually, received_lines};
use switchboard_core::liveagent::Resource;
use switchboard_engine::simulated;
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{WeChatApiSim, WeChatUser};

const USERS: usize = 30;
const ROUNDS: usize = 5;
const LEASE_SECS: f64 = 3.0;
const TAKEOVER_WAIT_SECS: f64 = 1.0;

/// The tests of this file run one at a time: each starts several gateways, and two sets at
/// once on two cores would test the machine's load more than the leases.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn start(config: &std::path::Path, url: &str) -> Gateway {
    support::start_gateway_with(config, |command| {
        command
            .env(
                "RUST_LOG",
                std::env::var("GATEWAY_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env(simulated::STORE_URL_ENV, url);
        if let Ok(dir) = std::env::var("GATEWAY_LOG_DIR") {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let file = std::fs::File::create(format!("{dir}/gateway-{n}.log")).unwrap();
            command.stderr(file);
        }
    })
}

/// The front: each push goes to the next listener in turn, and on to the one after while
/// it is not answered 200 (a dead instance), as a load balancer with retries does.
struct Front {
    webhooks: std::sync::Mutex<Vec<String>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Front {
    fn set(&self, webhooks: Vec<String>) {
        *self.webhooks.lock().unwrap() = webhooks;
    }

    async fn push(&self, user: &WeChatUser, text: &str) {
        let push = user.text(text);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let webhooks = self.webhooks.lock().unwrap().clone();
            let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let url = &webhooks[turn % webhooks.len()];
            if let Ok(answer) = push.send_to(url).await
                && answer.status == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "push {text:?} never accepted"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn all(self: &Arc<Self>, users: &[Arc<WeChatUser>], text: impl Fn(&str) -> String) {
        let mut pushes = tokio::task::JoinSet::new();
        for user in users {
            let (front, user, text) = (self.clone(), user.clone(), text(user.openid()));
            pushes.spawn(async move { front.push(&user, &text).await });
        }
        while let Some(done) = pushes.join_next().await {
            done.expect("push task");
        }
    }
}

/// One round: every user writes through the front, the agent sees it and answers, the
/// answer reaches the user.
async fn chat_round(
    front: &Arc<Front>,
    users: &[Arc<WeChatUser>],
    desk: &Desk,
    wechat: &WeChatApiSim,
    round: usize,
) {
    front
        .all(users, |openid| format!("{openid} message {round}"))
        .await;
    for user in users {
        let id = desk.chat_of(user.openid());
        let expected = format!("{} message {round}", user.openid());
        eventually("the visitor's text at the agent", || {
            desk.visitor_texts(&id).contains(&expected).then_some(())
        })
        .await;
        desk.send_text(&id, &format!("reply {round} to {}", user.openid()));
    }
    for user in users {
        let expected = format!("reply {round} to {}", user.openid());
        eventually("the agent's reply on the phone", || {
            received_lines(wechat, user.openid())
                .contains(&expected)
                .then_some(())
        })
        .await;
    }
}

/// The chats an instance drives now (from its admin API).
async fn chats_of(gateway: &Gateway) -> Vec<String> {
    let (status, body) = admin_get(&format!("{}/admin/sessions", gateway.admin)).await;
    assert_eq!(status, 200, "{body}");
    let sessions: serde_json::Value = serde_json::from_str(&body).unwrap();
    sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["chat"].as_str().unwrap().to_owned())
        .collect()
}

async fn ready(gateway: &Gateway) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while admin_get(&format!("{}/readyz", gateway.admin)).await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `Messages` polls the simulator recorded per session key, and how many it answered 409.
fn polls(desk: &Desk) -> (BTreeMap<String, usize>, usize) {
    let mut per_key = BTreeMap::new();
    let mut conflicts = 0;
    for recorded in desk.live_agent.control().recorded() {
        if recorded.request.resource != Resource::Messages {
            continue;
        }
        if recorded.status == Some(409) {
            conflicts += 1;
        }
        let key = recorded
            .request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("X-LIVEAGENT-SESSION-KEY"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        *per_key.entry(key).or_insert(0) += 1;
    }
    (per_key, conflicts)
}

/// The session key of the user whose chat is `chat` (`wechat:{openid}#{n}`).
fn key_of(desk: &Desk, chat: &str) -> String {
    let openid = chat
        .trim_start_matches("wechat:")
        .split('#')
        .next()
        .unwrap();
    let id = desk.chat_of(openid);
    desk.live_agent.control().session(&id).unwrap().key
}

/// Waits until every chat of `keys` was polled again after `before` counts; the time it took.
async fn polled_again(desk: &Desk, keys: &[String], before: &BTreeMap<String, usize>) -> Duration {
    let started = tokio::time::Instant::now();
    eventually(
        "the chats of the instance gone poll again elsewhere",
        || {
            let (now, _) = polls(desk);
            keys.iter()
                .all(|k| now.get(k).copied().unwrap_or(0) > before.get(k).copied().unwrap_or(0))
                .then_some(())
        },
    )
    .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_serve_thirty_users_through_a_kill_and_a_stop() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let desk = Desk::start(DeskKind::LiveAgent).await;
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .unwrap();
    let url = support::postgres::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    let text = desk
        .simulated(&wechat, dir.path().join("data"))
        .shared_postgres(LEASE_SECS, TAKEOVER_WAIT_SECS)
        .toml();
    std::fs::write(&config, text).unwrap();

    let mut gateways: Vec<Option<Gateway>> = (0..3).map(|_| Some(start(&config, &url))).collect();
    for gateway in gateways.iter().flatten() {
        ready(gateway).await;
    }
    let front = Arc::new(Front {
        webhooks: std::sync::Mutex::new(Vec::new()),
        next: std::sync::atomic::AtomicUsize::new(0),
    });
    let alive = |gateways: &[Option<Gateway>]| -> Vec<String> {
        gateways
            .iter()
            .flatten()
            .map(|g| g.webhook.clone())
            .collect()
    };
    front.set(alive(&gateways));
    let users = support::users(&wechat, USERS);

    front
        .all(&users, |openid| format!("hello from {openid}"))
        .await;
    desk.accept_all(USERS).await;

    let limit = Duration::from_secs_f64(2.0 * LEASE_SECS + TAKEOVER_WAIT_SECS);
    let mut takeovers = Vec::new();
    for round in 1..=ROUNDS {
        chat_round(&front, &users, &desk, &wechat, round).await;
        // Round 2 ends with a SIGKILL of instance 0, round 4 with a SIGTERM of instance 1,
        // each at a quiet moment (every delivery recorded).
        let leaving = match round {
            2 => Some((0, true)),
            4 => Some((1, false)),
            _ => None,
        };
        if let Some((index, kill)) = leaving {
            let gateway = gateways[index].take().unwrap();
            for g in gateways.iter().flatten().chain([&gateway]) {
                support::wait_until_idle(&g.admin).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let chats = chats_of(&gateway).await;
            assert!(!chats.is_empty(), "instance {index} served chats");
            let keys: Vec<String> = chats.iter().map(|c| key_of(&desk, c)).collect();
            let mut gateway = gateway;
            if kill {
                gateway.child.kill().expect("SIGKILL");
            } else {
                let pid = gateway.child.id().to_string();
                let status = std::process::Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
            // Counted once the process is gone: nothing it sent can arrive after this.
            gateway.child.wait().unwrap();
            let before = polls(&desk).0;
            front.set(alive(&gateways));
            let took = polled_again(&desk, &keys, &before).await;
            eprintln!(
                "instance {index} {}: its {} chats polled again from another after {} ms",
                if kill {
                    "SIGKILLed"
                } else {
                    "stopped with SIGTERM"
                },
                keys.len(),
                took.as_millis()
            );
            assert!(took <= limit, "{took:?} > {limit:?}");
            takeovers.push(took);
        }
    }

    for user in &users {
        let id = desk.chat_of(user.openid());
        let mut expected = vec![format!("hello from {}", user.openid())];
        expected.extend((1..=ROUNDS).map(|r| format!("{} message {r}", user.openid())));
        assert_eq!(
            desk.visitor_texts(&id),
            expected,
            "to the agent, once, in order"
        );
        let replies: Vec<String> = received_lines(&wechat, user.openid())
            .into_iter()
            .filter(|l| l.starts_with("reply "))
            .collect();
        let expected: Vec<String> = (1..=ROUNDS)
            .map(|r| format!("reply {r} to {}", user.openid()))
            .collect();
        assert_eq!(replies, expected, "to the user, once, in order");
        assert_eq!(desk.chats_of(user.openid()), 1);
    }
    let (_, conflicts) = polls(&desk);
    assert_eq!(
        conflicts, 0,
        "no chat was ever polled by two instances at once"
    );
    assert_eq!(takeovers.len(), 2);

    // The survivor holds every shard now, says so, and counted what it took.
    let survivor = gateways[2].as_ref().unwrap();
    let (status, body) = admin_get(&format!("{}/admin/shards", survivor.admin)).await;
    assert_eq!(status, 200, "{body}");
    let shards: serde_json::Value = serde_json::from_str(&body).unwrap();
    let me = shards["instance"].as_str().unwrap().to_owned();
    let owners: Vec<&str> = shards["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["owner"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(owners.len(), 64);
    assert!(owners.iter().all(|o| *o == me), "{owners:?}");
    assert!(metric(survivor, "switchboard_cluster_takeovers_total").await >= 64 / 3);
    // A shard taken last (one no chat of this test lives on) is held but serves only after its
    // takeover wait: held at once, served within the wait.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let served = metric(survivor, "switchboard_cluster_shards_served").await;
        if served == 64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{served} of 64 shards served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Returns at a moment when every session's `Messages` poll is held at the simulator and
/// the oldest has at least 50 ms left of its 500 ms hold: no driver is between two polls.
async fn between_polls(desk: &Desk) {
    let control = desk.live_agent.control();
    let quiet = control
        .wait_until(PATIENCE, |c| {
            let now = c.now();
            let recorded = c.recorded();
            c.sessions()
                .iter()
                .all(|session| {
                    let last = recorded.iter().rev().find(|r| {
                        r.request.resource == Resource::Messages
                            && r.request.headers.iter().any(|(name, value)| {
                                name.eq_ignore_ascii_case("X-LIVEAGENT-SESSION-KEY")
                                    && *value == session.key
                            })
                    });
                    session.polling
                        && last.is_some_and(|r| {
                            now.saturating_since(r.at) <= Duration::from_millis(450)
                        })
                })
                .then_some(())
        })
        .await;
    assert!(quiet.is_some(), "never a moment with every poll held");
}

/// A counter from an instance's `/metrics`.
async fn metric(gateway: &Gateway, name: &str) -> u64 {
    let (_, body) = admin_get(&format!("{}/metrics", gateway.admin)).await;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

fn signal(gateway: &Gateway, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &gateway.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_paused_past_its_lease_neither_polls_nor_writes_when_it_resumes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const PAUSED_USERS: usize = 10;
    let desk = Desk::start(DeskKind::LiveAgent).await;
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .unwrap();
    let url = support::postgres::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    let text = desk
        .simulated(&wechat, dir.path().join("data"))
        .shared_postgres(LEASE_SECS, TAKEOVER_WAIT_SECS)
        .toml();
    std::fs::write(&config, text).unwrap();
    let (a, b) = (start(&config, &url), start(&config, &url));
    ready(&a).await;
    ready(&b).await;
    let front = Arc::new(Front {
        webhooks: std::sync::Mutex::new(vec![a.webhook.clone(), b.webhook.clone()]),
        next: std::sync::atomic::AtomicUsize::new(0),
    });
    let users = support::users(&wechat, PAUSED_USERS);
    front
        .all(&users, |openid| format!("hello from {openid}"))
        .await;
    desk.accept_all(PAUSED_USERS).await;
    support::wait_until_idle(&a.admin).await;
    support::wait_until_idle(&b.admin).await;
    assert!(!chats_of(&a).await.is_empty(), "a drives chats");
    let lost_before = metric(&a, "switchboard_cluster_shards_lost_total").await;

    // a freezes with its polls open; its leases run out and b takes its chats over. It is
    // frozen while every poll is held at the desk and none is about to be answered: frozen
    // between its last look at the gate and the write of a request, a process sends that
    // request on waking whatever it has lost meanwhile (see "A pause after the last look" in
    // engine/src/cluster.rs), and no lease can help that.
    between_polls(&desk).await;
    signal(&a, "-STOP");
    front.set(vec![b.webhook.clone()]);
    tokio::time::sleep(Duration::from_secs_f64(
        2.0 * LEASE_SECS + TAKEOVER_WAIT_SECS,
    ))
    .await;
    for round in 1..=2 {
        chat_round(&front, &users, &desk, &wechat, round).await;
        if round == 1 {
            // a wakes up believing it still holds its shards.
            signal(&a, "-CONT");
            tokio::time::sleep(Duration::from_secs_f64(LEASE_SECS)).await;
            front.set(vec![a.webhook.clone(), b.webhook.clone()]);
        }
    }
    assert!(
        metric(&a, "switchboard_cluster_shards_lost_total").await > lost_before,
        "a found its shards gone"
    );
    for user in &users {
        let id = desk.chat_of(user.openid());
        let mut expected = vec![format!("hello from {}", user.openid())];
        expected.extend((1..=2).map(|r| format!("{} message {r}", user.openid())));
        assert_eq!(
            desk.visitor_texts(&id),
            expected,
            "to the agent, once, in order"
        );
        let replies: Vec<String> = received_lines(&wechat, user.openid())
            .into_iter()
            .filter(|l| l.starts_with("reply "))
            .collect();
        assert_eq!(
            replies,
            [
                format!("reply 1 to {}", user.openid()),
                format!("reply 2 to {}", user.openid())
            ],
            "to the user, once, in order"
        );
        assert_eq!(desk.chats_of(user.openid()), 1);
    }
    let (_, conflicts) = polls(&desk);
    assert_eq!(
        conflicts, 0,
        "the resumed instance never polled beside the new owner"
    );
}
