//! What the fault tests share: the whole gateway in-process (the `App` the binary runs, sled in
//! a temporary directory) against the Live Agent and WeChat API simulators over loopback HTTP,
//! optionally with a [`proxy::FaultProxy`] in front of either simulator; WeChat users pushing
//! as WeChat does; and waiting for a condition with a deadline.
//!
//! Adapted from `engine/tests/support/mod.rs` (which this crate cannot reach): only what the
//! fault tests need.

#![allow(dead_code)] // each test uses its own part

pub mod proxy;

use std::sync::Arc;
use std::time::Duration;

use proxy::FaultProxy;
use switchboard_core::liveagent::Resource;
use switchboard_engine::app::App;
use switchboard_engine::simulated::{self, Simulated};
use switchboard_sim::liveagent::{AgentControl, Knobs, LiveAgentSim, SimConfig};
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{AccountSettings, Endpoint, PushMode, WeChatApiSim, WeChatUser};

pub const APP_ID: &str = "wx5823bf96d3bd56c7";
pub const APP_SECRET: &str = "test-app-secret";
pub const TOKEN: &str = "spamtest";
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub const ADMIN_TOKEN: &str = "admin-secret";
/// The longest any one wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);
/// What the gateway's own notices to the agent start with.
pub const NOTICE: &str = "[Switchboard]";
/// What the user's phone shows when the agent (`Andy`, see [`Rig::open_chat`]) joins.
pub const JOINED: &str = "Andy is now with you.";

/// How one test's world is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Live Agent simulator's settings (`clientPollTimeout`, duplicate POSTs, …).
    pub knobs: Knobs,
    /// How long the Live Agent simulator holds an empty `Messages` poll.
    pub hold: Duration,
    /// The WeChat API simulator's settings (window, quota).
    pub wechat: ApiConfig,
    /// A fault proxy between the gateway and the Live Agent simulator.
    pub desk_proxy: bool,
    /// A fault proxy between the gateway and the WeChat API simulator.
    pub wechat_proxy: bool,
    /// `[live_agent] request_timeout_secs` (the gateway's default, 15 s, when `None`).
    pub request_timeout_secs: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            knobs: Knobs::default(),
            hold: Duration::from_millis(300),
            wechat: ApiConfig::new(APP_ID, APP_SECRET),
            desk_proxy: false,
            wechat_proxy: false,
            request_timeout_secs: None,
        }
    }
}

/// The gateway and the simulators of one test.
pub struct Rig {
    pub live_agent: LiveAgentSim,
    pub wechat: WeChatApiSim,
    /// In front of the Live Agent simulator, with [`Options::desk_proxy`].
    pub desk_proxy: Option<FaultProxy>,
    /// In front of the WeChat API simulator, with [`Options::wechat_proxy`].
    pub wechat_proxy: Option<FaultProxy>,
    pub app: App,
    /// `http://ADDR/channels/wechat`
    pub webhook: String,
    pub dir: tempfile::TempDir,
}

impl Rig {
    /// Starts the simulators, the proxies asked for, and the gateway pointed at them.
    pub async fn start(options: Options) -> Rig {
        let live_agent = LiveAgentSim::start(SimConfig {
            knobs: options.knobs.clone(),
            hold: options.hold,
            ..SimConfig::default()
        })
        .await
        .expect("Live Agent simulator");
        let wechat = WeChatApiSim::start(options.wechat.clone())
            .await
            .expect("WeChat simulator");
        let desk_proxy = match options.desk_proxy {
            true => Some(FaultProxy::start(&live_agent.base_url()).await),
            false => None,
        };
        let wechat_proxy = match options.wechat_proxy {
            true => Some(FaultProxy::start(&wechat.base_url()).await),
            false => None,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let mut simulated = Simulated::new(&live_agent, &wechat, APP_ID, dir.path());
        if let Some(proxy) = &desk_proxy {
            simulated.live_agent_url = proxy.url();
        }
        if let Some(proxy) = &wechat_proxy {
            simulated.wechat_api_url = proxy.url();
        }
        let mut text = simulated.toml();
        if let Some(secs) = options.request_timeout_secs {
            let anchor = "retry_delay_secs = 0.2\n";
            assert!(text.contains(anchor), "the simulated [live_agent] section");
            text = text.replace(anchor, &format!("{anchor}request_timeout_secs = {secs}\n"));
        }
        let config = switchboard_engine::config::Config::parse(&text, "faults").expect("config");
        let secrets = simulated::secrets(ADMIN_TOKEN, APP_SECRET, TOKEN, AES_KEY);
        let app = App::start(&config, &secrets)
            .await
            .expect("the gateway starts");
        let webhook = format!("http://{}/channels/wechat", app.public_addr());
        Rig {
            live_agent,
            wechat,
            desk_proxy,
            wechat_proxy,
            app,
            webhook,
            dir,
        }
    }

    /// The agent's side of the Live Agent simulator.
    pub fn control(&self) -> AgentControl {
        self.live_agent.control()
    }

    /// The proxy in front of the desk.
    pub fn desk_proxy(&self) -> &FaultProxy {
        self.desk_proxy.as_ref().expect("started with desk_proxy")
    }

    /// The proxy in front of the WeChat API.
    pub fn wechat_proxy(&self) -> &FaultProxy {
        self.wechat_proxy
            .as_ref()
            .expect("started with wechat_proxy")
    }

    /// A follower of the account (safe-mode pushes), reporting to the WeChat simulator.
    pub fn user(&self, openid: &str) -> Arc<WeChatUser> {
        let account = AccountSettings {
            account: "gh_faults".into(),
            app_id: APP_ID.into(),
            token: TOKEN.into(),
            encoding_aes_key: AES_KEY.into(),
            mode: PushMode::Safe,
        };
        Arc::new(WeChatUser::new(account, openid, Some(self.wechat.handle())))
    }

    /// The user writes `text`; WeChat pushes it again until it is answered 200.
    pub async fn push(&self, user: &WeChatUser, text: &str) {
        let push = user.text(text);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(answer) = push.send_to(&self.webhook).await
                && answer.status == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "push {text:?} never accepted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The user writes `first`, an agent (`Andy`) accepts the chat, and the user's phone shows
    /// the join notice. Returns the Live Agent session id.
    pub async fn open_chat(&self, user: &WeChatUser, first: &str) -> String {
        self.push(user, first).await;
        let control = self.control();
        let waiting = eventually("the chat request", || control.waiting().pop()).await;
        control.accept(&waiting.session_id, "Andy").expect("accept");
        let openid = user.openid().to_owned();
        eventually("the join notice on the phone", || {
            self.phone(&openid)
                .iter()
                .any(|l| l == JOINED)
                .then_some(())
        })
        .await;
        waiting.session_id
    }

    /// Every line the user's phone shows, in order (a merged message is split at its line
    /// breaks).
    pub fn phone(&self, openid: &str) -> Vec<String> {
        self.wechat
            .sent_texts(openid)
            .iter()
            .flat_map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }

    /// The lines on the phone that start with `prefix`, in order.
    pub fn phone_lines(&self, openid: &str, prefix: &str) -> Vec<String> {
        self.phone(openid)
            .into_iter()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    /// What the agent received from the visitor, the gateway's own notices left out.
    pub fn at_agent(&self, session: &str) -> Vec<String> {
        self.control()
            .session(session)
            .map(|s| s.visitor_texts)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| !t.starts_with(NOTICE))
            .collect()
    }

    /// The gateway's notices to the agent, in order.
    pub fn notices(&self, session: &str) -> Vec<String> {
        self.control()
            .session(session)
            .map(|s| s.visitor_texts)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.starts_with(NOTICE))
            .collect()
    }

    /// Waits until the agent has `expected` (notices aside) and asserts it got exactly that:
    /// each once, in order.
    pub async fn assert_agent_got(&self, session: &str, expected: &[String]) {
        let got = eventually_or("the visitor's texts at the agent", || {
            let got = self.at_agent(session);
            (got.len() >= expected.len()).then_some(got)
        })
        .await
        .unwrap_or_else(|| self.at_agent(session));
        assert_eq!(got, expected, "every visitor text once, in order");
    }

    /// Waits until the phone shows `expected` (lines starting with `prefix`) and asserts it
    /// shows exactly that: each once, in order.
    pub async fn assert_phone_got(&self, openid: &str, prefix: &str, expected: &[String]) {
        let got = eventually_or("the agent's lines on the phone", || {
            let got = self.phone_lines(openid, prefix);
            (got.len() >= expected.len()).then_some(got)
        })
        .await
        .unwrap_or_else(|| self.phone_lines(openid, prefix));
        assert_eq!(got, expected, "every agent line once, in order");
    }

    /// How many requests for `resource` the desk answered `status` (`None`: any, held ones
    /// included).
    pub fn desk_answers(&self, resource: Resource, status: Option<u16>) -> usize {
        self.control()
            .recorded()
            .iter()
            .filter(|r| r.request.resource == resource)
            .filter(|r| status.is_none() || r.status == status)
            .count()
    }

    /// WeChat API calls to `endpoint` answered `errcode`.
    pub fn wechat_answers(&self, endpoint: Endpoint, errcode: i64) -> usize {
        self.wechat
            .calls()
            .iter()
            .filter(|c| c.endpoint == endpoint && c.errcode == errcode)
            .count()
    }

    /// Waits until the gateway holds at least `n` actions towards users (sends queued or in
    /// flight), across conversations.
    pub async fn wait_for_queued_sends(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let queued: usize = self
                .app
                .bridge()
                .conversations()
                .await
                .iter()
                .map(|c| c.pending.1)
                .sum();
            if queued >= n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {n} queued sends (have {queued})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the gateway (flushes the store).
    pub async fn shutdown(self) {
        self.app.shutdown().await.expect("clean shutdown");
    }
}

/// `prefix 1`, `prefix 2`, … `prefix n`.
pub fn numbered(prefix: &str, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

/// Polls `check` every 20 ms until it gives a value; fails the test after [`PATIENCE`].
pub async fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    match eventually_or(what, check).await {
        Some(found) => found,
        None => panic!("timed out waiting for {what}"),
    }
}

/// As [`eventually`], but `None` after [`PATIENCE`] (for a caller that asserts on what it
/// has then, with a better message).
pub async fn eventually_or<T>(_what: &str, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
