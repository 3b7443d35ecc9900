//! Hostile input against one running gateway (in-process, the same `App` the binary runs) with a
//! WeChat channel in safe mode and a Telegram bot, over loopback HTTP: forged and missing
//! signatures, tampered and foreign ciphertexts, XXE and entity bombs, oversized, truncated and
//! non-UTF-8 bodies, unknown kinds, replays, wrong methods, unknown channels and routes, and the
//! admin listener without its token. Each case's answer is checked (status, no secret, no panic
//! message), and what it stored (the webhook counters before and after; no chat request at the
//! desk from anything refused). Afterwards a new user on each channel still chats with an agent.
//!
//! The cases are one table, [`CASES`]; README.md's "Hostile input" table must be that table,
//! row for row, which the second test checks.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use support::desk::{Desk, DeskKind};
use support::{ADMIN_TOKEN, AES_KEY, APP_ID, APP_SECRET, PATIENCE, TOKEN, eventually, push_text};
use switchboard_engine::app::App;
use switchboard_engine::simulated;
use switchboard_sim::telegram::user::SECRET_HEADER;
use switchboard_sim::telegram::{BotSimConfig, TelegramBotSim};
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{Push, WeChatApiSim, WeChatUser, crypto};

const BOT_TOKEN: &str = "7000000002:AAE-hostile-input-test-token_01234";
const WEBHOOK_SECRET: &str = "hostile-input_secret";
/// Every secret the gateway holds: no answer may carry any of them.
const SECRETS: [(&str, &str); 6] = [
    ("the AppSecret", APP_SECRET),
    ("the Token", TOKEN),
    ("the EncodingAESKey", AES_KEY),
    ("the bot token", BOT_TOKEN),
    ("the webhook secret", WEBHOOK_SECRET),
    ("the admin token", ADMIN_TOKEN),
];
/// The listener's cap on a request body (`MAX_REQUEST_BODY`), and a body beyond it.
const LISTENER_LIMIT: usize = 1024 * 1024;
const OVER_LISTENER_LIMIT: usize = LISTENER_LIMIT + 64 * 1024;
/// The WeChat adapter's cap (`xml::DEFAULT_MAX_BODY`) and the Telegram adapter's.
const WECHAT_LIMIT: usize = 64 * 1024;
const TELEGRAM_LIMIT: usize = 256 * 1024;

/// Where a case is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    WeChat,
    Telegram,
    /// `/channels/{id}` for an id no channel has.
    Public,
    Admin,
}

impl On {
    fn label(self) -> &'static str {
        match self {
            Self::WeChat => "WeChat",
            Self::Telegram => "Telegram",
            Self::Public => "public listener",
            Self::Admin => "admin listener",
        }
    }
}

/// What a case leaves in the gateway, by the webhook counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Nothing: no event accepted, none counted as a repeat.
    No,
    /// One new event, stored once.
    Once,
    /// A repeat of a stored event: dropped as a duplicate.
    Repeat,
}

impl Stored {
    fn label(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Once => "yes, once",
            Self::Repeat => "no (stored the first time)",
        }
    }

    /// (events accepted, events dropped as repeats).
    fn counts(self) -> (u64, u64) {
        match self {
            Self::No => (0, 0),
            Self::Once => (1, 0),
            Self::Repeat => (0, 1),
        }
    }
}

#[derive(Debug)]
struct Case {
    id: &'static str,
    input: &'static str,
    on: On,
    answer: u16,
    stored: Stored,
}

const fn case(id: &'static str, on: On, input: &'static str, answer: u16, stored: Stored) -> Case {
    Case {
        id,
        input,
        on,
        answer,
        stored,
    }
}

use On::{Admin, Public, Telegram, WeChat};
use Stored::{No, Once, Repeat};

/// Every case, in README order.
static CASES: &[Case] = &[
    case(
        "wx-signature",
        WeChat,
        "push with a wrong `signature`",
        401,
        No,
    ),
    case(
        "wx-msg-signature",
        WeChat,
        "push with a wrong `msg_signature`",
        401,
        No,
    ),
    case(
        "wx-no-msg-signature",
        WeChat,
        "encrypted push without `msg_signature`",
        401,
        No,
    ),
    case(
        "wx-no-timestamp",
        WeChat,
        "push without `timestamp`",
        401,
        No,
    ),
    case("wx-no-nonce", WeChat, "push without `nonce`", 401, No),
    case(
        "wx-no-signature",
        WeChat,
        "push without `signature`",
        401,
        No,
    ),
    case(
        "wx-tampered",
        WeChat,
        "ciphertext with one byte flipped, `msg_signature` as sent",
        401,
        No,
    ),
    case(
        "wx-tampered-resigned",
        WeChat,
        "ciphertext with one byte flipped and signed again (a sender with the Token but not the key)",
        400,
        No,
    ),
    case(
        "wx-other-appid",
        WeChat,
        "ciphertext encrypted for another AppID, correctly signed",
        401,
        No,
    ),
    case(
        "wx-doctype-envelope",
        WeChat,
        "`<!DOCTYPE>` with an external entity (XXE) around a valid envelope",
        400,
        No,
    ),
    case(
        "wx-xxe",
        WeChat,
        "`<!DOCTYPE>` with an external entity (XXE) in the decrypted XML",
        400,
        No,
    ),
    case(
        "wx-billion-laughs",
        WeChat,
        "nested entity declarations (billion laughs) in the decrypted XML",
        400,
        No,
    ),
    case(
        "wx-undeclared-entity",
        WeChat,
        "an undeclared entity (`&xxe;`) in the decrypted XML",
        400,
        No,
    ),
    case(
        "wx-over-channel-limit",
        WeChat,
        "body over the channel's 64 KiB",
        413,
        No,
    ),
    case(
        "wx-over-listener-limit",
        WeChat,
        "body over the listener's 1 MiB",
        413,
        No,
    ),
    case(
        "wx-truncated-envelope",
        WeChat,
        "envelope XML cut short",
        400,
        No,
    ),
    case(
        "wx-truncated-xml",
        WeChat,
        "decrypted XML cut short",
        400,
        No,
    ),
    case(
        "wx-utf8-encrypted",
        WeChat,
        "invalid UTF-8 in the decrypted XML",
        400,
        No,
    ),
    case(
        "wx-utf8-plaintext",
        WeChat,
        "invalid UTF-8 in a plaintext push",
        401,
        No,
    ),
    case(
        "wx-plaintext-in-safe-mode",
        WeChat,
        "a plaintext push to a safe-mode account (`signature` right, no `encrypt_type`)",
        401,
        No,
    ),
    case(
        "wx-unknown-msgtype",
        WeChat,
        "unknown `MsgType` (kept, starts no chat)",
        200,
        Once,
    ),
    case(
        "wx-replay",
        WeChat,
        "the same push again (same `MsgId`, byte for byte)",
        200,
        Repeat,
    ),
    case(
        "wx-replay-rewrapped",
        WeChat,
        "the same `MsgId` encrypted again with a new timestamp and nonce",
        200,
        Repeat,
    ),
    case(
        "wx-verify-signature",
        WeChat,
        "`GET` URL verification with a wrong `signature`",
        401,
        No,
    ),
    case("wx-put", WeChat, "`PUT` with a valid signature", 405, No),
    case(
        "wx-delete",
        WeChat,
        "`DELETE` with a valid signature",
        405,
        No,
    ),
    case(
        "wx-put-unsigned",
        WeChat,
        "`PUT` without a signature",
        401,
        No,
    ),
    case("unknown-channel", Public, "`POST /channels/nope`", 404, No),
    case(
        "tg-no-secret",
        Telegram,
        "update without the secret header",
        401,
        No,
    ),
    case(
        "tg-wrong-secret",
        Telegram,
        "update with a wrong secret header",
        401,
        No,
    ),
    case(
        "tg-not-json",
        Telegram,
        "right secret, body not JSON",
        400,
        No,
    ),
    case("tg-array", Telegram, "right secret, JSON `[]`", 400, No),
    case(
        "tg-empty-object",
        Telegram,
        "right secret, JSON `{}` (no `update_id`)",
        400,
        No,
    ),
    case(
        "tg-over-channel-limit",
        Telegram,
        "body over the channel's 256 KiB",
        413,
        No,
    ),
    case(
        "tg-over-listener-limit",
        Telegram,
        "body over the listener's 1 MiB",
        413,
        No,
    ),
    case(
        "tg-utf8",
        Telegram,
        "invalid UTF-8 in an update's text",
        400,
        No,
    ),
    case(
        "tg-unknown-kind",
        Telegram,
        "an update kind the adapter does not model (`poll`)",
        200,
        No,
    ),
    case(
        "tg-replay",
        Telegram,
        "the same update again (same `update_id`, byte for byte)",
        200,
        Repeat,
    ),
    case(
        "tg-replay-other-text",
        Telegram,
        "the same `update_id` with another text",
        200,
        Repeat,
    ),
    case("tg-get", Telegram, "`GET` instead of `POST`", 405, No),
    case(
        "admin-no-token",
        Admin,
        "`GET /metrics` without a token",
        401,
        No,
    ),
    case(
        "admin-wrong-token",
        Admin,
        "`GET /metrics` with a wrong token",
        401,
        No,
    ),
    case(
        "admin-unknown-route",
        Admin,
        "right token, unknown route (`GET /admin/nope`)",
        404,
        No,
    ),
    case(
        "admin-wrong-method",
        Admin,
        "right token, `DELETE /metrics`",
        405,
        No,
    ),
];

fn find(id: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

/// The README row of a case.
fn row(case: &Case) -> String {
    let reason = StatusCode::from_u16(case.answer)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or_default();
    format!(
        "| {} | {} | `{}` {reason} | {} |",
        case.input,
        case.on.label(),
        case.answer,
        case.stored.label()
    )
}

/// One answer, whole.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// Sends one request on a fresh connection (a refused one may leave its connection unusable).
async fn send(
    method: Method,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Answer, String> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    *request.headers_mut() = headers.clone();
    let response = tokio::time::timeout(PATIENCE, client.request(request))
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{e:?}"))?
        .to_bytes();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).expect("header value"));
    }
    map
}

fn bearer(token: &str) -> HeaderMap {
    headers(&[(AUTHORIZATION.as_str(), &format!("Bearer {token}"))])
}

/// What WeChat sends a push with.
fn xml_headers() -> HeaderMap {
    headers(&[(CONTENT_TYPE.as_str(), "text/xml")])
}

/// What Telegram sends an update with, with this secret header (if any).
fn telegram_headers(secret: Option<&str>) -> HeaderMap {
    let mut map = headers(&[(CONTENT_TYPE.as_str(), "application/json")]);
    if let Some(secret) = secret {
        map.insert(SECRET_HEADER, HeaderValue::from_str(secret).unwrap());
    }
    map
}

/// `query` without the parameter `name`.
fn without(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter(|pair| pair.split('=').next() != Some(name))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `<Encrypt>` text of a safe-mode envelope.
fn encrypt_of(body: &[u8]) -> String {
    let body = std::str::from_utf8(body).expect("the envelope is UTF-8");
    body.split("<Encrypt><![CDATA[")
        .nth(1)
        .and_then(|rest| rest.split("]]>").next())
        .expect("an <Encrypt> element")
        .to_owned()
}

/// A safe-mode envelope carrying `encrypt`, with both signatures computed with the Token.
fn signed_envelope(encrypt: &str, openid: &str) -> Push {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let nonce = crypto::random_digits();
    let signature = crypto::signature(&[TOKEN, &timestamp, &nonce]);
    let msg_signature = crypto::signature(&[TOKEN, &timestamp, &nonce, encrypt]);
    Push {
        method: Method::POST,
        query: format!(
            "signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={openid}\
             &encrypt_type=aes&msg_signature={msg_signature}"
        ),
        body: Bytes::from(format!(
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName>\
             <Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )),
        inner_xml: String::new(),
    }
}

/// `inner` (any bytes, UTF-8 or not) encrypted under the account's key for `app_id`, signed.
fn sealed(inner: &[u8], app_id: &str, openid: &str) -> Push {
    let key = crypto::aes_key(AES_KEY).expect("the test key");
    let encrypt = crypto::encrypt(&key, crypto::random16(), inner, app_id);
    signed_envelope(&encrypt, openid)
}

/// A text push's XML from `openid` whose content is `content` verbatim (entities included).
fn text_xml(openid: &str, content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName>\
         <FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>1700000000</CreateTime>\
         <MsgType><![CDATA[text]]></MsgType><Content>{content}</Content>\
         <MsgId>{msg_id}</MsgId></xml>"
    )
}

/// A text push's XML whose content is not UTF-8 (`0xC3 0x28` is a broken two-byte sequence).
fn non_utf8_xml(openid: &str) -> Vec<u8> {
    let xml = text_xml(openid, "<![CDATA[BROKEN]]>", 43);
    let mut bytes = xml.into_bytes();
    let at = bytes
        .windows(6)
        .position(|w| w == b"BROKEN")
        .expect("the marker");
    bytes.splice(at..at + 6, [b'b', 0xC3, 0x28, 0xFF, 0xFE, b'n']);
    assert!(std::str::from_utf8(&bytes).is_err());
    bytes
}

/// The value of the counter `name` in a `/metrics` text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

/// The running gateway and the cases checked so far.
struct Rig {
    wechat_url: String,
    telegram_url: String,
    admin: String,
    checked: BTreeSet<&'static str>,
}

impl Rig {
    /// Webhook events accepted and dropped as repeats so far.
    async fn stored(&self) -> (u64, u64) {
        let answer = send(
            Method::GET,
            &format!("{}/metrics", self.admin),
            &bearer(ADMIN_TOKEN),
            Bytes::new(),
        )
        .await
        .expect("/metrics answers");
        assert_eq!(answer.status, 200);
        let text = String::from_utf8_lossy(&answer.body);
        (
            metric(&text, "switchboard_webhook_events_accepted_total"),
            metric(&text, "switchboard_webhook_events_duplicate_total"),
        )
    }

    /// Sends case `id`'s request and checks its answer and what it stored.
    async fn check(
        &mut self,
        id: &'static str,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: impl Into<Bytes>,
    ) {
        let case = find(id);
        let before = self.stored().await;
        let answer = send(method, url, &headers, body.into())
            .await
            .unwrap_or_else(|e| panic!("{id}: no answer ({e}): the gateway must answer, not drop"));
        let after = self.stored().await;
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        eprintln!(
            "{id:<24} {:<15} {} {text:?}",
            case.on.label(),
            answer.status
        );
        assert!(answer.status < 500, "{id}: a 5xx for bad input: {text}");
        assert_eq!(answer.status, case.answer, "{id} ({}): {text}", case.input);
        assert_clean(id, &answer);
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            case.stored.counts(),
            "{id}: (events accepted, repeats dropped)"
        );
        assert!(self.checked.insert(id), "{id} checked twice");
    }

    async fn wechat(&mut self, id: &'static str, push: &Push) {
        let url = format!("{}?{}", self.wechat_url, push.query);
        self.check(
            id,
            push.method.clone(),
            &url,
            xml_headers(),
            push.body.clone(),
        )
        .await;
    }

    async fn telegram(&mut self, id: &'static str, secret: Option<&str>, body: impl Into<Bytes>) {
        let url = self.telegram_url.clone();
        self.check(id, Method::POST, &url, telegram_headers(secret), body)
            .await;
    }

    /// Sends a first delivery (not a hostile case): it must be answered 200 and stored.
    async fn deliver(&self, url: &str, headers: HeaderMap, body: Bytes) {
        let before = self.stored().await;
        let answer = send(Method::POST, url, &headers, body)
            .await
            .expect("answered");
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(
            self.stored().await.0,
            before.0 + 1,
            "the first delivery is stored"
        );
    }

    /// The conversations the gateway holds, by id.
    async fn conversations(&self) -> Vec<String> {
        let answer = send(
            Method::GET,
            &format!("{}/admin/conversations", self.admin),
            &bearer(ADMIN_TOKEN),
            Bytes::new(),
        )
        .await
        .expect("conversations answer");
        let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
        json["conversations"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// No secret and no panic message anywhere in the answer, headers included.
fn assert_clean(id: &str, answer: &Answer) {
    let mut text = String::from_utf8_lossy(&answer.body).into_owned();
    for (name, value) in &answer.headers {
        text.push_str(&format!(
            "\n{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    for (what, secret) in SECRETS {
        assert!(
            !text.contains(secret),
            "{id}: the answer carries {what}: {text}"
        );
    }
    for panic in [
        "panicked",
        "RUST_BACKTRACE",
        "called `Option::unwrap()`",
        "called `Result::unwrap()`",
    ] {
        assert!(
            !text.contains(panic),
            "{id}: the answer carries a panic message: {text}"
        );
    }
    assert!(
        !text.contains("root:"),
        "{id}: the answer carries a local file: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_hostile_input_gets_its_answer_stores_nothing_it_should_not_and_chats_go_on()
{
    let desk = Desk::start(DeskKind::LiveAgent).await;
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .expect("WeChat simulator");
    let telegram = TelegramBotSim::start(BotSimConfig::new(BOT_TOKEN))
        .await
        .expect("Telegram simulator");
    let dir = tempfile::tempdir().unwrap();
    let text = desk
        .simulated(&wechat, dir.path().join("data"))
        .with_telegram(telegram.base_url())
        .toml();
    let config = switchboard_engine::config::Config::parse(&text, "hostile input").unwrap();
    let mut secrets = simulated::secrets(ADMIN_TOKEN, APP_SECRET, TOKEN, AES_KEY);
    secrets.extend(simulated::telegram_secrets(BOT_TOKEN, WEBHOOK_SECRET));
    let app = App::start(&config, &secrets)
        .await
        .expect("the gateway starts");
    let public = format!("http://{}", app.public_addr());
    let mut rig = Rig {
        wechat_url: format!("{public}/channels/wechat"),
        telegram_url: format!("{public}/channels/telegram"),
        admin: format!("http://{}", app.admin_addr()),
        checked: BTreeSet::new(),
    };
    telegram.set_webhook(&rig.telegram_url, Some(WEBHOOK_SECRET));
    let wechat_user =
        |openid: &str| WeChatUser::new(support::account(), openid, Some(wechat.handle()));

    // WeChat: forged, missing and tampered signatures.
    let mallory = wechat_user("oMallory");
    let bad = "0".repeat(40);
    rig.wechat(
        "wx-signature",
        &mallory.text("hi").with_query_param("signature", &bad),
    )
    .await;
    rig.wechat(
        "wx-msg-signature",
        &mallory.text("hi").with_query_param("msg_signature", &bad),
    )
    .await;
    for (id, name) in [
        ("wx-no-msg-signature", "msg_signature"),
        ("wx-no-timestamp", "timestamp"),
        ("wx-no-nonce", "nonce"),
        ("wx-no-signature", "signature"),
    ] {
        let push = mallory.text("hi");
        let push = Push {
            query: without(&push.query, name),
            ..push
        };
        rig.wechat(id, &push).await;
    }
    // Flipping the top bit of the first ciphertext byte flips the top bit of the decrypted
    // length field (CBC: the next block's plaintext is XORed with this ciphertext block).
    let genuine = mallory.text("tampered");
    let mut ciphertext = STANDARD.decode(encrypt_of(&genuine.body)).unwrap();
    ciphertext[0] ^= 0x80;
    let tampered = STANDARD.encode(&ciphertext);
    let as_sent = Push {
        body: Bytes::from(
            String::from_utf8(genuine.body.to_vec())
                .unwrap()
                .replace(&encrypt_of(&genuine.body), &tampered),
        ),
        ..genuine.clone()
    };
    rig.wechat("wx-tampered", &as_sent).await;
    rig.wechat(
        "wx-tampered-resigned",
        &signed_envelope(&tampered, "oMallory"),
    )
    .await;
    rig.wechat(
        "wx-other-appid",
        &sealed(
            genuine.inner_xml.as_bytes(),
            "wx0000000000000000",
            "oMallory",
        ),
    )
    .await;

    // WeChat: entities, size, truncation, encoding.
    let xxe = "<!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>";
    let mut around = xxe.as_bytes().to_vec();
    around.extend_from_slice(&genuine.body);
    rig.wechat(
        "wx-doctype-envelope",
        &Push {
            body: around.into(),
            ..genuine.clone()
        },
    )
    .await;
    rig.wechat(
        "wx-xxe",
        &mallory.push(&format!(
            "<?xml version=\"1.0\"?>{xxe}{}",
            text_xml("oMallory", "&xxe;", 40)
        )),
    )
    .await;
    let mut laughs = String::from("<!DOCTYPE xml [<!ENTITY lol0 \"lol\">");
    for i in 1..10 {
        let prev = format!("&lol{};", i - 1).repeat(10);
        laughs.push_str(&format!("<!ENTITY lol{i} \"{prev}\">"));
    }
    laughs.push_str("]>");
    laughs.push_str(&text_xml("oMallory", "&lol9;", 41));
    rig.wechat("wx-billion-laughs", &mallory.push(&laughs))
        .await;
    rig.wechat(
        "wx-undeclared-entity",
        &mallory.push(&text_xml("oMallory", "&xxe;", 42)),
    )
    .await;
    let big = mallory.text(&"x".repeat(WECHAT_LIMIT));
    assert!(big.body.len() > WECHAT_LIMIT && big.body.len() < LISTENER_LIMIT);
    rig.wechat("wx-over-channel-limit", &big).await;
    rig.wechat(
        "wx-over-listener-limit",
        &Push {
            body: Bytes::from(vec![b'x'; OVER_LISTENER_LIMIT]),
            ..mallory.text("huge")
        },
    )
    .await;
    let whole = mallory.text("cut short");
    rig.wechat(
        "wx-truncated-envelope",
        &Push {
            body: whole.body.slice(..whole.body.len() / 2),
            ..whole.clone()
        },
    )
    .await;
    rig.wechat(
        "wx-truncated-xml",
        &mallory.push(&whole.inner_xml[..whole.inner_xml.len() - 8]),
    )
    .await;
    rig.wechat(
        "wx-utf8-encrypted",
        &sealed(&non_utf8_xml("oMallory"), APP_ID, "oMallory"),
    )
    .await;
    let plaintext_query = without(&without(&whole.query, "encrypt_type"), "msg_signature");
    rig.wechat(
        "wx-utf8-plaintext",
        &Push {
            query: plaintext_query.clone(),
            body: non_utf8_xml("oMallory").into(),
            ..whole.clone()
        },
    )
    .await;
    // Anyone who once saw a push's query string could otherwise post any XML as any user: the
    // plain `signature` does not cover the body.
    rig.wechat(
        "wx-plaintext-in-safe-mode",
        &Push {
            query: plaintext_query,
            body: text_xml("oVictim", "<![CDATA[forged]]>", 44).into(),
            ..whole.clone()
        },
    )
    .await;

    // WeChat: a type from the future is kept; verification and methods; no such channel.
    let curious = wechat_user("oCurious");
    rig.wechat("wx-unknown-msgtype", &curious.unknown("hologram"))
        .await;
    rig.wechat(
        "wx-verify-signature",
        &mallory
            .verification("echo-me")
            .with_query_param("signature", &bad),
    )
    .await;
    for (id, method) in [("wx-put", Method::PUT), ("wx-delete", Method::DELETE)] {
        rig.wechat(
            id,
            &Push {
                method,
                ..mallory.text("wrong method")
            },
        )
        .await;
    }
    let unsigned = mallory.text("wrong method, no signature");
    let unsigned = Push {
        method: Method::PUT,
        query: without(&unsigned.query, "signature"),
        ..unsigned
    };
    rig.wechat("wx-put-unsigned", &unsigned).await;
    let stray = mallory.text("nowhere");
    rig.check(
        "unknown-channel",
        Method::POST,
        &format!("{public}/channels/nope?{}", stray.query),
        xml_headers(),
        stray.body.clone(),
    )
    .await;

    // Telegram.
    let trudy = telegram.user(5_200_000_001, "Trudy");
    let update = trudy.text("no secret");
    rig.telegram("tg-no-secret", None, update.body.clone())
        .await;
    rig.telegram(
        "tg-wrong-secret",
        Some("wrong-secret_0"),
        update.body.clone(),
    )
    .await;
    rig.telegram("tg-not-json", Some(WEBHOOK_SECRET), "this is not JSON")
        .await;
    rig.telegram("tg-array", Some(WEBHOOK_SECRET), "[]").await;
    rig.telegram("tg-empty-object", Some(WEBHOOK_SECRET), "{}")
        .await;
    let big = trudy.text(&"x".repeat(TELEGRAM_LIMIT));
    assert!(big.body.len() > TELEGRAM_LIMIT && big.body.len() < LISTENER_LIMIT);
    rig.telegram("tg-over-channel-limit", Some(WEBHOOK_SECRET), big.body)
        .await;
    let huge = trudy.text(&"x".repeat(OVER_LISTENER_LIMIT));
    rig.telegram("tg-over-listener-limit", Some(WEBHOOK_SECRET), huge.body)
        .await;
    let mut broken = trudy.text("BROKEN").body.to_vec();
    let at = broken.windows(6).position(|w| w == b"BROKEN").unwrap();
    broken.splice(at..at + 6, [b'b', 0xC3, 0x28, 0xFF, 0xFE, b'n']);
    rig.telegram("tg-utf8", Some(WEBHOOK_SECRET), broken).await;
    rig.telegram("tg-unknown-kind", Some(WEBHOOK_SECRET), trudy.poll().body)
        .await;
    let url = rig.telegram_url.clone();
    rig.check(
        "tg-get",
        Method::GET,
        &url,
        telegram_headers(Some(WEBHOOK_SECRET)),
        Bytes::new(),
    )
    .await;

    // The admin listener.
    let metrics = format!("{}/metrics", rig.admin);
    rig.check(
        "admin-no-token",
        Method::GET,
        &metrics,
        HeaderMap::new(),
        Bytes::new(),
    )
    .await;
    rig.check(
        "admin-wrong-token",
        Method::GET,
        &metrics,
        bearer("wrong"),
        Bytes::new(),
    )
    .await;
    let nope = format!("{}/admin/nope", rig.admin);
    rig.check(
        "admin-unknown-route",
        Method::GET,
        &nope,
        bearer(ADMIN_TOKEN),
        Bytes::new(),
    )
    .await;
    rig.check(
        "admin-wrong-method",
        Method::DELETE,
        &metrics,
        bearer(ADMIN_TOKEN),
        Bytes::new(),
    )
    .await;

    // Nothing refused reached the desk or opened a conversation; the unknown type was kept
    // in its user's conversation without starting a chat.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        desk.chat_requests(),
        0,
        "no chat request from hostile input"
    );
    assert!(desk.live_agent.control().sessions().is_empty());
    assert_eq!(rig.conversations().await, ["wechat:oCurious"]);

    // Replays: answered 200 every time, stored once, seen by the agent once.
    let replayer = wechat_user("oReplay");
    let first = replayer.text("wechat once");
    rig.deliver(
        &format!("{}?{}", rig.wechat_url, first.query),
        xml_headers(),
        first.body.clone(),
    )
    .await;
    rig.wechat("wx-replay", &first).await;
    rig.wechat("wx-replay-rewrapped", &replayer.rewrap(&first))
        .await;
    let tg_replayer = telegram.user(5_200_000_002, "Replay");
    let update = tg_replayer.text("telegram once");
    let post = tg_replayer.webhook_post(&update);
    rig.deliver(&rig.telegram_url, post.headers.clone(), post.body.clone())
        .await;
    rig.telegram("tg-replay", Some(WEBHOOK_SECRET), post.body.clone())
        .await;
    let mut other_text = update.json();
    other_text["message"]["text"] = serde_json::json!("a second text under the same update_id");
    rig.telegram(
        "tg-replay-other-text",
        Some(WEBHOOK_SECRET),
        serde_json::to_vec(&other_text).unwrap(),
    )
    .await;
    desk.accept_all(2).await;
    let replay_ids = [
        (replayer.openid().to_owned(), "wechat once"),
        (tg_replayer.chat_id().to_string(), "telegram once"),
    ];
    for (id, _) in &replay_ids {
        let chat = desk.chat_of(id);
        eventually("the replayed text at the agent", || {
            (!desk.visitor_texts(&chat).is_empty()).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    for (id, text) in &replay_ids {
        assert_eq!(
            desk.visitor_texts(&desk.chat_of(id)),
            [*text],
            "{id}: the agent sees the text once, and never the replay's other text"
        );
    }

    // After all of it, a new user on each channel chats as usual.
    let normal = wechat_user("oNormal");
    push_text(&normal, &rig.wechat_url, "hello after the storm").await;
    let tg_normal = telegram.user(5_200_000_003, "Normal");
    let sent = tokio::time::timeout(PATIENCE, tg_normal.send_text("hello after the storm"))
        .await
        .expect("delivered in time");
    assert!(sent.is_ok(), "{sent:?}");
    desk.accept_all(2).await;
    for id in [normal.openid().to_owned(), tg_normal.chat_id().to_string()] {
        let chat = desk.chat_of(&id);
        eventually("the new user's text at the agent", || {
            desk.visitor_texts(&chat)
                .contains(&"hello after the storm".to_owned())
                .then_some(())
        })
        .await;
        desk.send_text(&chat, &format!("welcome, {id}"));
    }
    eventually("the agent's reply on the WeChat user's phone", || {
        support::received_lines(&wechat, "oNormal")
            .contains(&"welcome, oNormal".to_owned())
            .then_some(())
    })
    .await;
    let tg_expected = format!("welcome, {}", tg_normal.chat_id());
    eventually("the agent's reply in the Telegram chat", || {
        telegram
            .sent_texts(tg_normal.chat_id())
            .iter()
            .any(|t| t.lines().any(|l| l == tg_expected))
            .then_some(())
    })
    .await;

    // Four chats in all, none from hostile input; nothing was sent to the attackers.
    assert_eq!(desk.chat_requests(), 4);
    assert!(wechat.sent_texts("oMallory").is_empty());
    assert!(wechat.sent_texts("oCurious").is_empty());
    assert!(telegram.sent_texts(trudy.chat_id()).is_empty());
    let all: BTreeSet<&str> = CASES.iter().map(|c| c.id).collect();
    assert_eq!(rig.checked, all, "every case was sent");
    eprintln!("{} hostile inputs answered as designed", CASES.len());
    app.shutdown().await.unwrap();
}

#[test]
fn the_readme_hostile_input_table_is_the_table_this_test_asserts() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split("\n### Hostile input\n")
        .nth(1)
        .expect("a \"### Hostile input\" section in README.md");
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    let expected: Vec<String> = CASES.iter().map(row).collect();
    assert_eq!(
        rows,
        expected,
        "README.md's Hostile input table must list these rows:\n{}",
        expected.join("\n")
    );
}
