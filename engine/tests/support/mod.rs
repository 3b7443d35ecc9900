//! What the gateway tests share: the account both simulators and the gateway agree on, the
//! shipped binary started on a configuration file, WeChat users pushing like WeChat does
//! (again until answered 200), and waiting for something the simulators record.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::simulated;

pub mod desk;
pub mod postgres;
use switchboard_sim::wechat::{AccountSettings, PushMode, WeChatApiSim, WeChatUser};

pub const APP_ID: &str = "wx5823bf96d3bd56c7";
pub const APP_SECRET: &str = "test-app-secret";
pub const TOKEN: &str = "spamtest";
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub const ADMIN_TOKEN: &str = "admin-secret";
/// How long any one wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The shipped binary, killed when dropped so a failing test leaves nothing behind.
pub struct Gateway {
    pub child: Child,
    /// `http://ADDR/channels/wechat`
    pub webhook: String,
    /// `http://ADDR` of the admin listener.
    pub admin: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `switchboard run --config FILE` with the simulated secrets, logging warnings and above.
pub fn start_gateway(config: &std::path::Path) -> Gateway {
    start_gateway_with(config, |command| {
        command.env("RUST_LOG", "warn");
    })
}

/// As [`start_gateway`], with the command adjusted first (log level, standard error).
pub fn start_gateway_with(config: &std::path::Path, adjust: impl FnOnce(&mut Command)) -> Gateway {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["run", "--config"])
        .arg(config)
        .env(simulated::ADMIN_TOKEN_ENV, ADMIN_TOKEN)
        .env(simulated::APP_SECRET_ENV, APP_SECRET)
        .env(simulated::TOKEN_ENV, TOKEN)
        .env(simulated::AES_KEY_ENV, AES_KEY)
        .stdout(Stdio::piped());
    adjust(&mut command);
    let mut child = command.spawn().expect("the switchboard binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the binary prints its addresses");
    // "switchboard: webhooks on http://ADDR/channels/{id}, admin on http://ADDR"
    let mut addrs = line.split("http://").skip(1).map(|rest| {
        rest.split(['/', '\n'])
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    let (Some(public), Some(admin)) = (addrs.next(), addrs.next()) else {
        panic!("unexpected first line {line:?}");
    };
    Gateway {
        child,
        webhook: format!("http://{public}/channels/wechat"),
        admin: format!("http://{admin}"),
    }
}

/// The Official Account every test's users write to (safe mode).
pub fn account() -> AccountSettings {
    AccountSettings {
        account: "gh_test".into(),
        app_id: APP_ID.into(),
        token: TOKEN.into(),
        encoding_aes_key: AES_KEY.into(),
        mode: PushMode::Safe,
    }
}

/// `count` users `oUser00`, `oUser01`, … with disjoint MsgId ranges.
pub fn users(wechat: &WeChatApiSim, count: usize) -> Vec<Arc<WeChatUser>> {
    (0..count)
        .map(|i| {
            Arc::new(
                WeChatUser::new(account(), format!("oUser{i:02}"), Some(wechat.handle()))
                    .with_first_msg_id(1_000_000 * (i as u64 + 1)),
            )
        })
        .collect()
}

/// Polls `check` every 50 ms until it gives a value; fails the test after [`PATIENCE`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
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

/// Pushes `text` as WeChat does: again until it is answered 200.
pub async fn push_text(user: &WeChatUser, webhook: &str, text: &str) {
    let push = user.text(text);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
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

/// Every user pushes a text at the same time.
pub async fn all_push(users: &[Arc<WeChatUser>], webhook: &str, text: impl Fn(&str) -> String) {
    let mut pushes = tokio::task::JoinSet::new();
    for user in users {
        let (user, webhook, text) = (user.clone(), webhook.to_owned(), text(user.openid()));
        pushes.spawn(async move { push_text(&user, &webhook, &text).await });
    }
    while let Some(done) = pushes.join_next().await {
        done.expect("push task");
    }
}

/// Lines the user received, notices included (merged agent lines are split again).
pub fn received_lines(wechat: &WeChatApiSim, openid: &str) -> Vec<String> {
    wechat
        .sent_texts(openid)
        .iter()
        .flat_map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// `GET {url}` with the admin bearer token: status and body.
pub async fn admin_get(url: &str) -> (u16, String) {
    use http_body_util::BodyExt;
    let client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    > = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = http::Request::get(url)
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = client.request(request).await.expect("admin answers");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Waits until the gateway has nothing in flight: every conversation's action queue is empty in
/// both lanes (so every delivery is recorded, and a kill now repeats nothing).
pub async fn wait_until_idle(admin: &str) {
    let url = format!("{admin}/admin/conversations");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, body) = admin_get(&url).await;
        if status == 200 {
            let conversations: serde_json::Value =
                serde_json::from_str(&body).expect("conversations as JSON");
            let idle = conversations["conversations"]
                .as_array()
                .is_some_and(|all| {
                    all.iter()
                        .all(|c| c["pending"] == serde_json::json!([0, 0]))
                });
            if idle {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway never fell idle: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Both simulators on loopback: Live Agent holding polls 300 ms, WeChat for [`APP_ID`].
pub async fn simulators() -> (switchboard_sim::liveagent::LiveAgentSim, WeChatApiSim) {
    use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};
    let live_agent = LiveAgentSim::start(SimConfig::with_hold(Duration::from_millis(300)))
        .await
        .expect("Live Agent simulator");
    let wechat = WeChatApiSim::start(switchboard_sim::wechat::state::ApiConfig::new(
        APP_ID, APP_SECRET,
    ))
    .await
    .expect("WeChat simulator");
    (live_agent, wechat)
}

/// Both simulators and the gateway started in-process on them (the same `App` the binary
/// runs), storing in a temporary directory.
pub struct InProcess {
    pub live_agent: switchboard_sim::liveagent::LiveAgentSim,
    pub wechat: WeChatApiSim,
    pub app: switchboard_engine::app::App,
    /// `http://ADDR/channels/wechat`
    pub webhook: String,
    pub dir: tempfile::TempDir,
}

impl InProcess {
    /// Starts everything; `extra` is appended to the simulated configuration file.
    pub async fn start(extra: &str) -> InProcess {
        Self::start_in(tempfile::tempdir().expect("temp dir"), extra).await
    }

    /// As [`InProcess::start`], storing in `dir` (which may hold an earlier run's data).
    pub async fn start_in(dir: tempfile::TempDir, extra: &str) -> InProcess {
        let (live_agent, wechat) = simulators().await;
        let mut text = simulated::Simulated::new(&live_agent, &wechat, APP_ID, dir.path()).toml();
        text.push_str(extra);
        let config =
            switchboard_engine::config::Config::parse(&text, "test").expect("configuration");
        let secrets = simulated::secrets(ADMIN_TOKEN, APP_SECRET, TOKEN, AES_KEY);
        let app = switchboard_engine::app::App::start(&config, &secrets)
            .await
            .expect("the gateway starts");
        let webhook = format!("http://{}/channels/wechat", app.public_addr());
        InProcess {
            live_agent,
            wechat,
            app,
            webhook,
            dir,
        }
    }
}

/// Waits until `count` chats wait for an agent, and has an agent accept each (`Agent 0`, …).
pub async fn accept_all(control: &switchboard_sim::liveagent::AgentControl, count: usize) {
    let sessions: Vec<String> = eventually("the chats waiting", || {
        let waiting = control.waiting();
        (waiting.len() == count).then(|| waiting.into_iter().map(|w| w.session_id).collect())
    })
    .await;
    for (i, id) in sessions.iter().enumerate() {
        control
            .accept(id, &format!("Agent {i}"))
            .expect("the agent accepts");
    }
}

/// The Live Agent session whose pre-chat details carry `openid`.
pub fn session_of(control: &switchboard_sim::liveagent::AgentControl, openid: &str) -> String {
    control
        .sessions()
        .into_iter()
        .find(|s| s.prechat.iter().any(|(_, v)| v == openid))
        .map(|s| s.id)
        .unwrap_or_else(|| panic!("no session for {openid}"))
}
