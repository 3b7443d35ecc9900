//! A small loopback client for the Enhanced Chat simulator tests: plain hyper for REST, an
//! incremental SSE reader for the stream, and an end user that walks the spec's flow. It is
//! written against the spec's wire shapes only (not the core's client), so it checks them.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use switchboard_sim::enhanced::{EnhancedAgent, EnhancedChatSim, EnhancedSimConfig, Knobs};

pub const REST: &str = "/iamessage/api/v2";
pub const SSE: &str = "/eventrouter/v1/sse";
pub const PROMPTLY: Duration = Duration::from_secs(10);

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Plain-HTTP client on one simulator.
#[derive(Debug, Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    pub base: String,
}

impl Http {
    pub fn new(base: String) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> http::Response<Incoming> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if !body.is_empty() {
            builder = builder.header("Content-Type", "application/json");
        }
        let request = builder.body(Full::new(Bytes::from(body))).expect("request");
        self.client.request(request).await.expect("request sent")
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> Answer {
        let response = self.send(method, path, headers, body).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// `GET /eventrouter/v1/sse`: the open stream, or the refusal.
    pub async fn sse(&self, headers: &[(&str, &str)]) -> Result<Sse, Answer> {
        let mut all = vec![("Accept", "text/event-stream")];
        all.extend_from_slice(headers);
        let response = self.send("GET", SSE, &all, String::new()).await;
        if response.status() != 200 {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(Answer {
                status,
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("text/event-stream"));
        Ok(Sse {
            body: response.into_body(),
            buffer: Vec::new(),
        })
    }
}

/// One SSE frame as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl Frame {
    pub fn data_json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }

    /// `conversationEntry` of the data envelope.
    pub fn entry(&self) -> Value {
        self.data_json()["conversationEntry"].clone()
    }

    /// The `entryPayload`, which must be a JSON string, decoded.
    pub fn payload(&self) -> Value {
        let text = self.entry()["entryPayload"]
            .as_str()
            .map(str::to_owned)
            .expect("entryPayload is a string");
        serde_json::from_str(&text).expect("entryPayload holds JSON")
    }

    pub fn numeric_id(&self) -> u64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .expect("numeric id")
    }
}

/// What reading the stream gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Frame(Frame),
    /// The response ended cleanly.
    Ended,
    /// The connection failed mid-response.
    Cut,
    /// Nothing came in time.
    Quiet,
}

/// An open stream, read incrementally.
#[derive(Debug)]
pub struct Sse {
    body: Incoming,
    buffer: Vec<u8>,
}

impl Sse {
    /// The next frame (pings included).
    pub async fn next(&mut self, timeout: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buffer.drain(..end + 2).collect();
                return Next::Frame(parse_frame(&String::from_utf8_lossy(&raw)));
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Quiet,
                Ok(None) => return Next::Ended,
                Ok(Some(Err(_))) => return Next::Cut,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next frame that is not a ping; panics on anything else.
    pub async fn entry(&mut self) -> Frame {
        loop {
            match self.next(PROMPTLY).await {
                Next::Frame(frame) if frame.event == "ping" => {}
                Next::Frame(frame) => return frame,
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// Reads entries until one named `event` arrives; returns it.
    pub async fn until(&mut self, event: &str) -> Frame {
        loop {
            let frame = self.entry().await;
            if frame.event == event {
                return frame;
            }
        }
    }

    /// Bytes received but not yet a complete frame.
    pub fn pending(&self) -> &[u8] {
        &self.buffer
    }
}

fn parse_frame(raw: &str) -> Frame {
    let mut frame = Frame {
        id: None,
        event: String::new(),
        data: String::new(),
    };
    for line in raw.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => frame.id = Some(value.to_owned()),
            "event" => frame.event = value.to_owned(),
            "data" => frame.data.push_str(value),
            _ => {}
        }
    }
    frame
}

pub async fn start_with(config: EnhancedSimConfig) -> (EnhancedChatSim, Http, EnhancedAgent) {
    let sim = EnhancedChatSim::start(config)
        .await
        .expect("simulator starts");
    let http = Http::new(sim.base_url());
    let agent = sim.agent();
    (sim, http, agent)
}

/// Defaults with a short routing delay.
pub fn quick() -> EnhancedSimConfig {
    let mut config = EnhancedSimConfig::default();
    config.knobs.routing_delay = Duration::from_millis(20);
    config
}

pub fn org() -> String {
    Knobs::default().org_id
}

pub fn conversation_id(n: u32) -> String {
    format!("3f1c2a4e-9b7d-4c1e-8a2f-{n:012x}")
}

pub fn message_id(n: u32) -> String {
    format!("9d2b6f0e-1c3a-4e5b-8f70-{n:012x}")
}

/// One end user: a token and what came with it.
#[derive(Debug, Clone)]
pub struct EndUser {
    pub http: Http,
    pub token: String,
    pub subject: String,
    pub last_event_id: String,
}

impl EndUser {
    /// `POST /authorization/unauthenticated/access-token`.
    pub async fn new(http: &Http) -> EndUser {
        let body = json!({"orgId": org(), "esDeveloperName": "Switchboard_Client",
                          "capabilitiesVersion": "1", "platform": "Web",
                          "context": {"appName": "switchboard", "clientVersion": "0.1.0"}});
        let answer = http
            .raw(
                "POST",
                &format!("{REST}/authorization/unauthenticated/access-token"),
                &[],
                body.to_string(),
            )
            .await;
        assert_eq!(answer.status, 200, "token: {}", answer.body);
        let value = answer.json();
        EndUser {
            http: http.clone(),
            token: value["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
            subject: value["context"]["endUser"]["subject"]
                .as_str()
                .expect("subject")
                .to_owned(),
            last_event_id: value["lastEventId"]
                .as_str()
                .expect("lastEventId")
                .to_owned(),
        }
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub async fn call(&self, method: &str, tail: &str, body: Value) -> Answer {
        let bearer = self.bearer();
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.http
            .raw(
                method,
                &format!("{REST}{tail}"),
                &[("Authorization", &bearer)],
                body,
            )
            .await
    }

    pub async fn create(&self, id: &str) -> Answer {
        self.call("POST", "/conversation", json!({"conversationId": id, "esDeveloperName": "Switchboard_Client",
                                                  "routingAttributes": {"Channel_Source": "WeChat"}}))
            .await
    }

    pub async fn send(&self, conversation: &str, id: &str, text: &str) -> Answer {
        self.send_body(conversation, message_body(id, text)).await
    }

    pub async fn send_body(&self, conversation: &str, body: Value) -> Answer {
        self.call(
            "POST",
            &format!("/conversation/{conversation}/message"),
            body,
        )
        .await
    }

    /// Opens the stream after `last` (the token's `lastEventId` when `None`).
    pub async fn stream(&self, last: Option<&str>) -> Sse {
        let bearer = self.bearer();
        let org = org();
        let last = last.unwrap_or(&self.last_event_id).to_owned();
        let headers = [
            ("Authorization", bearer.as_str()),
            ("X-Org-Id", org.as_str()),
            ("Last-Event-Id", last.as_str()),
        ];
        self.http.sse(&headers).await.expect("stream opens")
    }

    /// A token, a stream, and a conversation an agent accepted.
    pub async fn in_chat(http: &Http, agent: &EnhancedAgent, id: &str) -> (EndUser, Sse) {
        let user = EndUser::new(http).await;
        let mut sse = user.stream(None).await;
        assert_eq!(user.create(id).await.status, 201);
        sse.until("CONVERSATION_ROUTING_RESULT").await;
        agent.accept(id, "Li Wei").expect("accept");
        sse.until("CONVERSATION_PARTICIPANT_CHANGED").await;
        (user, sse)
    }
}

pub fn message_body(id: &str, text: &str) -> Value {
    json!({"message": {"id": id, "messageType": "StaticContentMessage",
                       "staticContent": {"formatType": "Text", "text": text}},
           "esDeveloperName": "Switchboard_Client", "isNewMessagingSession": false, "language": "zh_CN"})
}
