//! What reaches the model and what does not: headers, paths, bodies, keep-alive, recording.

mod liveagent_support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use liveagent_support::{API, Visitor, start, start_with};
use serde_json::json;
use switchboard_core::liveagent::{LiveAgentRequest, Method, Resource};
use switchboard_sim::liveagent::{Knobs, MAX_BODY, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HOLD: Duration = Duration::from_millis(200);

#[tokio::test]
async fn rejects_requests_without_api_version_with_400() {
    let (sim, http) = start(HOLD).await;
    let answer = http
        .raw(
            "GET",
            "/chat/rest/System/SessionId",
            &[("X-LIVEAGENT-AFFINITY", "null")],
            Bytes::new(),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body, "No version header found");
    assert!(sim.control().sessions().is_empty(), "no session was made");
    sim.shutdown().await;
}

#[tokio::test]
async fn returns_404_for_unknown_paths() {
    let (sim, http) = start(HOLD).await;
    let headers = [("X-LIVEAGENT-API-VERSION", "52")];
    for path in [
        "/chat/rest/System/Nope",
        "/chat/rest/Chasitor/",
        "/chat/System/SessionId",
        "/",
        "/__sim/nothing",
    ] {
        let answer = http.raw("GET", path, &headers, Bytes::new()).await;
        assert_eq!(answer.status, 404, "{path}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_405_to_methods_the_api_does_not_use() {
    let (sim, http) = start(HOLD).await;
    let headers = [("X-LIVEAGENT-API-VERSION", "52")];
    let put = http
        .raw("PUT", "/chat/rest/System/Messages", &headers, Bytes::new())
        .await;
    assert_eq!(put.status, 405);
    let post = http
        .raw(
            "POST",
            "/chat/rest/System/SessionId",
            &headers,
            Bytes::new(),
        )
        .await;
    assert_eq!(post.status, 405, "the model's rule: SessionId is a GET");
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_413_to_bodies_over_64_kib() {
    let (sim, http) = start(HOLD).await;
    let mut visitor = Visitor::request_chat(&http, "Wei").await;
    sim.control().accept(&visitor.id, "Andy").expect("accept");
    let text = "x".repeat(MAX_BODY);
    let answer = visitor
        .post(Resource::ChatMessage, json!({ "text": text }))
        .await;
    assert_eq!(answer.status, 413);
    let view = sim.control().session(&visitor.id).expect("session");
    assert!(view.visitor_texts.is_empty(), "nothing reached the agent");
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_malformed_http_with_400_and_keeps_serving() {
    let (sim, http) = start(HOLD).await;
    let mut stream = TcpStream::connect(sim.addr()).await.expect("connect");
    stream
        .write_all(b"NOT HTTP AT ALL\r\n\x00\x01\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // Still serving.
    Visitor::create(&http).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn passes_query_headers_and_body_through_to_the_model() {
    let (sim, http) = start(HOLD).await;
    let knobs = Knobs::default();
    let availability = LiveAgentRequest::new(Method::Get, Resource::Availability, API)
        .query("org_id", knobs.organization_id.clone())
        .query("deployment_id", knobs.deployment_id.clone())
        .query("Availability.ids", format!("[{},573X]", knobs.button_id));
    let answer = http.send(&availability).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let results = &answer.json()["messages"][0]["message"]["results"];
    assert_eq!(results[0]["id"], knobs.button_id.as_str());
    assert_eq!(results[0]["isAvailable"], true);

    // Sequence numbers travel as headers: a gap is the model's 409.
    let mut visitor = Visitor::request_chat(&http, "Wei").await;
    sim.control().accept(&visitor.id, "Andy").expect("accept");
    visitor.sequence += 1;
    let skipped = visitor
        .post(Resource::ChatMessage, json!({ "text": "hi" }))
        .await;
    assert_eq!(skipped.status, 409);
    assert_eq!(skipped.body, "Out of sync Ack. Expected 3. Actual 1");
    sim.shutdown().await;
}

#[tokio::test]
async fn deletes_a_session_named_by_the_key_in_the_path() {
    let (sim, http) = start(HOLD).await;
    let visitor = Visitor::request_chat(&http, "Wei").await;
    let mut delete = LiveAgentRequest::new(Method::Delete, Resource::SessionId, API).affinity(None);
    delete.path_suffix = Some(visitor.key.clone());
    let answer = http.send(&delete).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(sim.control().session(&visitor.id).is_none());
    assert_eq!(visitor.poll(-1).await.status, 403);
    sim.shutdown().await;
}

#[tokio::test]
async fn serves_several_requests_on_one_kept_alive_connection() {
    let (sim, _http) = start(HOLD).await;
    let stream = TcpStream::connect(sim.addr()).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let driver = tokio::spawn(conn);
    for _ in 0..3 {
        let request = http::Request::get("/chat/rest/System/SessionId")
            .header("host", sim.addr().to_string())
            .header("X-LIVEAGENT-API-VERSION", "52")
            .header("X-LIVEAGENT-AFFINITY", "null")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(request).await.expect("same connection");
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.expect("body");
    }
    assert_eq!(sim.control().sessions().len(), 3);
    drop(sender);
    let _ = driver.await;
    sim.shutdown().await;
}

#[tokio::test]
async fn records_requests_unless_told_not_to() {
    let (sim, http) = start(HOLD).await;
    let visitor = Visitor::request_chat(&http, "Wei").await;
    let recorded = sim.control().recorded();
    let resources: Vec<Resource> = recorded.iter().map(|r| r.request.resource).collect();
    assert_eq!(resources, vec![Resource::SessionId, Resource::ChasitorInit]);
    assert_eq!(recorded[1].status, Some(200));
    assert_eq!(recorded[1].request.sequence_number(), Some(1));
    let body = recorded[1].request.body.as_deref().unwrap_or_default();
    assert!(body.contains("\"visitorName\":\"Wei\""), "{body}");
    let _ = visitor;
    sim.shutdown().await;

    let config = SimConfig {
        knobs: Knobs {
            record_requests: false,
            ..Knobs::default()
        },
        ..SimConfig::with_hold(HOLD)
    };
    let (sim, http) = start_with(config).await;
    Visitor::request_chat(&http, "Wei").await;
    assert!(sim.control().recorded().is_empty());
    sim.shutdown().await;
}
