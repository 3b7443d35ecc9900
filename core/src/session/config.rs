//! What a session is configured with: the deployment it talks to and its timings
//! ([`SessionConfig`], shared by every chat), and who is asking ([`ChatRequest`], per chat).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::liveagent::{CustomDetail, Entity};

/// Deployment and timing settings shared by every session of one Live Agent deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// `X-LIVEAGENT-API-VERSION`. 37 and above use `ReconnectSession`; below, `ResyncSession`.
    pub api_version: u32,
    /// Org id (`00D…`).
    pub organization_id: String,
    /// Chat deployment id (`572…`).
    pub deployment_id: String,
    /// Chat button id (`573…`).
    pub button_id: String,
    /// Ordered routing targets overriding the button (may be empty).
    pub button_overrides: Vec<String>,
    /// Ask the server for `QueueUpdate` events.
    pub receive_queue_updates: bool,
    /// `userAgent` sent with ChasitorInit.
    pub user_agent: String,
    /// Added to `clientPollTimeout` before a poll is given up.
    pub poll_slack: Duration,
    /// `clientPollTimeout` until the server says otherwise.
    pub default_client_poll_timeout: Duration,
    /// How long a POST or a control request may take.
    pub request_timeout: Duration,
    /// Delay before a failed request is retried.
    pub retry_delay: Duration,
    /// Upper bound of the doubling POST retry delay.
    pub max_retry_delay: Duration,
    /// How long requests may keep failing before the session is declared lost, until
    /// `ChatRequestSuccess.connectionTimeout` gives the deployment's value.
    pub default_connection_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            api_version: 52,
            organization_id: String::new(),
            deployment_id: String::new(),
            button_id: String::new(),
            button_overrides: Vec::new(),
            receive_queue_updates: true,
            user_agent: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
            poll_slack: Duration::from_secs(5),
            default_client_poll_timeout: Duration::from_secs(40),
            request_timeout: Duration::from_secs(15),
            retry_delay: Duration::from_secs(2),
            max_retry_delay: Duration::from_secs(16),
            default_connection_timeout: Duration::from_secs(40),
        }
    }
}

/// Who is asking for a chat: the visitor-specific part of ChasitorInit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Name shown to the agent.
    pub visitor_name: String,
    /// e.g. `zh-CN`; empty means `n/a`.
    pub language: String,
    /// Pre-chat details (the channel user id goes here so the console can find the Contact).
    pub prechat_details: Vec<CustomDetail>,
    /// Records to find or create from the details.
    pub prechat_entities: Vec<Entity>,
}
