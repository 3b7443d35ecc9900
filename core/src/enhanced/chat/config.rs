//! What an Enhanced Chat conversation is configured with: the deployment, who the visitor is
//! to Salesforce, and the timings of tokens, retries and the event stream.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::enhanced::wire::Deployment;

/// Settings shared by every Enhanced Chat conversation of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnhancedConfig {
    /// The deployment's ids.
    pub deployment: Deployment,
    /// How long a token lives when its JWT does not say (the unauthenticated default, §4.4).
    pub token_lifetime: Duration,
    /// A verified user's token is renewed this long before it expires; an anonymous
    /// conversation, which cannot renew without becoming another user, is closed this long
    /// before.
    pub renew_margin: Duration,
    /// A REST request without an answer for this long is given up as lost.
    pub request_timeout: Duration,
    /// First wait after a failed request; doubled each time up to `max_backoff`.
    pub first_backoff: Duration,
    /// Longest wait between two attempts (of a request, or of opening the stream).
    pub max_backoff: Duration,
    /// The desk counts as unreachable (and the chat ends) after failing this long.
    pub unreachable_after: Duration,
    /// The stream counts as dead after this long without any event or keep-alive.
    pub stream_silence: Duration,
    /// Catch-up lists entries from this long before the newest one seen (§9).
    pub catch_up_overlap: Duration,
    /// Entry identifiers remembered for dropping repeats.
    pub remembered_entries: usize,
}

impl EnhancedConfig {
    /// Defaults for `deployment`.
    pub fn new(deployment: Deployment) -> EnhancedConfig {
        EnhancedConfig {
            deployment,
            token_lifetime: Duration::from_secs(3600),
            renew_margin: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            unreachable_after: Duration::from_secs(600),
            stream_silence: Duration::from_secs(90),
            catch_up_overlap: Duration::from_secs(5),
            remembered_entries: 512,
        }
    }
}

/// How a chat starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnhancedStart {
    /// The conversation's id: a lowercase v4 UUID the driver drew at random (§5.1).
    pub conversation_id: String,
    /// The verified user's `sub`, when the gateway signs identity tokens; `None`: anonymous.
    pub verified_subject: Option<String>,
    /// Pre-chat fields by name (§5.1).
    pub routing_attributes: std::collections::BTreeMap<String, String>,
    /// The visitor's language, if known.
    pub language: Option<String>,
}
