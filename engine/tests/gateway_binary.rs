//! The shipped binary (`switchboard run --config FILE`) against both simulators: ten WeChat
//! users chat with agents at once while Salesforce fails over and the process is SIGKILLed and
//! restarted, and every message in both directions arrives once, in order. Two crash plans: one
//! kill at a quiet moment midway, and two kills every round in the middle of the traffic.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::simulated::{self, Simulated};
use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{AccountSettings, PushMode, WeChatApiSim, WeChatUser};

const APP_ID: &str = "wx5823bf96d3bd56c7";
const APP_SECRET: &str = "test-app-secret";
const TOKEN: &str = "spamtest";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const USERS: usize = 10;
const ROUNDS: usize = 4;
const PATIENCE: Duration = Duration::from_secs(30);

struct Gateway {
    child: Child,
    webhook: String,
}

impl Drop for Gateway {
    /// A failing test must not leave the process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway(config: &std::path::Path) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(config)
        .env(simulated::ADMIN_TOKEN_ENV, "admin-secret")
        .env(simulated::APP_SECRET_ENV, APP_SECRET)
        .env(simulated::TOKEN_ENV, TOKEN)
        .env(simulated::AES_KEY_ENV, AES_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the switchboard binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the binary prints its addresses");
    // "switchboard: webhooks on http://ADDR/channels/{id}, admin on http://ADDR"
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Gateway {
        child,
        webhook: format!("http://{addr}/channels/wechat"),
    }
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn push_text(user: &WeChatUser, webhook: &str, text: &str) {
    let push = user.text(text);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        // WeChat delivers again until it gets a 200 (or gives up): so does this test.
        match push.send_to(webhook).await {
            Ok(answer) if answer.status == 200 => return,
            Ok(_) | Err(_) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "push {text:?} never accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lines the user received, notices included (merged agent lines are split again).
fn received_lines(wechat: &WeChatApiSim, openid: &str) -> Vec<String> {
    wechat
        .sent_texts(openid)
        .iter()
        .flat_map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// When the process is killed and sessions fail over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crashes {
    /// Every session fails over after round 2; one SIGKILL after round 3, with nothing in flight.
    OnceMidway,
    /// Every round: a SIGKILL right after the users' texts were accepted (before they reached
    /// the agents) and another while the replies are being delivered; failovers every other round.
    TwicePerRound,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_users_chat_through_the_shipped_binary_across_a_failover_and_a_restart() {
    ten_users_chat(Crashes::OnceMidway).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_users_lose_and_repeat_nothing_when_the_binary_is_killed_mid_flight() {
    ten_users_chat(Crashes::TwicePerRound).await;
}

fn restart(gateway: &mut Gateway, config: &std::path::Path) {
    gateway.child.kill().expect("SIGKILL");
    gateway.child.wait().unwrap();
    *gateway = start_gateway(config);
}

async fn ten_users_chat(crashes: Crashes) {
    let live_agent = LiveAgentSim::start(SimConfig::with_hold(Duration::from_millis(500)))
        .await
        .unwrap();
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .unwrap();
    let control = live_agent.control();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("switchboard.toml");
    let text = Simulated::new(&live_agent, &wechat, APP_ID, dir.path().join("data")).toml();
    std::fs::write(&config_path, text).unwrap();

    let mut gateway = start_gateway(&config_path);
    let settings = AccountSettings {
        account: "gh_test".into(),
        app_id: APP_ID.into(),
        token: TOKEN.into(),
        encoding_aes_key: AES_KEY.into(),
        mode: PushMode::Safe,
    };
    let users: Vec<Arc<WeChatUser>> = (0..USERS)
        .map(|i| {
            Arc::new(
                WeChatUser::new(
                    settings.clone(),
                    format!("oUser{i:02}"),
                    Some(wechat.handle()),
                )
                .with_first_msg_id(1_000_000 * (i as u64 + 1)),
            )
        })
        .collect();

    // Everyone says hello at once; agents accept every chat.
    all_push(&users, &gateway.webhook, |openid| {
        format!("hello from {openid}")
    })
    .await;
    let sessions: Vec<String> = eventually("ten waiting chats", || {
        let waiting = control.waiting();
        (waiting.len() == USERS).then(|| waiting.into_iter().map(|w| w.session_id).collect())
    })
    .await;
    for (i, id) in sessions.iter().enumerate() {
        control.accept(id, &format!("Agent {i}")).unwrap();
    }
    // Which session belongs to which user: the prechat carries the OpenID.
    let session_of = |openid: &str| -> String {
        control
            .sessions()
            .into_iter()
            .find(|s| s.prechat.iter().any(|(_, v)| v == openid))
            .map(|s| s.id)
            .unwrap_or_else(|| panic!("no session for {openid}"))
    };

    for round in 1..=ROUNDS {
        all_push(&users, &gateway.webhook, |openid| {
            format!("{openid} message {round}")
        })
        .await;
        if crashes == Crashes::TwicePerRound {
            // Accepted (answered 200) means durable: kill before it is passed on.
            restart(&mut gateway, &config_path);
        }
        for user in &users {
            let id = session_of(user.openid());
            let expected = format!("{} message {round}", user.openid());
            eventually("the visitor's text at the agent", || {
                control
                    .session(&id)
                    .filter(|s| s.visitor_texts.contains(&expected))
                    .map(|_| ())
            })
            .await;
            control
                .send_text(&id, &format!("reply {round} to {}", user.openid()))
                .unwrap();
        }
        if crashes == Crashes::TwicePerRound {
            // Kill while the replies are being taken in and delivered.
            tokio::time::sleep(Duration::from_millis(40 * round as u64)).await;
            restart(&mut gateway, &config_path);
        }
        for user in &users {
            let expected = format!("reply {round} to {}", user.openid());
            eventually("the agent's reply on the phone", || {
                received_lines(&wechat, user.openid())
                    .contains(&expected)
                    .then_some(())
            })
            .await;
        }
        let failover = match crashes {
            Crashes::OnceMidway => round == 2,
            Crashes::TwicePerRound => round % 2 == 0,
        };
        if failover {
            assert_eq!(control.failover_all(), USERS, "every session fails over");
        }
        if crashes == Crashes::OnceMidway && round == 3 {
            restart(&mut gateway, &config_path);
        }
    }

    for user in &users {
        let id = session_of(user.openid());
        let mut expected = vec![format!("hello from {}", user.openid())];
        expected.extend((1..=ROUNDS).map(|r| format!("{} message {r}", user.openid())));
        assert_eq!(
            control.session(&id).unwrap().visitor_texts,
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
    }
    // A kill between sending ChasitorInit (or SessionId) and storing its answer legitimately
    // repeats it (same sequence number: the server takes it as a duplicate) or leaves an unused
    // session to expire; what must hold is one chat per user.
    for user in &users {
        let chats = control
            .sessions()
            .into_iter()
            .filter(|s| s.phase != switchboard_sim::liveagent::Phase::Created)
            .filter(|s| s.prechat.iter().any(|(_, v)| v == user.openid()))
            .count();
        assert_eq!(chats, 1, "{} has one chat", user.openid());
    }
    if crashes == Crashes::OnceMidway {
        let chat_requests = control
            .recorded()
            .iter()
            .filter(|r| r.request.resource == switchboard_core::liveagent::Resource::ChasitorInit)
            .count();
        assert_eq!(
            chat_requests, USERS,
            "with nothing in flight at the kill, no request repeats"
        );
    }
}

/// Every user pushes a text at the same time.
async fn all_push(users: &[Arc<WeChatUser>], webhook: &str, text: impl Fn(&str) -> String) {
    let mut pushes = tokio::task::JoinSet::new();
    for user in users {
        let (user, webhook, text) = (user.clone(), webhook.to_owned(), text(user.openid()));
        pushes.spawn(async move { push_text(&user, &webhook, &text).await });
    }
    while let Some(done) = pushes.join_next().await {
        done.expect("push task");
    }
}
