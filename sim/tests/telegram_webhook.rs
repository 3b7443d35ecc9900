//! The simulated Telegram server pushes updates to the bot's webhook as Telegram does: JSON,
//! the secret header, the same update again after a failure, one chat's updates in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::Full;
use serde_json::{Value, json};
use switchboard_sim::telegram::{
    BotSimConfig, PushError, SECRET_HEADER, TelegramBotSim, TelegramUser,
};
use switchboard_sim::wechat::http::Server;

const SECRET: &str = "hook-Secret_42";

/// One request the test webhook received.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook that answers each request with the status `answer(n)` gives for the n-th (from
/// 0), after an optional pause, and records everything.
struct Hook {
    server: Server,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Hook {
    async fn start(
        answer: impl Fn(usize, &Value) -> (u16, Duration) + Send + Sync + 'static,
    ) -> Hook {
        let received = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let sink = received.clone();
        let server = Server::start(move |req| {
            let sink = sink.clone();
            let count = count.clone();
            let answer = answer.clone();
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                sink.lock().unwrap().push(Received {
                    headers: req.parts.headers.clone(),
                    body: req.body.clone(),
                });
                let (status, pause) = answer(n, &body);
                tokio::time::sleep(pause).await;
                Response::builder()
                    .status(status)
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            }
        })
        .await
        .unwrap();
        Hook { server, received }
    }

    fn url(&self) -> String {
        format!("http://{}/channels/telegram", self.server.addr())
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn quick() -> BotSimConfig {
    BotSimConfig::default().with_webhook_retries(3, Duration::from_millis(20))
}

async fn rig(
    config: BotSimConfig,
    hook: &Hook,
    secret: Option<&str>,
) -> (TelegramBotSim, TelegramUser) {
    let sim = TelegramBotSim::start(config).await.unwrap();
    sim.set_webhook(&hook.url(), secret);
    let user = sim.user(5_550_001, "Ann");
    (sim, user)
}

#[tokio::test]
async fn a_delivery_is_json_with_the_secret_header() {
    let hook = Hook::start(|_, _| (200, Duration::ZERO)).await;
    let (_sim, user) = rig(quick(), &hook, Some(SECRET)).await;
    let delivery = user.send_text("hello").await.unwrap();
    assert_eq!(delivery.attempts.len(), 1);
    let got = hook.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers[SECRET_HEADER], SECRET);
    assert_eq!(
        got[0].headers[http::header::CONTENT_TYPE],
        "application/json"
    );
    let update = got[0].json();
    assert_eq!(update["update_id"], delivery.update_id);
    assert_eq!(update["message"]["text"], "hello");
    assert_eq!(update["message"]["chat"]["id"], 5_550_001);
    assert_eq!(update["message"]["from"]["first_name"], "Ann");
}

#[tokio::test]
async fn without_a_secret_no_secret_header_is_sent() {
    let hook = Hook::start(|_, _| (200, Duration::ZERO)).await;
    let (_sim, user) = rig(quick(), &hook, None).await;
    user.send_text("hi").await.unwrap();
    assert!(hook.received()[0].headers.get(SECRET_HEADER).is_none());
}

#[tokio::test]
async fn a_non_2xx_answer_is_retried_with_the_same_update_id_and_body() {
    let hook = Hook::start(|n, _| (if n == 0 { 500 } else { 200 }, Duration::ZERO)).await;
    let (sim, user) = rig(quick(), &hook, Some(SECRET)).await;
    let delivery = user.send_text("again please").await.unwrap();
    let statuses: Vec<Option<u16>> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(200)]);
    let got = hook.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "byte for byte the same update");
    assert_eq!(got[1].json()["update_id"], delivery.update_id);
    let info = sim.webhook_info();
    assert_eq!(
        info.last_error_message.as_deref(),
        Some("Wrong response from the webhook: 500 Internal Server Error")
    );
    assert!(info.last_error_date.is_some());
    assert_eq!(info.pending_update_count, 0);
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_is_given_up_after_the_last_retry() {
    let hook = Hook::start(|_, _| (502, Duration::ZERO)).await;
    let (sim, user) = rig(quick(), &hook, Some(SECRET)).await;
    let Err(PushError::GaveUp(delivery)) = user.send_text("lost").await else {
        panic!("expected a give-up");
    };
    assert_eq!(
        delivery.attempts.len(),
        4,
        "the first attempt and three retries"
    );
    assert_eq!(hook.received().len(), 4);
    assert_eq!(sim.attempts().len(), 4);
}

#[tokio::test]
async fn an_unreachable_webhook_is_reported_in_webhook_info() {
    let sim = TelegramBotSim::start(quick()).await.unwrap();
    // A port nobody listens on: bind one, then free it.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    sim.set_webhook(&format!("http://{addr}/hook"), Some(SECRET));
    let user = sim.user(1, "Ann");
    let Err(PushError::GaveUp(delivery)) = user.send_text("anyone?").await else {
        panic!("expected a give-up");
    };
    assert!(delivery.attempts.iter().all(|a| a.status.is_none()));
    let message = sim.webhook_info().last_error_message.unwrap();
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[tokio::test]
async fn a_webhook_slower_than_the_timeout_counts_as_unanswered() {
    let hook = Hook::start(|n, _| {
        let pause = if n == 0 {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        };
        (200, pause)
    })
    .await;
    let mut config = quick();
    config.webhook_timeout = Duration::from_millis(200);
    let (sim, user) = rig(config, &hook, None).await;
    let delivery = user.send_text("slow").await.unwrap();
    assert_eq!(delivery.attempts.len(), 2);
    assert_eq!(
        delivery.attempts[0].error.as_deref(),
        Some("Read timeout expired")
    );
    assert_eq!(
        sim.webhook_info().last_error_message.as_deref(),
        Some("Read timeout expired")
    );
}

#[tokio::test]
async fn a_chats_next_update_waits_until_the_previous_one_is_acknowledged() {
    // The first delivery of "first" fails; "second" must not overtake its retry.
    let hook = Hook::start(|n, _| (if n == 0 { 503 } else { 200 }, Duration::ZERO)).await;
    let config = BotSimConfig::default().with_webhook_retries(2, Duration::from_millis(150));
    let (_sim, user) = rig(config, &hook, None).await;
    let (a, b) = tokio::join!(user.send_text("first"), user.send_text("second"));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(b.update_id > a.update_id);
    let texts: Vec<String> = hook
        .received()
        .iter()
        .map(|r| r.json()["message"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["first", "first", "second"]);
}

#[tokio::test]
async fn other_chats_are_not_held_up_by_a_failing_chat() {
    let hook = Hook::start(|_, body| {
        let failing = body["message"]["chat"]["id"] == 1;
        (if failing { 500 } else { 200 }, Duration::ZERO)
    })
    .await;
    let config = BotSimConfig::default().with_webhook_retries(2, Duration::from_millis(300));
    let (sim, _) = rig(config, &hook, None).await;
    let (stuck, free) = (sim.user(1, "A"), sim.user(2, "B"));
    let started = std::time::Instant::now();
    let (s, f) = tokio::join!(stuck.send_text("x"), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let r = free.send_text("y").await;
        (r, started.elapsed())
    });
    assert!(matches!(s, Err(PushError::GaveUp(_))));
    assert!(f.0.is_ok());
    assert!(f.1 < Duration::from_millis(300), "{:?}", f.1);
}

#[tokio::test]
async fn update_ids_increase_across_chats_and_message_ids_per_chat() {
    let hook = Hook::start(|_, _| (200, Duration::ZERO)).await;
    let (sim, ann) = rig(quick(), &hook, None).await;
    let bo = sim.user(2, "Bo");
    let a1 = ann.text("a1").json();
    let b1 = bo.text("b1").json();
    let a2 = ann.text("a2").json();
    let ids: Vec<i64> = [&a1, &b1, &a2]
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect();
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    assert_eq!(a1["message"]["message_id"], 1);
    assert_eq!(b1["message"]["message_id"], 1);
    assert_eq!(a2["message"]["message_id"], 2);
}

#[tokio::test]
async fn blocking_the_bot_pushes_my_chat_member_kicked_and_sends_become_403() {
    let hook = Hook::start(|_, _| (200, Duration::ZERO)).await;
    let (sim, user) = rig(quick(), &hook, Some(SECRET)).await;
    user.block().await.unwrap();
    let update = hook.received()[0].json();
    let member = &update["my_chat_member"];
    assert_eq!(member["chat"]["id"], user.chat_id());
    assert_eq!(member["old_chat_member"]["status"], "member");
    assert_eq!(member["new_chat_member"]["status"], "kicked");
    assert_eq!(member["new_chat_member"]["user"]["is_bot"], true);
    let answer = switchboard_sim::wechat::http::send(
        http::Method::POST,
        &sim.method_url("sendMessage"),
        Some("application/json"),
        Bytes::from(json!({"chat_id": user.chat_id(), "text": "still there?"}).to_string()),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 403);
    user.unblock().await.unwrap();
    assert_eq!(
        hook.received()[1].json()["my_chat_member"]["new_chat_member"]["status"],
        "member"
    );
}

#[tokio::test]
async fn every_kind_of_update_has_the_fields_telegram_sends() {
    let hook = Hook::start(|_, _| (200, Duration::ZERO)).await;
    let (sim, user) = rig(quick(), &hook, None).await;
    let photo_id = sim.add_file(Bytes::from_static(b"jpeg"), "image/jpeg");
    let photo = user.photo(&photo_id).json();
    let sizes = photo["message"]["photo"].as_array().unwrap().clone();
    assert_eq!(sizes.len(), 2);
    assert_eq!(
        sizes[1]["file_id"],
        photo_id.as_str(),
        "the full size comes last"
    );
    assert_ne!(sizes[0]["file_id"], photo_id.as_str());
    assert_eq!(sizes[1]["file_size"], 4);
    let start = user.start(Some("promo-9")).json();
    assert_eq!(start["message"]["text"], "/start promo-9");
    assert_eq!(start["message"]["entities"][0]["type"], "bot_command");
    let doc = user
        .document("BQACdoc", "invoice.pdf", "application/pdf")
        .json();
    assert_eq!(doc["message"]["document"]["file_name"], "invoice.pdf");
    assert_eq!(
        user.voice("AwACvoice", 3).json()["message"]["voice"]["duration"],
        3
    );
    assert_eq!(
        user.location(31.23, 121.47).json()["message"]["location"]["latitude"],
        31.23
    );
    assert_eq!(
        user.contact("+8613800000000", "Li").json()["message"]["contact"]["phone_number"],
        "+8613800000000"
    );
    assert_eq!(
        user.sticker("👍").json()["message"]["sticker"]["emoji"],
        "👍"
    );
    let edit = user.edit(1, "fixed").json();
    assert_eq!(edit["edited_message"]["message_id"], 1);
    assert_eq!(edit["edited_message"]["text"], "fixed");
    assert!(edit["edited_message"]["edit_date"].is_u64());
    let future = user.unmodelled("giveaway");
    assert!(future.json()["message"]["giveaway"].is_object());
    let poll = user.poll();
    assert_eq!((poll.chat_id, poll.kind.as_str()), (None, "poll"));
    assert!(poll.json()["poll"]["question"].is_string());
}

#[tokio::test]
async fn the_webhook_post_builder_matches_what_is_delivered() {
    let hook = Hook::start(|_, _| (200, Duration::ZERO)).await;
    let (_sim, user) = rig(quick(), &hook, Some(SECRET)).await;
    let update = user.text("built");
    let post = user.webhook_post(&update);
    assert_eq!(post.headers[SECRET_HEADER], SECRET);
    user.push(update).await.unwrap();
    assert_eq!(hook.received()[0].body, post.body);
}

#[tokio::test]
async fn without_a_webhook_nothing_is_pushed() {
    let sim = TelegramBotSim::start(quick()).await.unwrap();
    let user = sim.user(1, "Ann");
    assert!(matches!(
        user.send_text("hi").await,
        Err(PushError::NoWebhook { .. })
    ));
}

#[tokio::test]
async fn allowed_updates_filters_what_the_webhook_receives() {
    let hook = Hook::start(|_, _| (200, Duration::ZERO)).await;
    let sim = TelegramBotSim::start(quick()).await.unwrap();
    let set = switchboard_sim::wechat::http::send(
        http::Method::POST,
        &sim.method_url("setWebhook"),
        Some("application/json"),
        Bytes::from(json!({"url": hook.url(), "allowed_updates": ["message"]}).to_string()),
    )
    .await
    .unwrap();
    assert_eq!(set.status, 200);
    let user = sim.user(1, "Ann");
    assert!(matches!(
        user.block().await,
        Err(PushError::Filtered { .. })
    ));
    user.send_text("kept").await.unwrap();
    assert_eq!(hook.received().len(), 1);
    assert_eq!(
        sim.webhook_info().allowed_updates,
        Some(vec!["message".to_owned()])
    );
}
