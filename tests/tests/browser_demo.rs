//! The demo's two web pages in a real browser: the agent console the desk simulators serve
//! (`/console`, the same page on Live Agent and on Enhanced Chat) and the WeChat phone served by
//! the WeChat API simulator (`/phone`), driven in headless Chromium through chromedriver (W3C
//! WebDriver over loopback HTTP).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them each
//! test prints "chromium not installed; skipping" and passes. Screenshots of both pages land in
//! `target/screenshots/`.
//!
//! One test drives the Live Agent console through the engine directly and fills the phone
//! through the WeChat API simulator's `custom/send`. The whole-chat scenario runs the real
//! gateway (`App`, in-process) between the phone and the console, once per desk.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use switchboard_core::session::{ChatEndedBy, EndReason, SessionEvent, VisitorAction};
use switchboard_engine::ChatId;
use switchboard_engine::simulated::Simulated;
use switchboard_sim::enhanced::{EnhancedChatSim, EnhancedSimConfig};
use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};
use switchboard_sim::wechat::http::send;
use switchboard_sim::wechat::{
    AccountSettings, ApiConfig, PhoneConfig, PhoneEntryKind, PushMode, WeChatApiSim,
};
use switchboard_tests::{
    PATIENCE, Rig, agent_joined, agent_texts, ended, visitor, wait_for_events,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

const APP_ID: &str = "wx5f1c2d3e4a5b6c7d";
const APP_SECRET: &str = "demo-app-secret-0123456789abcdef";
const OPENID: &str = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M";

/// The account the simulated users write to.
fn account() -> AccountSettings {
    AccountSettings {
        account: "gh_3c884a361561".into(),
        app_id: APP_ID.into(),
        token: "switchboarddemotoken".into(),
        // 43 base64 characters, as the account settings page generates them.
        encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
        mode: PushMode::Safe,
    }
}

// ---------------------------------------------------------------------------------------------
// The desks and the gateway.

/// Which agent desk the gateway sends chats to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeskKind {
    LiveAgent,
    EnhancedChat,
}

/// A running desk simulator. The Live Agent one always runs (the gateway's configuration names
/// it); with Enhanced Chat, new chats go to the Enhanced Chat simulator instead.
struct Desk {
    live_agent: LiveAgentSim,
    enhanced: Option<EnhancedChatSim>,
}

impl Desk {
    async fn start(kind: DeskKind) -> Desk {
        let live_agent = LiveAgentSim::start(SimConfig::with_hold(Duration::from_millis(500)))
            .await
            .expect("Live Agent simulator starts");
        let enhanced = match kind {
            DeskKind::LiveAgent => None,
            DeskKind::EnhancedChat => {
                let mut config = EnhancedSimConfig {
                    ping_interval: Duration::from_secs(1),
                    ..EnhancedSimConfig::default()
                };
                config.knobs.routing_delay = Duration::from_millis(50);
                Some(
                    EnhancedChatSim::start(config)
                        .await
                        .expect("Enhanced Chat simulator starts"),
                )
            }
        };
        Desk {
            live_agent,
            enhanced,
        }
    }

    /// The agent console of the simulator the chats go to.
    fn console_url(&self) -> String {
        let base = match &self.enhanced {
            Some(sim) => sim.base_url(),
            None => self.live_agent.base_url(),
        };
        format!("{base}/console")
    }

    /// Screenshot names start with this.
    fn screenshot_prefix(&self) -> &'static str {
        match self.enhanced {
            Some(_) => "gateway-enhanced-chat",
            None => "gateway",
        }
    }
}

/// A running gateway, as the whole-chat test needs it.
struct Gateway {
    /// Where WeChat pushes: the webhook URL of the gateway's WeChat channel, without a query.
    webhook_url: String,
    /// Keeps the gateway running; dropped when the test ends.
    _app: switchboard_engine::app::App,
}

/// Starts the real gateway (the same `App` that `switchboard run` and `switchboard demo` run)
/// with its store in `data_dir`, pointed at `desk` and the WeChat API simulator.
async fn start_gateway(
    desk: &Desk,
    wechat: &WeChatApiSim,
    account: &AccountSettings,
    app_secret: &str,
    data_dir: &Path,
) -> Gateway {
    let simulated = Simulated {
        language: "zh-CN".into(),
        merge_window_ms: 300,
        ..Simulated::new(&desk.live_agent, wechat, &account.app_id, data_dir)
    };
    let simulated = match &desk.enhanced {
        Some(sim) => simulated.on_enhanced_chat(sim),
        None => simulated,
    };
    let config = simulated.config().expect("gateway configuration");
    let secrets = switchboard_engine::simulated::secrets(
        "admin-token",
        app_secret,
        &account.token,
        &account.encoding_aes_key,
    );
    let app = switchboard_engine::app::App::start(&config, &secrets)
        .await
        .expect("gateway starts");
    Gateway {
        webhook_url: format!("http://{}/channels/wechat", app.public_addr()),
        _app: app,
    }
}

// ---------------------------------------------------------------------------------------------
// A small WebDriver client: chromedriver over loopback HTTP, JSON in and out.

fn browser_installed() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        true
    } else {
        // CI installs the browser (.ci/run): a skip there would hide a broken install step.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{CHROMIUM} or {CHROMEDRIVER} missing under CI"
        );
        println!(
            "chromium not installed; skipping ({CHROMIUM} and {CHROMEDRIVER} come with Debian's \
             chromium and chromium-driver packages; .ci/run installs them)"
        );
        false
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A chromedriver process; killed when dropped.
struct Driver {
    child: Child,
    url: String,
    profiles: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: tempfile::tempdir().expect("profile dir"),
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(answer) = send(
                Method::GET,
                &format!("{}/status", driver.url),
                None,
                Bytes::new(),
            )
            .await
                && answer.status == 200
            {
                return driver;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not come up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium with a fresh profile and a window of `width` × `height`.
    async fn browser(&self, name: &str, width: u32, height: u32) -> Browser {
        let profile = self.profiles.path().join(name);
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},{height}"),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                }
            }
        });
        let value = call(
            Method::POST,
            &format!("{}/session", self.url),
            &capabilities,
        )
        .await;
        let id = value["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_owned();
        Browser {
            session: format!("{}/session/{id}", self.url),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver command; the `value` of its answer. Panics (failing the test) on an error.
async fn call(method: Method, url: &str, body: &Value) -> Value {
    let (content_type, bytes) = if method == Method::GET || method == Method::DELETE {
        (None, Bytes::new())
    } else {
        (Some("application/json"), Bytes::from(body.to_string()))
    };
    let answer = send(method.clone(), url, content_type, bytes)
        .await
        .unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    let value: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    assert!(
        answer.status == 200,
        "WebDriver {method} {url} answered {}: {value}",
        answer.status
    );
    value["value"].clone()
}

/// One browser session.
struct Browser {
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    async fn goto(&self, url: &str) {
        call(
            Method::POST,
            &format!("{}/url", self.session),
            &json!({ "url": url }),
        )
        .await;
    }

    /// Runs `body` (a function body taking `arguments`) in the page; its return value.
    async fn script(&self, body: &str, args: Value) -> Value {
        call(
            Method::POST,
            &format!("{}/execute/sync", self.session),
            &json!({ "script": body, "args": args }),
        )
        .await
    }

    /// Waits until `body` returns something truthy; returns it.
    async fn wait_for(&self, what: &str, body: &str, args: Value) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let value = self.script(body, args.clone()).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css` whose text contains `text`.
    async fn wait_for_text(&self, css: &str, text: &str) {
        self.wait_for(
            &format!("{css} containing {text:?}"),
            "return [...document.querySelectorAll(arguments[0])]\
               .some(e => !e.hidden && e.textContent.includes(arguments[1]));",
            json!([css, text]),
        )
        .await;
    }

    /// The texts of every element matching `css`, in document order.
    async fn texts(&self, css: &str) -> Vec<String> {
        let value = self
            .script(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
                json!([css]),
            )
            .await;
        value
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the element matching `css` is hidden (or missing).
    async fn hidden(&self, css: &str) -> bool {
        self.script(
            "const e = document.querySelector(arguments[0]); return !e || e.hidden;",
            json!([css]),
        )
        .await
        .as_bool()
        .unwrap_or(true)
    }

    async fn find(&self, css: &str) -> String {
        let value = call(
            Method::POST,
            &format!("{}/element", self.session),
            &json!({ "using": "css selector", "value": css }),
        )
        .await;
        value[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_owned()
    }

    /// Clicks the element matching `css` (found afresh, as the pages re-render lists).
    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        call(
            Method::POST,
            &format!("{}/element/{element}/click", self.session),
            &json!({}),
        )
        .await;
    }

    /// Types `text` into the element matching `css`, as keystrokes.
    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        call(
            Method::POST,
            &format!("{}/element/{element}/value", self.session),
            &json!({ "text": text }),
        )
        .await;
    }

    /// Empties the input matching `css`.
    async fn clear(&self, css: &str) {
        let element = self.find(css).await;
        call(
            Method::POST,
            &format!("{}/element/{element}/clear", self.session),
            &json!({}),
        )
        .await;
    }

    /// Saves a PNG of the viewport to `target/screenshots/{name}.png`.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let value = call(
            Method::GET,
            &format!("{}/screenshot", self.session),
            &Value::Null,
        )
        .await;
        let png = decode_base64(value.as_str().expect("a base64 screenshot"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        println!("screenshot: {}", path.display());
        path
    }

    async fn close(self) {
        call(Method::DELETE, &self.session, &Value::Null).await;
    }
}

/// `target/screenshots` of the workspace (or of `CARGO_TARGET_DIR`).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("screenshots")
}

fn decode_base64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("valid base64")
}

// ---------------------------------------------------------------------------------------------
// Helpers on the WeChat API simulator, used as the gateway's WeChat adapter would.

async fn wechat_call(sim: &WeChatApiSim, path: &str, token: &str, body: &Value) -> Value {
    let url = format!("{}{path}?access_token={token}", sim.base_url());
    let answer = send(
        Method::POST,
        &url,
        Some("application/json"),
        Bytes::from(body.to_string()),
    )
    .await
    .expect("WeChat API answers");
    serde_json::from_slice(&answer.body).expect("JSON from the WeChat API")
}

async fn access_token(sim: &WeChatApiSim) -> String {
    let url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={APP_ID}&secret={APP_SECRET}",
        sim.base_url()
    );
    let answer = send(Method::GET, &url, None, Bytes::new())
        .await
        .expect("token answers");
    let value: Value = serde_json::from_slice(&answer.body).expect("token JSON");
    value["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// A loopback URL nothing listens on: a gateway that is down.
fn unreachable_webhook() -> String {
    format!("http://127.0.0.1:{}/channels/wechat", free_port())
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// The console drives a real chat through the engine (accept, visitor text, typing, reply,
/// failover, end); the phone shows a user's text, WeChat's notice when the gateway is down,
/// the account typing, and a reply delivered through `custom/send`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_phone_pages_work_in_headless_chromium() {
    if !browser_installed() {
        return;
    }
    let rig = Rig::start().await;
    let engine = rig.engine().await;
    let control = rig.sim.control();
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .expect("WeChat API simulator starts");
    let mut phone_config = PhoneConfig::new(unreachable_webhook(), account());
    phone_config.display_name = "Switchboard 客服".into();
    phone_config.answer_timeout = Duration::from_secs(1);
    wechat.set_phone(phone_config);

    let driver = Driver::start().await;

    // --- The agent console.
    let console = driver.browser("console", 1280, 900).await;
    console
        .goto(&format!("{}/console", rig.sim.base_url()))
        .await;
    console.wait_for_text("[data-testid=status]", "live").await;

    let chat = ChatId(format!("wechat:gh_3c884a361561:{OPENID}"));
    engine
        .start_chat(chat.clone(), visitor("Wei Zhang"))
        .await
        .expect("chat starts");
    console
        .wait_for_text("[data-testid=waiting-chat]", "Wei Zhang")
        .await;
    console.clear("[data-testid=agent-name]").await;
    console
        .type_into("[data-testid=agent-name]", "Andy Li")
        .await;
    console
        .click("[data-testid=waiting-chat] [data-testid=accept]")
        .await;
    let events = wait_for_events(&engine, &chat, agent_joined).await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SessionEvent::AgentJoined(agent) if agent.name == "Andy Li")),
        "the engine saw the agent named on the console join: {events:?}"
    );
    console
        .wait_for_text("[data-testid=chat-meta]", "with Andy Li")
        .await;

    let question = "你好，我的订单 #2024-118 还没发货，能帮我查一下吗？";
    engine
        .visitor(&chat, VisitorAction::Text(question.into()))
        .await
        .expect("visitor text");
    console
        .wait_for_text("[data-testid=line-visitor]", question)
        .await;

    engine
        .visitor(&chat, VisitorAction::Typing)
        .await
        .expect("visitor typing");
    console
        .wait_for(
            "the visitor typing indicator",
            "return !document.getElementById('visitor-typing').hidden;",
            json!([]),
        )
        .await;
    engine
        .visitor(&chat, VisitorAction::NotTyping)
        .await
        .expect("visitor stops typing");

    console.click("[data-testid=typing]").await;
    wait_for_events(&engine, &chat, |e| {
        e.iter().any(|e| matches!(e, SessionEvent::AgentTyping))
    })
    .await;

    let reply = "您好！我来帮您查一下订单 #2024-118，请稍等。";
    console.type_into("[data-testid=reply]", reply).await;
    console.click("[data-testid=send]").await;
    let events = wait_for_events(&engine, &chat, |e| agent_texts(e).len() == 1).await;
    assert_eq!(agent_texts(&events), vec![reply]);
    console
        .wait_for_text("[data-testid=line-agent]", reply)
        .await;
    assert!(
        !console
            .script(
                "return document.getElementById('typing').checked;",
                json!([])
            )
            .await
            .as_bool()
            .unwrap_or(true),
        "sending a reply turns typing off"
    );

    // A failover from the console: the engine reconnects and the chat goes on.
    let before = control.session(&waiting_id(&control)).expect("session");
    console.click("[data-testid=failover]").await;
    wait_for_events(&engine, &chat, |e| {
        e.iter().any(|e| matches!(e, SessionEvent::Reconnected))
    })
    .await;
    let after = control
        .wait_for_session(&before.id, PATIENCE, |s| !s.moved)
        .await
        .expect("reconnected");
    assert_ne!(
        after.affinity_token, before.affinity_token,
        "a new affinity token"
    );
    let follow_up = "好的，谢谢！";
    engine
        .visitor(&chat, VisitorAction::Text(follow_up.into()))
        .await
        .expect("text after the failover");
    console
        .wait_for_text("[data-testid=line-visitor]", follow_up)
        .await;
    let lines = console.texts("[data-testid=line-text]").await;
    assert_eq!(
        lines,
        vec![question, reply, follow_up],
        "the transcript is in the order things happened"
    );
    console.screenshot("agent-console").await;

    console.click("[data-testid=end]").await;
    let events = wait_for_events(&engine, &chat, |e| ended(e).is_some()).await;
    assert!(matches!(
        ended(&events),
        Some(SessionEvent::Ended {
            reason: EndReason::ChatEnded(ChatEndedBy::Agent),
            ..
        })
    ));
    console
        .wait_for_text("[data-testid=flag-phase]", "ended")
        .await;
    assert!(
        console
            .script(
                "return document.getElementById('reply').disabled;",
                json!([])
            )
            .await
            .as_bool()
            .unwrap_or(false),
        "an ended chat takes no reply"
    );
    console.screenshot("agent-console-ended").await;
    console.close().await;

    // --- The phone.
    let phone = driver.browser("phone", 520, 960).await;
    phone.goto(&wechat.phone_url(OPENID)).await;
    phone
        .wait_for_text("[data-testid=title]", "Switchboard 客服")
        .await;
    phone.type_into("[data-testid=text]", question).await;
    phone.click("[data-testid=send]").await;
    phone.wait_for_text("[data-testid=msg-out]", question).await;
    // Nothing listens at the webhook: after WeChat's retries the user is told.
    phone
        .wait_for_text("[data-testid=notice]", "暂时无法提供服务")
        .await;

    // The user wrote, so the account may answer: typing, then the agent's reply.
    let token = access_token(&wechat).await;
    let typing = wechat_call(
        &wechat,
        "/cgi-bin/message/custom/typing",
        &token,
        &json!({ "touser": OPENID, "command": "Typing" }),
    )
    .await;
    assert_eq!(typing["errcode"], 0, "{typing}");
    phone
        .wait_for_text("[data-testid=title]", "对方正在输入")
        .await;
    assert!(!phone.hidden("[data-testid=typing]").await);
    phone.screenshot("wechat-phone-typing").await;

    let sent = wechat_call(
        &wechat,
        "/cgi-bin/message/custom/send",
        &token,
        &json!({ "touser": OPENID, "msgtype": "text", "text": { "content": reply } }),
    )
    .await;
    assert_eq!(sent["errcode"], 0, "{sent}");
    phone.wait_for_text("[data-testid=msg-in]", reply).await;
    phone
        .wait_for_text("[data-testid=title]", "Switchboard 客服")
        .await;
    assert!(
        phone.hidden("[data-testid=typing]").await,
        "a message ends the typing indicator"
    );
    let timeline: Vec<PhoneEntryKind> = wechat
        .phone_timeline(OPENID)
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        timeline,
        vec![
            PhoneEntryKind::UserText(question.into()),
            PhoneEntryKind::Notice(switchboard_sim::wechat::phone::UNAVAILABLE_NOTICE.into()),
            PhoneEntryKind::Typing,
            PhoneEntryKind::Text(reply.into()),
        ]
    );
    phone.screenshot("wechat-phone").await;
    phone.close().await;

    engine.shutdown().await.expect("engine stops");
}

/// The id of the one session the sim holds.
fn waiting_id(control: &switchboard_sim::liveagent::AgentControl) -> String {
    control
        .sessions()
        .first()
        .map(|s| s.id.clone())
        .expect("one session")
}

/// A whole chat through the gateway on `kind`: the user writes on the phone, the agent accepts
/// on the console, types (the phone shows it) and answers, the user sees the answer and writes
/// again, the agent ends the chat and the user is told.
async fn a_whole_chat_through_both_pages_and_the_gateway(kind: DeskKind) {
    if !browser_installed() {
        return;
    }
    let desk = Desk::start(kind).await;
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .expect("WeChat API simulator starts");
    let data_dir = tempfile::tempdir().expect("data dir");
    let gateway = start_gateway(&desk, &wechat, &account(), APP_SECRET, data_dir.path()).await;
    let mut phone_config = PhoneConfig::new(gateway.webhook_url.clone(), account());
    phone_config.display_name = "Switchboard 客服".into();
    wechat.set_phone(phone_config);

    let driver = Driver::start().await;
    let phone = driver.browser("phone", 520, 960).await;
    phone.goto(&wechat.phone_url(OPENID)).await;
    let console = driver.browser("console", 1280, 900).await;
    console.goto(&desk.console_url()).await;

    let question = "你好，我想改一下收货地址";
    phone.type_into("[data-testid=text]", question).await;
    phone.click("[data-testid=send]").await;
    phone.wait_for_text("[data-testid=msg-out]", question).await;

    console
        .wait_for(
            "a waiting chat",
            "return document.querySelector('[data-testid=waiting-chat]') !== null;",
            json!([]),
        )
        .await;
    console
        .click("[data-testid=waiting-chat] [data-testid=accept]")
        .await;
    console
        .wait_for_text("[data-testid=line-visitor]", question)
        .await;

    console.click("[data-testid=typing]").await;
    phone
        .wait_for_text("[data-testid=title]", "对方正在输入")
        .await;

    let reply = "好的，请把新地址发给我。";
    console.type_into("[data-testid=reply]", reply).await;
    console.click("[data-testid=send]").await;
    phone.wait_for_text("[data-testid=msg-in]", reply).await;

    let address = "上海市浦东新区世纪大道 100 号";
    phone.type_into("[data-testid=text]", address).await;
    phone.click("[data-testid=send]").await;
    console
        .wait_for_text("[data-testid=line-visitor]", address)
        .await;
    assert_eq!(
        console.texts("[data-testid=line-text]").await,
        vec![question, reply, address],
        "the console's transcript is in the order things happened"
    );
    let prefix = desk.screenshot_prefix();
    console.screenshot(&format!("{prefix}-agent-console")).await;

    console.click("[data-testid=end]").await;
    console
        .wait_for_text("[data-testid=flag-phase]", "ended")
        .await;
    // The gateway tells the user the chat ended: one more message after the reply.
    phone
        .wait_for(
            "a message after the agent's reply",
            "const m = [...document.querySelectorAll('[data-testid=msg-in]')].map(e => e.textContent);\
             const i = m.findIndex(t => t.includes(arguments[0])); return i >= 0 && m.length > i + 1;",
            json!([reply]),
        )
        .await;
    phone.screenshot(&format!("{prefix}-wechat-phone")).await;
    let timeline = wechat.phone_timeline(OPENID);
    assert!(
        timeline.iter().any(|e| e.kind == PhoneEntryKind::Typing),
        "the agent's typing reached WeChat: {timeline:?}"
    );
    assert!(
        timeline
            .iter()
            .all(|e| !matches!(e.kind, PhoneEntryKind::Notice(_))),
        "the gateway answered every push in time: {timeline:?}"
    );
    console.close().await;
    phone.close().await;
    drop(gateway);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_chat_runs_between_the_phone_and_the_live_agent_console_through_the_gateway() {
    a_whole_chat_through_both_pages_and_the_gateway(DeskKind::LiveAgent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_chat_runs_between_the_phone_and_the_enhanced_chat_console_through_the_gateway() {
    a_whole_chat_through_both_pages_and_the_gateway(DeskKind::EnhancedChat).await;
}
