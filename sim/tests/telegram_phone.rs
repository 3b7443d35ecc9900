//! The Telegram phone page: served by the simulator, it sends as the user through the webhook
//! and shows what the bot sent.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use serde_json::{Value, json};
use switchboard_sim::telegram::{BotSimConfig, TelegramBotSim};
use switchboard_sim::wechat::http::{Server, send};

async fn post(url: &str, body: Value) -> (u16, Value) {
    let answer = send(
        Method::POST,
        url,
        Some("application/json"),
        Bytes::from(body.to_string()),
    )
    .await
    .unwrap();
    (answer.status, serde_json::from_slice(&answer.body).unwrap())
}

async fn get(url: &str) -> (u16, Value) {
    let answer = send(Method::GET, url, None, Bytes::new()).await.unwrap();
    (
        answer.status,
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_page_and_its_script_are_served() {
    let sim = TelegramBotSim::start(BotSimConfig::default())
        .await
        .unwrap();
    let page = send(Method::GET, &sim.phone_url(77), None, Bytes::new())
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    assert!(page.content_type.unwrap().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("/phone/phone.js"));
    for asset in ["/phone/phone.js", "/phone/phone.css"] {
        let a = send(
            Method::GET,
            &format!("{}{asset}", sim.base_url()),
            None,
            Bytes::new(),
        )
        .await
        .unwrap();
        assert_eq!(a.status, 200, "{asset}");
    }
}

#[tokio::test]
async fn a_text_typed_on_the_phone_reaches_the_webhook_and_the_bots_answer_shows() {
    let seen = Arc::new(Mutex::new(Vec::<Value>::new()));
    let sink = seen.clone();
    let hook = Server::start(move |req| {
        let sink = sink.clone();
        async move {
            sink.lock()
                .unwrap()
                .push(serde_json::from_slice(&req.body).unwrap());
            Response::new(Full::new(Bytes::new()))
        }
    })
    .await
    .unwrap();
    let sim = TelegramBotSim::start(BotSimConfig::default())
        .await
        .unwrap();
    let base = sim.base_url();
    let (status, about) = get(&format!("{base}/__telegram/bot")).await;
    assert_eq!((status, &about["webhook"]), (200, &json!(false)));
    let (status, _) = post(
        &format!("{base}/__telegram/chats/77/send"),
        json!({"text": "early"}),
    )
    .await;
    assert_eq!(status, 503, "no webhook yet");

    sim.set_webhook(&format!("http://{}/hook", hook.addr()), Some("s"));
    let (status, sent) = post(
        &format!("{base}/__telegram/chats/77/send"),
        json!({"text": "hello bot", "firstName": "Ann"}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["delivered"], true);
    let update = seen.lock().unwrap()[0].clone();
    assert_eq!(update["update_id"], sent["updateId"]);
    assert_eq!(update["message"]["text"], "hello bot");
    assert_eq!(update["message"]["chat"]["id"], 77);

    // The chat now exists: the bot can answer it.
    let (s1, _) = post(
        &sim.method_url("sendChatAction"),
        json!({"chat_id": 77, "action": "typing"}),
    )
    .await;
    let (s2, _) = post(
        &sim.method_url("sendMessage"),
        json!({"chat_id": 77, "text": "hi Ann"}),
    )
    .await;
    assert_eq!((s1, s2), (200, 200));
    let (_, inbox) = get(&format!("{base}/__telegram/chats/77/inbox")).await;
    let kinds: Vec<&str> = inbox["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["userText", "notice", "userText", "action", "text"]);
    assert_eq!(inbox["entries"][4]["text"], "hi Ann");
    assert_eq!(inbox["firstName"], "Ann");
}

#[tokio::test]
async fn the_phone_refuses_bad_chat_ids_and_empty_texts() {
    let sim = TelegramBotSim::start(BotSimConfig::default())
        .await
        .unwrap();
    let base = sim.base_url();
    for chat in ["abc", "-5", "0", "99999999999999999999"] {
        let (status, _) = get(&format!("{base}/__telegram/chats/{chat}/inbox")).await;
        assert_eq!(status, 400, "{chat}");
    }
    let (status, _) = post(
        &format!("{base}/__telegram/chats/5/send"),
        json!({"text": "  "}),
    )
    .await;
    assert_eq!(status, 400);
    let garbage = send(
        Method::POST,
        &format!("{base}/__telegram/chats/5/send"),
        Some("application/json"),
        Bytes::from_static(b"\xff\xfe"),
    )
    .await
    .unwrap();
    assert_eq!(garbage.status, 400);
    let (status, _) = get(&format!("{base}/__telegram/nowhere")).await;
    assert_eq!(status, 404);
}
