//! The WeChat API simulator refuses what WeChat refuses, over real loopback HTTP.

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use switchboard_sim::wechat::http::send;
use switchboard_sim::wechat::{ApiConfig, Endpoint, WeChatApiSim};

async fn sim() -> WeChatApiSim {
    WeChatApiSim::start(ApiConfig::new("wxapp", "secret"))
        .await
        .unwrap()
}

async fn post(url: &str, body: &str) -> Value {
    let answer = send(
        Method::POST,
        url,
        Some("application/json"),
        Bytes::from(body.to_owned()),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200, "WeChat answers errors with HTTP 200");
    serde_json::from_slice(&answer.body).unwrap()
}

async fn token(sim: &WeChatApiSim, force: bool) -> String {
    let v = post(
        &format!("{}/cgi-bin/stable_token", sim.base_url()),
        &json!({"grant_type": "client_credential", "appid": "wxapp", "secret": "secret", "force_refresh": force}).to_string(),
    )
    .await;
    v["access_token"].as_str().unwrap().to_owned()
}

fn send_url(sim: &WeChatApiSim, token: &str) -> String {
    format!(
        "{}/cgi-bin/message/custom/send?access_token={token}",
        sim.base_url()
    )
}

fn text_body(to: &str, content: &str) -> String {
    json!({"touser": to, "msgtype": "text", "text": {"content": content}}).to_string()
}

#[tokio::test]
async fn stable_token_is_idempotent_until_force_refreshed() {
    let sim = sim().await;
    let a = token(&sim, false).await;
    assert_eq!(token(&sim, false).await, a);
    let b = token(&sim, true).await;
    assert_ne!(a, b);
    sim.handle().user_messaged("o1");
    let old = post(&send_url(&sim, &a), &text_body("o1", "x")).await;
    assert_eq!(old["errcode"], 40001);
    let new = post(&send_url(&sim, &b), &text_body("o1", "x")).await;
    assert_eq!(new["errcode"], 0);
}

#[tokio::test]
async fn rejects_wrong_app_credentials() {
    let sim = sim().await;
    let url = format!("{}/cgi-bin/stable_token", sim.base_url());
    let v = post(
        &url,
        r#"{"grant_type":"client_credential","appid":"wxother","secret":"secret"}"#,
    )
    .await;
    assert_eq!(v["errcode"], 40013);
    let v = post(
        &url,
        r#"{"grant_type":"client_credential","appid":"wxapp","secret":"nope"}"#,
    )
    .await;
    assert_eq!(v["errcode"], 40125);
    let classic = send(
        Method::GET,
        &format!(
            "{}/cgi-bin/token?grant_type=client_credential&appid=wxapp&secret=secret",
            sim.base_url()
        ),
        None,
        Bytes::new(),
    )
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&classic.body).unwrap();
    assert_eq!(v["expires_in"], 7200);
}

#[tokio::test]
async fn rejects_missing_unknown_and_expired_tokens() {
    let sim = sim().await;
    sim.handle().user_messaged("o1");
    let base = format!("{}/cgi-bin/message/custom/send", sim.base_url());
    assert_eq!(post(&base, &text_body("o1", "x")).await["errcode"], 41001);
    assert_eq!(
        post(&send_url(&sim, "bogus"), &text_body("o1", "x")).await["errcode"],
        40001
    );
    let t = token(&sim, false).await;
    sim.expire_tokens();
    assert_eq!(
        post(&send_url(&sim, &t), &text_body("o1", "x")).await["errcode"],
        42001
    );
}

#[tokio::test]
async fn rejects_unicode_escaped_non_ascii_json_with_40033() {
    let sim = sim().await;
    sim.handle().user_messaged("o1");
    let t = token(&sim, false).await;
    let escaped = r#"{"touser":"o1","msgtype":"text","text":{"content":"\u4f60\u597d"}}"#;
    assert_eq!(post(&send_url(&sim, &t), escaped).await["errcode"], 40033);
    let raw = r#"{"touser":"o1","msgtype":"text","text":{"content":"你好 \"quoted\" \u0041"}}"#;
    assert_eq!(post(&send_url(&sim, &t), raw).await["errcode"], 0);
    assert_eq!(sim.sent_texts("o1"), ["你好 \"quoted\" A"]);
}

#[tokio::test]
async fn enforces_the_window_the_quota_and_the_text_size() {
    let sim = sim().await;
    let t = token(&sim, false).await;
    let url = send_url(&sim, &t);
    assert_eq!(
        post(&url, &text_body("stranger", "x")).await["errcode"],
        40003
    );
    sim.handle().user_messaged("o1");
    assert_eq!(
        post(&url, &text_body("o1", &"a".repeat(2049))).await["errcode"],
        45002
    );
    for _ in 0..5 {
        assert_eq!(post(&url, &text_body("o1", "x")).await["errcode"], 0);
    }
    assert_eq!(post(&url, &text_body("o1", "x")).await["errcode"], 45047);
    sim.handle().user_messaged("o1");
    assert_eq!(post(&url, &text_body("o1", "x")).await["errcode"], 0);
    sim.advance(std::time::Duration::from_secs(48 * 3600));
    let url = send_url(&sim, &token(&sim, false).await);
    assert_eq!(post(&url, &text_body("o1", "x")).await["errcode"], 45015);
    sim.handle().user_unfollowed("o1");
    assert_eq!(post(&url, &text_body("o1", "x")).await["errcode"], 43004);
}

#[tokio::test]
async fn injected_errcodes_answer_the_next_call_only() {
    let sim = sim().await;
    sim.handle().user_messaged("o1");
    let t = token(&sim, false).await;
    sim.inject(Endpoint::CustomSend, -1);
    assert_eq!(
        post(&send_url(&sim, &t), &text_body("o1", "x")).await["errcode"],
        -1
    );
    assert_eq!(
        post(&send_url(&sim, &t), &text_body("o1", "x")).await["errcode"],
        0
    );
    assert_eq!(sim.call_count(Endpoint::CustomSend), 2);
}

#[tokio::test]
async fn media_get_answers_json_errors_with_http_200_and_bytes_otherwise() {
    let sim = sim().await;
    let t = token(&sim, false).await;
    let id = sim.add_media("image", "image/jpeg", Bytes::from_static(b"jpeg"));
    let url = |id: &str| {
        format!(
            "{}/cgi-bin/media/get?access_token={t}&media_id={id}",
            sim.base_url()
        )
    };
    let ok = send(Method::GET, &url(&id), None, Bytes::new())
        .await
        .unwrap();
    assert_eq!(ok.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(ok.body, Bytes::from_static(b"jpeg"));
    let missing = send(Method::GET, &url("nope"), None, Bytes::new())
        .await
        .unwrap();
    assert_eq!(missing.status, 200);
    let v: Value = serde_json::from_slice(&missing.body).unwrap();
    assert_eq!(v["errcode"], 40007);
}

#[tokio::test]
async fn typing_needs_a_recent_interaction_and_is_not_repeated_while_active() {
    let sim = sim().await;
    sim.handle().user_messaged("o1");
    let t = token(&sim, false).await;
    let url = format!(
        "{}/cgi-bin/message/custom/typing?access_token={t}",
        sim.base_url()
    );
    let typing = json!({"touser": "o1", "command": "Typing"}).to_string();
    assert_eq!(post(&url, &typing).await["errcode"], 0);
    assert_eq!(post(&url, &typing).await["errcode"], 45081);
    let bad = json!({"touser": "o1", "command": "Dancing"}).to_string();
    assert_eq!(post(&url, &bad).await["errcode"], 45072);
    sim.advance(std::time::Duration::from_secs(31));
    assert_eq!(post(&url, &typing).await["errcode"], 45080);
}
