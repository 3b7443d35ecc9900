//! The admin listener and the public listener's refusals, against a gateway started in-process
//! (the same `App` the binary runs) with both simulators.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use switchboard_engine::app::App;
use switchboard_engine::simulated::{self, Simulated};
use switchboard_sim::liveagent::{LiveAgentSim, Phase, SimConfig};
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{AccountSettings, PushMode, WeChatApiSim, WeChatUser};

const TOKEN: &str = "admin-secret-token";

async fn call(method: &str, url: &str, bearer: Option<&str>) -> (u16, String) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_needs_its_token_reports_metrics_and_ends_conversations() {
    let live_agent = LiveAgentSim::start(SimConfig::with_hold(Duration::from_millis(300)))
        .await
        .unwrap();
    let wechat = WeChatApiSim::start(ApiConfig::new("wxadmin0000000001", "secret"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Simulated {
        encrypted: false,
        ..Simulated::new(&live_agent, &wechat, "wxadmin0000000001", dir.path())
    }
    .config()
    .unwrap();
    let secrets = simulated::secrets(TOKEN, "secret", "tok", "");
    let app = App::start(&config, &secrets).await.unwrap();
    let admin = format!("http://{}", app.admin_addr());
    let public = format!("http://{}", app.public_addr());

    assert_eq!(call("GET", &format!("{admin}/livez"), None).await.0, 200);
    assert_eq!(call("GET", &format!("{admin}/metrics"), None).await.0, 401);
    assert_eq!(
        call("GET", &format!("{admin}/metrics"), Some("wrong"))
            .await
            .0,
        401
    );
    assert_eq!(
        call("GET", &format!("{admin}/readyz"), Some(TOKEN)).await.0,
        200
    );
    assert_eq!(
        call("GET", &format!("{public}/channels/nope"), None)
            .await
            .0,
        404
    );
    let (status, _) = call(
        "POST",
        &format!("{public}/channels/wechat?signature=bad&timestamp=1&nonce=2"),
        None,
    )
    .await;
    assert_eq!(
        status, 401,
        "a push with a bad signature is refused, never 5xx"
    );

    let user = WeChatUser::new(
        AccountSettings {
            account: "gh_admin".into(),
            app_id: "wxadmin0000000001".into(),
            token: "tok".into(),
            encoding_aes_key: String::new(),
            mode: PushMode::Plaintext,
        },
        "oAdminUser",
        Some(wechat.handle()),
    );
    let answer = user
        .text("hello")
        .send_to(&format!("{public}/channels/wechat"))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    let control = live_agent.control();
    let waiting = control
        .wait_for_waiting_chat(Duration::from_secs(20))
        .await
        .expect("chat queued");

    // WeChat delivers the same push again while the first is being stored: the agent gets it once.
    control.accept(&waiting.session_id, "Andy").unwrap();
    let again = user.text("are you there?");
    let url = format!("{public}/channels/wechat");
    let (a, b, c, d) = tokio::join!(
        again.send_to(&url),
        again.send_to(&url),
        again.send_to(&url),
        again.send_to(&url)
    );
    for answer in [a, b, c, d] {
        assert_eq!(answer.unwrap().status, 200, "every delivery is answered");
    }
    control
        .wait_for_session(&waiting.session_id, Duration::from_secs(20), |s| {
            s.visitor_texts.iter().any(|t| t == "are you there?")
        })
        .await
        .expect("the text reached the agent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let texts = control.session(&waiting.session_id).unwrap().visitor_texts;
    assert_eq!(
        texts.iter().filter(|t| *t == "are you there?").count(),
        1,
        "{texts:?}"
    );

    let (status, metrics) = call("GET", &format!("{admin}/metrics"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("switchboard_webhook_events_accepted_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_webhook_events_duplicate_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_webhook_rejected_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_delivery_seconds_count"),
        "{metrics}"
    );

    let (status, body) = call("GET", &format!("{admin}/admin/conversations"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(body.contains("wechat:oAdminUser"), "{body}");
    let (status, _) = call(
        "POST",
        &format!("{admin}/admin/conversations/wechat%3AoAdminUser/end"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    control
        .wait_for_session(&waiting.session_id, Duration::from_secs(20), |s| {
            s.phase == Phase::Ended
        })
        .await
        .expect("the chat was ended through the admin API");
    let (status, _) = call(
        "POST",
        &format!("{admin}/admin/conversations/wechat%3Anobody/end"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        "POST",
        &format!("{admin}/admin/conversations/end"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        status, 404,
        "a path without an id is not found (and does not panic)"
    );
    // Once the end has come back from the session, there is nothing left to end.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = call("GET", &format!("{admin}/admin/conversations"), Some(TOKEN)).await;
        if body.contains("\"chatting\":false") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the conversation never went idle: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = call(
        "POST",
        &format!("{admin}/admin/conversations/wechat%3AoAdminUser/end"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 409, "no live chat to end");
    app.shutdown().await.unwrap();
    // Nothing of the gateway runs on after shutdown: the store's lock is free again. (sled can
    // release its file lock a moment after the last handle is dropped, so allow 2 s.)
    let mut reopened = switchboard_engine::SledStore::open(dir.path());
    for _ in 0..20 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        reopened = switchboard_engine::SledStore::open(dir.path());
    }
    assert!(
        reopened.is_ok(),
        "store still locked 2 s after shutdown: {reopened:?}"
    );
}
