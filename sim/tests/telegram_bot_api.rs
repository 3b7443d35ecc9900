//! The Telegram Bot API simulator refuses what Telegram refuses, over real loopback HTTP.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use switchboard_sim::telegram::{BotMethod, BotSimConfig, Injected, SentKind, TelegramBotSim};
use switchboard_sim::wechat::http::{Answer, send};

const TOKEN: &str = "7012345678:AAH-test_token-0123456789abcdef";
const CHAT: i64 = 424_242;

async fn sim_with(config: BotSimConfig) -> TelegramBotSim {
    TelegramBotSim::start(config).await.unwrap()
}

/// A simulator without rate limits, with one registered chat.
async fn sim() -> TelegramBotSim {
    let sim = sim_with(BotSimConfig::new(TOKEN).without_rate_limits()).await;
    sim.user(CHAT, "Ann");
    sim
}

fn parse(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.body).unwrap()
}

/// POSTs JSON `body` to `method`; returns the HTTP status and the answer's JSON.
async fn call(sim: &TelegramBotSim, method: &str, body: Value) -> (u16, Value) {
    let answer = send(
        Method::POST,
        &sim.method_url(method),
        Some("application/json"),
        Bytes::from(body.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json"),
        "every answer is JSON"
    );
    (answer.status, parse(&answer))
}

fn assert_error(answer: &(u16, Value), code: u16, description: &str) {
    assert_eq!(answer.0, code, "{}", answer.1);
    assert_eq!(answer.1["ok"], false);
    assert_eq!(answer.1["error_code"], code);
    assert_eq!(answer.1["description"], description);
}

fn text(chat_id: impl Into<Value>, text: &str) -> Value {
    json!({"chat_id": chat_id.into(), "text": text})
}

#[tokio::test]
async fn a_wrong_or_malformed_token_is_401() {
    let sim = sim().await;
    let url = |token: &str| format!("{}/bot{token}/getMe", sim.base_url());
    let other = send(Method::GET, &url("7012345678:AAother"), None, Bytes::new())
        .await
        .unwrap();
    assert_eq!(other.status, 401);
    assert_eq!(
        parse(&other),
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );
    for malformed in ["nocolon", "0123:abc", "12a:abc", ":abc"] {
        let answer = send(Method::GET, &url(malformed), None, Bytes::new())
            .await
            .unwrap();
        assert_eq!(answer.status, 401, "{malformed}");
        assert_eq!(
            parse(&answer)["description"],
            "Unauthorized: invalid token specified"
        );
    }
    assert_eq!(sim.call_count(BotMethod::GetMe), 0);
}

#[tokio::test]
async fn an_unknown_method_is_404_and_method_names_ignore_case() {
    let sim = sim().await;
    assert_error(
        &call(&sim, "sendHologram", json!({})).await,
        404,
        "Not Found",
    );
    let stray = send(
        Method::GET,
        &format!("{}/nothing", sim.base_url()),
        None,
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(stray.status, 404);
    let (status, body) = call(&sim, "SENDMESSAGE", text(CHAT, "hi")).await;
    assert_eq!((status, &body["ok"]), (200, &json!(true)));
}

#[tokio::test]
async fn get_me_describes_the_bot() {
    let sim = sim().await;
    let (status, body) = call(&sim, "getMe", json!({})).await;
    assert_eq!(status, 200);
    let me = &body["result"];
    assert_eq!(me["id"], 7_012_345_678_i64);
    assert_eq!(me["is_bot"], true);
    assert_eq!(me["username"], sim.config().bot_username);
}

#[tokio::test]
async fn send_message_answers_a_message_with_ids_increasing_per_chat() {
    let sim = sim().await;
    sim.user(7, "Bo");
    let (status, first) = call(&sim, "sendMessage", text(CHAT.to_string(), "hello")).await;
    assert_eq!(status, 200);
    let m = &first["result"];
    assert_eq!(
        m["chat"],
        json!({"id": CHAT, "first_name": "Ann", "type": "private"})
    );
    assert_eq!(m["text"], "hello");
    assert_eq!(m["from"]["is_bot"], true);
    assert!(m["date"].as_u64().unwrap() > 1_700_000_000);
    let (_, second) = call(&sim, "sendMessage", text(CHAT, "again")).await;
    let (_, other) = call(&sim, "sendMessage", text(7, "elsewhere")).await;
    let id = |v: &Value| v["result"]["message_id"].as_i64().unwrap();
    assert_eq!(id(&second), id(&first) + 1);
    assert_eq!(id(&other), 1);
    assert_eq!(sim.sent_texts(CHAT), ["hello", "again"]);
    assert_eq!(sim.sent(7)[0].kind, SentKind::Text("elsewhere".into()));
}

#[tokio::test]
async fn text_is_limited_to_4096_utf16_units_and_may_not_be_empty() {
    let sim = sim().await;
    // 😀 is two UTF-16 units.
    let fits = "😀".repeat(2048);
    assert_eq!(call(&sim, "sendMessage", text(CHAT, &fits)).await.0, 200);
    let over = format!("{fits}a");
    assert_error(
        &call(&sim, "sendMessage", text(CHAT, &over)).await,
        400,
        "Bad Request: message is too long",
    );
    for empty in [
        json!({"chat_id": CHAT}),
        text(CHAT, ""),
        text(CHAT, " \n\t "),
    ] {
        assert_error(
            &call(&sim, "sendMessage", empty).await,
            400,
            "Bad Request: message text is empty",
        );
    }
    // Telegram trims what it shows.
    call(&sim, "sendMessage", text(CHAT, "  padded \n")).await;
    assert_eq!(sim.sent_texts(CHAT).last().unwrap(), "padded");
}

#[tokio::test]
async fn an_unknown_or_missing_chat_is_refused() {
    let sim = sim().await;
    for chat in [json!(999), json!("999"), json!("@someone"), json!("abc")] {
        assert_error(
            &call(&sim, "sendMessage", text(chat, "hi")).await,
            400,
            "Bad Request: chat not found",
        );
    }
    assert_error(
        &call(&sim, "sendMessage", json!({"text": "hi"})).await,
        400,
        "Bad Request: chat_id is empty",
    );
    // The text is checked before the chat, as on Telegram.
    assert_error(
        &call(&sim, "sendMessage", json!({"chat_id": 999})).await,
        400,
        "Bad Request: message text is empty",
    );
}

#[tokio::test]
async fn a_chat_that_blocked_the_bot_is_403_until_unblocked() {
    let sim = sim().await;
    sim.block(CHAT);
    assert_error(
        &call(&sim, "sendMessage", text(CHAT, "hi")).await,
        403,
        "Forbidden: bot was blocked by the user",
    );
    assert_error(
        &call(
            &sim,
            "sendChatAction",
            json!({"chat_id": CHAT, "action": "typing"}),
        )
        .await,
        403,
        "Forbidden: bot was blocked by the user",
    );
    sim.unblock(CHAT);
    assert_eq!(call(&sim, "sendMessage", text(CHAT, "hi")).await.0, 200);
    assert_eq!(sim.sent_texts(CHAT), ["hi"]);
}

#[tokio::test]
async fn a_second_message_within_a_second_is_429_with_retry_after() {
    let mut config = BotSimConfig::new(TOKEN);
    config.per_chat_burst = 1;
    config.per_chat_interval = Duration::from_secs(1);
    let sim = sim_with(config).await;
    sim.user(CHAT, "Ann");
    assert_eq!(call(&sim, "sendMessage", text(CHAT, "one")).await.0, 200);
    let answer = send(
        Method::POST,
        &sim.method_url("sendMessage"),
        Some("application/json"),
        Bytes::from(text(CHAT, "two").to_string()),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 429);
    let body = parse(&answer);
    assert_eq!(body["description"], "Too Many Requests: retry after 1");
    assert_eq!(body["parameters"], json!({"retry_after": 1}));
    assert_eq!(sim.rate_limited_count(), 1);
    assert_eq!(
        sim.sent_texts(CHAT),
        ["one"],
        "a refused send is not delivered"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(call(&sim, "sendMessage", text(CHAT, "two")).await.0, 200);
    assert_eq!(sim.sent_texts(CHAT), ["one", "two"]);
}

#[tokio::test]
async fn a_burst_of_sends_is_tolerated_then_paced_per_chat() {
    let mut config = BotSimConfig::new(TOKEN);
    config.per_chat_burst = 3;
    config.per_chat_interval = Duration::from_secs(5);
    let sim = sim_with(config).await;
    sim.user(CHAT, "Ann");
    sim.user(7, "Bo");
    for n in 0..3 {
        assert_eq!(
            call(&sim, "sendMessage", text(CHAT, &n.to_string()))
                .await
                .0,
            200
        );
    }
    let refused = call(&sim, "sendMessage", text(CHAT, "3")).await;
    assert_eq!(refused.0, 429);
    let after = refused.1["parameters"]["retry_after"].as_u64().unwrap();
    assert!((4..=5).contains(&after), "{after}");
    assert_eq!(
        call(&sim, "sendMessage", text(7, "other chat")).await.0,
        200
    );
}

#[tokio::test]
async fn the_global_limit_refuses_sends_across_chats() {
    let mut config = BotSimConfig::new(TOKEN);
    config.per_chat_interval = Duration::ZERO;
    config.global_per_second = 2;
    let sim = sim_with(config).await;
    for chat in 1..=3 {
        sim.user(chat, "U");
    }
    assert_eq!(call(&sim, "sendMessage", text(1, "a")).await.0, 200);
    assert_eq!(call(&sim, "sendMessage", text(2, "b")).await.0, 200);
    let refused = call(&sim, "sendMessage", text(3, "c")).await;
    assert_error(&refused, 429, "Too Many Requests: retry after 1");
    assert_eq!(refused.1["parameters"]["retry_after"], 1);
}

#[tokio::test]
async fn a_burst_injection_answers_the_next_sends_429_whatever_the_timing() {
    let sim = sim().await;
    sim.burst_429(2, 9);
    for _ in 0..2 {
        let refused = call(&sim, "sendMessage", text(CHAT, "x")).await;
        assert_error(&refused, 429, "Too Many Requests: retry after 9");
        assert_eq!(refused.1["parameters"]["retry_after"], 9);
    }
    assert_eq!(call(&sim, "sendMessage", text(CHAT, "x")).await.0, 200);
    assert_eq!(sim.rate_limited_count(), 2);
}

#[tokio::test]
async fn form_encoded_and_query_parameters_are_accepted() {
    let sim = sim().await;
    let form = send(
        Method::POST,
        &sim.method_url("sendMessage"),
        Some("application/x-www-form-urlencoded"),
        Bytes::from(format!("chat_id={CHAT}&text=caf%C3%A9+au+lait")),
    )
    .await
    .unwrap();
    assert_eq!(form.status, 200, "{:?}", form.body);
    let query = send(
        Method::GET,
        &format!(
            "{}?chat_id={CHAT}&text=via%20query",
            sim.method_url("sendMessage")
        ),
        None,
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(query.status, 200, "{:?}", query.body);
    assert_eq!(sim.sent_texts(CHAT), ["café au lait", "via query"]);
    let calls = sim.calls();
    assert_eq!(calls[1].params["text"], "via query");
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_400() {
    let sim = sim().await;
    for body in ["[1,2]", "{\"chat_id\":", "\"text\""] {
        let answer = send(
            Method::POST,
            &sim.method_url("sendMessage"),
            Some("application/json"),
            Bytes::from(body),
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(parse(&answer)["ok"], false);
    }
    assert!(sim.sent_texts(CHAT).is_empty());
}

#[tokio::test]
async fn send_chat_action_accepts_known_actions_and_refuses_others() {
    let sim = sim().await;
    let (status, body) = call(
        &sim,
        "sendChatAction",
        json!({"chat_id": CHAT, "action": "typing"}),
    )
    .await;
    assert_eq!((status, &body["result"]), (200, &json!(true)));
    call(
        &sim,
        "sendChatAction",
        json!({"chat_id": CHAT, "action": "UPLOAD_PHOTO"}),
    )
    .await;
    for bad in [
        json!({"chat_id": CHAT, "action": "dancing"}),
        json!({"chat_id": CHAT}),
    ] {
        assert_error(
            &call(&sim, "sendChatAction", bad).await,
            400,
            "Bad Request: wrong parameter action in request",
        );
    }
    assert_error(
        &call(
            &sim,
            "sendChatAction",
            json!({"chat_id": 5, "action": "typing"}),
        )
        .await,
        400,
        "Bad Request: chat not found",
    );
    assert_eq!(sim.chat_actions(CHAT), ["typing", "upload_photo"]);
}

#[tokio::test]
async fn get_file_gives_a_path_that_downloads_the_bytes() {
    let sim = sim().await;
    let jpeg = Bytes::from_static(b"\xff\xd8\xff\xe0 not really a jpeg");
    let file_id = sim.add_file(jpeg.clone(), "image/jpeg");
    let (status, body) = call(&sim, "getFile", json!({"file_id": file_id})).await;
    assert_eq!(status, 200);
    let file = &body["result"];
    assert_eq!(file["file_id"], file_id.as_str());
    assert_eq!(file["file_size"], jpeg.len());
    let path = file["file_path"].as_str().unwrap();
    assert!(
        path.starts_with("photos/file_") && path.ends_with(".jpg"),
        "{path}"
    );
    let download = send(
        Method::GET,
        &format!("{}/file/bot{TOKEN}/{path}", sim.base_url()),
        None,
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!((download.status, download.body), (200, jpeg));
    let missing = send(
        Method::GET,
        &format!("{}/file/bot{TOKEN}/photos/file_999.jpg", sim.base_url()),
        None,
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(missing.status, 404);
    assert_error(
        &call(&sim, "getFile", json!({"file_id": "AgACAgnope"})).await,
        400,
        "Bad Request: invalid file_id",
    );
    assert_error(
        &call(&sim, "getFile", json!({})).await,
        400,
        "Bad Request: file_id not specified",
    );
}

#[tokio::test]
async fn send_photo_takes_a_stored_photo_or_an_http_url() {
    let sim = sim().await;
    let photo = sim.add_file(Bytes::from_static(b"png"), "image/png");
    let pdf = sim.add_file(Bytes::from_static(b"%PDF"), "application/pdf");
    let (status, body) = call(
        &sim,
        "sendPhoto",
        json!({"chat_id": CHAT, "photo": photo, "caption": "look"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["photo"][0]["file_id"], photo.as_str());
    assert_eq!(body["result"]["caption"], "look");
    let url = "https://example.com/cat.jpg";
    assert_eq!(
        call(&sim, "sendPhoto", json!({"chat_id": CHAT, "photo": url}))
            .await
            .0,
        200
    );
    assert_error(
        &call(
            &sim,
            "sendPhoto",
            json!({"chat_id": CHAT, "photo": "garbage"}),
        )
        .await,
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    );
    assert_error(
        &call(&sim, "sendPhoto", json!({"chat_id": CHAT, "photo": pdf})).await,
        400,
        "Bad Request: can't use file of type Document as Photo",
    );
    assert_error(
        &call(&sim, "sendPhoto", json!({"chat_id": CHAT})).await,
        400,
        "Bad Request: there is no photo in the request",
    );
    let long = json!({"chat_id": CHAT, "photo": url, "caption": "c".repeat(1025)});
    assert_error(
        &call(&sim, "sendPhoto", long).await,
        400,
        "Bad Request: message caption is too long",
    );
    let kinds: Vec<SentKind> = sim.sent(CHAT).into_iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [SentKind::Photo(photo), SentKind::Photo(url.into())]);
}

#[tokio::test]
async fn set_webhook_checks_the_secret_and_get_webhook_info_reports_the_settings() {
    let sim = sim().await;
    let url = "http://127.0.0.1:9/hook";
    for (secret, why) in [
        (
            "has space",
            "Bad Request: secret token contains unallowed characters",
        ),
        (
            "ünï",
            "Bad Request: secret token contains unallowed characters",
        ),
        (&*"a".repeat(257), "Bad Request: secret token is too long"),
    ] {
        assert_error(
            &call(
                &sim,
                "setWebhook",
                json!({"url": url, "secret_token": secret}),
            )
            .await,
            400,
            why,
        );
    }
    assert_error(
        &call(&sim, "setWebhook", json!({"url": "not a url"})).await,
        400,
        "Bad Request: invalid webhook URL specified",
    );
    let set = json!({"url": url, "secret_token": "s3cret_-X", "max_connections": 5});
    let (status, body) = call(&sim, "setWebhook", set.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"ok": true, "result": true, "description": "Webhook was set"})
    );
    let (_, again) = call(&sim, "setWebhook", set).await;
    assert_eq!(again["description"], "Webhook is already set");
    let (_, info) = call(&sim, "getWebhookInfo", json!({})).await;
    assert_eq!(
        info["result"],
        json!({"url": url, "has_custom_certificate": false, "pending_update_count": 0, "max_connections": 5})
    );
    assert_eq!(sim.webhook_secret().as_deref(), Some("s3cret_-X"));
    let (_, deleted) = call(&sim, "deleteWebhook", json!({})).await;
    assert_eq!(deleted["description"], "Webhook was deleted");
    let (_, twice) = call(&sim, "deleteWebhook", json!({})).await;
    assert_eq!(twice["description"], "Webhook is already deleted");
    assert_eq!(sim.webhook_info().url, "");
}

#[tokio::test]
async fn https_only_webhooks_refuse_http_and_odd_ports() {
    let mut config = BotSimConfig::new(TOKEN);
    config.https_only_webhooks = true;
    let sim = sim_with(config).await;
    assert_error(
        &call(
            &sim,
            "setWebhook",
            json!({"url": "http://example.com/hook"}),
        )
        .await,
        400,
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
    );
    assert_error(
        &call(
            &sim,
            "setWebhook",
            json!({"url": "https://example.com:8080/hook"}),
        )
        .await,
        400,
        "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
    );
    assert_eq!(
        call(
            &sim,
            "setWebhook",
            json!({"url": "https://example.com:8443/hook"})
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn an_injected_error_answers_the_next_call_only() {
    let sim = sim().await;
    sim.inject(BotMethod::SendMessage, Injected::Status { code: 500 });
    sim.let_through(BotMethod::SendMessage);
    sim.inject(BotMethod::SendMessage, Injected::RetryAfter(4));
    sim.inject(BotMethod::SendMessage, Injected::Blocked);
    sim.inject(BotMethod::SendMessage, Injected::BadGatewayHtml);
    assert_error(
        &call(&sim, "sendMessage", text(CHAT, "a")).await,
        500,
        "Internal Server Error",
    );
    assert_eq!(call(&sim, "sendMessage", text(CHAT, "b")).await.0, 200);
    let limited = call(&sim, "sendMessage", text(CHAT, "c")).await;
    assert_error(&limited, 429, "Too Many Requests: retry after 4");
    assert_error(
        &call(&sim, "sendMessage", text(CHAT, "d")).await,
        403,
        "Forbidden: bot was blocked by the user",
    );
    let html = send(
        Method::POST,
        &sim.method_url("sendMessage"),
        Some("application/json"),
        Bytes::from(text(CHAT, "e").to_string()),
    )
    .await
    .unwrap();
    assert_eq!(html.status, 502);
    assert_eq!(html.content_type.as_deref(), Some("text/html"));
    assert_eq!(call(&sim, "sendMessage", text(CHAT, "f")).await.0, 200);
    assert_eq!(sim.sent_texts(CHAT), ["b", "f"]);
    assert_eq!(sim.rate_limited_count(), 1);
    assert_eq!(sim.call_count(BotMethod::SendMessage), 6);
    let statuses: Vec<u16> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [500, 200, 429, 403, 502, 200]);
}

#[tokio::test]
async fn a_delay_injection_answers_late_but_normally() {
    let sim = sim().await;
    sim.inject(
        BotMethod::GetMe,
        Injected::Delay(Duration::from_millis(300)),
    );
    let started = std::time::Instant::now();
    let (status, _) = call(&sim, "getMe", json!({})).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}
