//! The crash harness: the shipped binary with ten WeChat users and their agents talking both
//! ways without pause, SIGKILLed at random moments — between a push's persist and its answer,
//! while the desk fails over, while a long reply goes out in parts — and restarted each time.
//! Checked against the simulators' records afterwards: nothing lost either way, nothing to the
//! agent twice, and towards WeChat (which has no idempotency key) no message repeated more
//! often than there were kills.
//!
//! Short form (CI): `CRASH_KILLS` kills, 12 by default. Long form:
//! `CRASH_KILLS=500 cargo test --release -p switchboard-engine --test crash_harness -- --nocapture`.
//! The run prints its seed; `CRASH_SEED=…` replays the same kill timings.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::desk::{Desk, DeskKind};
use support::{APP_ID, APP_SECRET, Gateway, PATIENCE, eventually, start_gateway};
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{WeChatApiSim, WeChatUser};

const USERS: usize = 10;

/// xorshift64*, seeded per run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where the running gateway listens (it moves at every restart).
struct Current {
    gateway: Mutex<Gateway>,
    webhook: Mutex<String>,
}

impl Current {
    fn webhook(&self) -> String {
        self.webhook.lock().unwrap().clone()
    }
}

/// Pushes `text` as WeChat does, to whichever gateway runs: again until answered 200.
async fn push(current: &Current, user: &WeChatUser, text: &str) {
    let push = user.text(text);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(answer) = push.send_to(&current.webhook()).await
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

/// The agent's reply of round `round` to `openid`: every fourth a long one that WeChat gets
/// in three parts (each part carries the marker, so it can be told from notices).
fn reply(round: usize, openid: &str) -> String {
    if round.is_multiple_of(4) {
        format!("long {round} to {openid}: ") + &format!("[long {round} {openid}] ").repeat(200)
    } else {
        format!("reply {round} to {openid}")
    }
}

/// `text` without its spaces and line breaks.
fn words(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn is_reply(text: &str) -> bool {
    text.starts_with("reply ") || text.contains("[long ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_lose_nothing_and_repeat_only_what_a_kill_cut_short() {
    let kills_wanted = env_number("CRASH_KILLS", 12) as usize;
    let seed = env_number("CRASH_SEED", {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        u64::from_le_bytes(bytes) | 1
    });
    eprintln!("crash harness: {kills_wanted} kills, CRASH_SEED={seed}");

    let desk = Desk::start(DeskKind::LiveAgent).await;
    // Crash safety, not WeChat's send budget, is under test: the window is not enforced.
    let wechat = WeChatApiSim::start(ApiConfig {
        enforce_window: false,
        ..ApiConfig::new(APP_ID, APP_SECRET)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        desk.simulated(&wechat, dir.path().join("data")).toml(),
    )
    .unwrap();
    let first = start_gateway(&config);
    let current = Arc::new(Current {
        webhook: Mutex::new(first.webhook.clone()),
        gateway: Mutex::new(first),
    });
    let users = support::users(&wechat, USERS);

    // Everyone says hello (no kills yet); agents accept.
    let mut pushes = tokio::task::JoinSet::new();
    for user in &users {
        let (current, user) = (current.clone(), user.clone());
        pushes.spawn(async move {
            push(&current, &user, &format!("hello from {}", user.openid())).await
        });
    }
    while pushes.join_next().await.is_some() {}
    desk.accept_all(USERS).await;

    // The killer: SIGKILL at a random moment, restart, again, until enough kills.
    let kills = Arc::new(AtomicUsize::new(0));
    let killing = Arc::new(AtomicBool::new(true));
    let killer = {
        let (current, kills, killing, config) = (
            current.clone(),
            kills.clone(),
            killing.clone(),
            config.clone(),
        );
        tokio::spawn(async move {
            let mut rng = Rng(seed);
            while kills.load(Ordering::SeqCst) < kills_wanted {
                tokio::time::sleep(Duration::from_millis(100 + rng.below(600))).await;
                {
                    let mut gateway = current.gateway.lock().unwrap();
                    gateway.child.kill().expect("SIGKILL");
                    gateway.child.wait().unwrap();
                }
                let config = config.clone();
                let fresh = tokio::task::spawn_blocking(move || start_gateway(&config))
                    .await
                    .unwrap();
                *current.webhook.lock().unwrap() = fresh.webhook.clone();
                *current.gateway.lock().unwrap() = fresh;
                kills.fetch_add(1, Ordering::SeqCst);
            }
            killing.store(false, Ordering::SeqCst);
        })
    };

    // Traffic both ways while the killer runs, with a failover now and then.
    let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut round = 0;
    let mut failovers = 0;
    while killing.load(Ordering::SeqCst) || round < 2 {
        round += 1;
        let mut pushes = tokio::task::JoinSet::new();
        for user in &users {
            let (current, user) = (current.clone(), user.clone());
            let text = format!("{} message {round}", user.openid());
            pushes.spawn(async move { push(&current, &user, &text).await });
        }
        while let Some(done) = pushes.join_next().await {
            done.expect("push task");
        }
        for user in &users {
            let id = desk.chat_of(user.openid());
            let expected = format!("{} message {round}", user.openid());
            eventually("the visitor's text at the agent", || {
                desk.visitor_texts(&id).contains(&expected).then_some(())
            })
            .await;
            desk.send_text(&id, &reply(round, user.openid()));
        }
        if rng.below(4) == 0 {
            failovers += desk.disrupt_all().min(1);
        }
    }
    killer.await.unwrap();

    // Settle: no more kills; a last message from each user reopens their send budget (kept
    // replies go out with it), and every reply reaches its user.
    for user in &users {
        push(&current, user, &format!("{} settle", user.openid())).await;
    }
    for user in &users {
        let expected: String = (1..=round)
            .map(|r| words(&reply(r, user.openid())))
            .collect();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while delivered(&wechat, user.openid()).0 != expected {
            if tokio::time::Instant::now() > deadline {
                let sent: Vec<String> = wechat
                    .sent_texts(user.openid())
                    .into_iter()
                    .map(|t| t.chars().take(60).collect())
                    .collect();
                panic!(
                    "{}: replies never all arrived; sent: {sent:#?}",
                    user.openid()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let kills = kills.load(Ordering::SeqCst);
    let (mut to_agent, mut to_user, mut repeated) = (0, 0, 0);
    for user in &users {
        let id = desk.chat_of(user.openid());
        let mut expected = vec![format!("hello from {}", user.openid())];
        expected.extend((1..=round).map(|r| format!("{} message {r}", user.openid())));
        expected.push(format!("{} settle", user.openid()));
        // The gateway's own notes to the agent (the send budget running low) are not the user's.
        let texts: Vec<String> = desk
            .visitor_texts(&id)
            .into_iter()
            .filter(|t| !t.starts_with("[Switchboard]"))
            .collect();
        assert_eq!(texts, expected, "to the agent: every text once, in order");
        to_agent += expected.len();
        let (joined, runs) = delivered(&wechat, user.openid());
        let expected: String = (1..=round)
            .map(|r| words(&reply(r, user.openid())))
            .collect();
        assert_eq!(joined, expected, "to the user: every reply, in order");
        for run in &runs {
            assert!(
                run - 1 <= kills,
                "a message sent {run} times with {kills} kills"
            );
            repeated += run - 1;
        }
        to_user += round;
        assert_eq!(desk.chats_of(user.openid()), 1, "one chat per user");
    }
    eprintln!(
        "crash harness: {kills} kills, {failovers} failovers, {round} rounds; {to_agent} texts to \
         the agent (0 lost, 0 repeated), {to_user} replies to users (0 lost, {repeated} sends \
         repeated by a kill)"
    );
}

/// What the user got from agents: the reply texts with repeats (a kill between a send and its
/// record) taken out, joined; and how many times each distinct send went out in a row.
fn delivered(wechat: &WeChatApiSim, openid: &str) -> (String, Vec<usize>) {
    let sent: Vec<String> = wechat
        .sent_texts(openid)
        .into_iter()
        .filter(|t| is_reply(t))
        .collect();
    let mut runs: Vec<(String, usize)> = Vec::new();
    for text in sent {
        match runs.last_mut() {
            Some((last, n)) if *last == text => *n += 1,
            _ => runs.push((text, 1)),
        }
    }
    // Merged lines and split parts lose the line break or space between them: compare the
    // words only.
    let joined = runs.iter().map(|(t, _)| words(t)).collect();
    (joined, runs.into_iter().map(|(_, n)| n).collect())
}
