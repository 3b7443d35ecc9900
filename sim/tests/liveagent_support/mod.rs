//! A small loopback client for the Live Agent simulator tests: plain hyper, the core's request
//! builder, and a visitor that walks the spec's flow.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use switchboard_core::liveagent::{LiveAgentRequest, Method, Resource};
use switchboard_sim::liveagent::{AgentControl, Knobs, LiveAgentSim, SimConfig};

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `type` of every event in a Messages answer.
    pub fn event_types(&self) -> Vec<String> {
        self.json()["messages"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| e["type"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
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

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body.into())).expect("valid request");
        let response = self.client.request(request).await.expect("request sent");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body read")
            .to_bytes();
        Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn send(&self, request: &LiveAgentRequest) -> Answer {
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.raw(
            request.method.as_str(),
            &request.path_and_query(),
            &headers,
            request.body.clone().unwrap_or_default(),
        )
        .await
    }

    /// POST to the control API.
    pub async fn control(&self, path: &str, body: &str) -> Answer {
        self.raw("POST", &format!("/__sim/{path}"), &[], body.to_owned())
            .await
    }
}

pub const API: u32 = 52;

pub async fn start(hold: Duration) -> (LiveAgentSim, Http) {
    start_with(SimConfig::with_hold(hold)).await
}

pub async fn start_with(config: SimConfig) -> (LiveAgentSim, Http) {
    let sim = LiveAgentSim::start(config).await.expect("simulator starts");
    let http = Http::new(sim.base_url());
    (sim, http)
}

/// A visitor session on the simulator.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub http: Http,
    pub id: String,
    pub key: String,
    pub affinity: String,
    pub sequence: u32,
}

impl Visitor {
    /// `GET System/SessionId`.
    pub async fn create(http: &Http) -> Visitor {
        let answer = http
            .send(&LiveAgentRequest::new(Method::Get, Resource::SessionId, API).affinity(None))
            .await;
        assert_eq!(answer.status, 200, "SessionId: {}", answer.body);
        let value = answer.json();
        Visitor {
            http: http.clone(),
            id: value["id"].as_str().expect("id").to_owned(),
            key: value["key"].as_str().expect("key").to_owned(),
            affinity: value["affinityToken"].as_str().expect("token").to_owned(),
            sequence: 0,
        }
    }

    /// SessionId, then ChasitorInit as `name`; the chat is then waiting for an agent.
    pub async fn request_chat(http: &Http, name: &str) -> Visitor {
        let mut visitor = Visitor::create(http).await;
        let knobs = Knobs::default();
        let init = json!({
            "organizationId": knobs.organization_id,
            "deploymentId": knobs.deployment_id,
            "buttonId": knobs.button_id,
            "sessionId": visitor.id,
            "userAgent": "switchboard-tests",
            "language": "en-US",
            "screenResolution": "",
            "visitorName": name,
            "prechatDetails": [{
                "label": "Channel", "value": "WeChat", "entityMaps": [],
                "transcriptFields": [], "displayToAgent": true
            }],
            "prechatEntities": [],
            "receiveQueueUpdates": true,
            "isPost": true
        });
        let answer = visitor.post(Resource::ChasitorInit, init).await;
        assert_eq!(answer.status, 200, "ChasitorInit: {}", answer.body);
        visitor
    }

    /// A request carrying this session's key and affinity token.
    pub fn request(&self, method: Method, resource: Resource) -> LiveAgentRequest {
        LiveAgentRequest::new(method, resource, API)
            .affinity(Some(&self.affinity))
            .session_key(&self.key)
    }

    pub fn poll_request(&self, ack: i64) -> LiveAgentRequest {
        self.request(Method::Get, Resource::Messages)
            .query("ack", ack.to_string())
    }

    /// `GET System/Messages?ack=…`.
    pub async fn poll(&self, ack: i64) -> Answer {
        self.http.send(&self.poll_request(ack)).await
    }

    /// Starts a poll and waits until the simulator holds it; the handle yields its answer.
    pub async fn held_poll(
        &self,
        agent: &AgentControl,
        ack: i64,
    ) -> tokio::task::JoinHandle<Answer> {
        let visitor = self.clone();
        let poll = tokio::spawn(async move { visitor.poll(ack).await });
        agent
            .wait_for_session(&self.id, Duration::from_secs(20), |v| v.polling)
            .await
            .expect("the poll is held");
        poll
    }

    /// A sequenced visitor POST.
    pub async fn post(&mut self, resource: Resource, body: Value) -> Answer {
        self.sequence += 1;
        let request = self
            .request(Method::Post, resource)
            .sequence(self.sequence)
            .body(body.to_string());
        self.http.send(&request).await
    }
}
