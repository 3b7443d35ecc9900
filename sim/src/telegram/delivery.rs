//! Webhook delivery, as the Telegram server does it: each update is POSTed as JSON to the URL
//! given to `setWebhook`, with `X-Telegram-Bot-Api-Secret-Token` when a secret was set. An
//! answer outside 2xx, or none (refused, reset, timed out), is a failure: the same body, same
//! `update_id`, is sent again after the next pause of
//! [`webhook_retry_delays`](super::BotSimConfig::webhook_retry_delays) (or the answer's
//! `Retry-After`, if longer, up to an hour), and given up once they run out. Failures are
//! recorded for `getWebhookInfo` (`last_error_date`, `last_error_message`).
//!
//! One chat's updates go one at a time, in the order they were created: the next waits until
//! the previous was acknowledged or given up. Different chats proceed in parallel, at most
//! `max_connections` deliveries at once. An update created while no webhook is set, or dropped
//! by `drop_pending_updates` before its turn, is not delivered (the simulator keeps no
//! `getUpdates` queue).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};

use super::methods::allowed;
use super::state::{Attempt, Hub, now_secs};
use super::update::Update;

/// The longest `Retry-After` of a webhook answer that is honoured.
const MAX_RETRY_AFTER: u64 = 3600;

/// An update the webhook acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The update.
    pub update_id: i64,
    /// Every attempt, the acknowledged one last.
    pub attempts: Vec<Attempt>,
}

/// Why an update was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// No webhook is set.
    #[error("update {update_id}: no webhook is set")]
    NoWebhook {
        /// The update.
        update_id: i64,
    },
    /// Every attempt failed.
    #[error("update {} given up after {} attempts", .0.update_id, .0.attempts.len())]
    GaveUp(Delivery),
    /// `drop_pending_updates` dropped it before it was acknowledged.
    #[error("update {update_id} dropped by drop_pending_updates")]
    Dropped {
        /// The update.
        update_id: i64,
    },
    /// The webhook's `allowed_updates` excludes its type.
    #[error("update {update_id} not delivered: allowed_updates excludes {kind}")]
    Filtered {
        /// The update.
        update_id: i64,
        /// Its type.
        kind: String,
    },
}

/// Counts the update as pending while it lives.
struct Pending<'a>(&'a Hub);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.pending_updates = s.pending_updates.saturating_sub(1);
    }
}

/// An attempt's outcome: the status and the `Retry-After` it asked for, or why there was none.
type Answered = Result<(u16, Option<u64>), String>;

/// Delivers `update` through the webhook, with retries; resolves when it was acknowledged or
/// given up. Dropping the future abandons the delivery.
pub(super) async fn deliver(hub: &Hub, update: Update) -> Result<Delivery, PushError> {
    let update_id = update.update_id;
    let generation = {
        let mut s = hub.lock();
        if s.webhook.is_none() {
            return Err(PushError::NoWebhook { update_id });
        }
        s.pending_updates += 1;
        s.generation
    };
    let _pending = Pending(hub);
    let lane = hub.lane(update.chat_id);
    let _turn = lane.lock().await;
    let mut attempts = Vec::new();
    loop {
        let (url, secret, connections, timeout, delays) = {
            let s = hub.lock();
            let Some(webhook) = &s.webhook else {
                return Err(PushError::NoWebhook { update_id });
            };
            if s.generation != generation {
                return Err(PushError::Dropped { update_id });
            }
            if !allowed(&s, &update.kind) {
                return Err(PushError::Filtered {
                    update_id,
                    kind: update.kind.clone(),
                });
            }
            (
                webhook.url.clone(),
                webhook.secret.clone(),
                s.connections.clone(),
                s.config.webhook_timeout,
                s.config.webhook_retry_delays.clone(),
            )
        };
        let answered: Answered = {
            let _connection = connections.acquire_owned().await;
            match tokio::time::timeout(timeout, post(&url, secret.as_deref(), &update.body)).await {
                Ok(result) => result,
                Err(_) => Err("Read timeout expired".to_owned()),
            }
        };
        let (attempt, retry_after) = match answered {
            Ok((status, _)) if (200..300).contains(&status) => (
                Attempt {
                    update_id,
                    status: Some(status),
                    error: None,
                },
                None,
            ),
            Ok((status, retry_after)) => {
                let reason = StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                let error = format!("Wrong response from the webhook: {status} {reason}");
                (
                    Attempt {
                        update_id,
                        status: Some(status),
                        error: Some(error.trim_end().to_owned()),
                    },
                    retry_after,
                )
            }
            Err(error) => (
                Attempt {
                    update_id,
                    status: None,
                    error: Some(error),
                },
                None,
            ),
        };
        {
            let mut s = hub.lock();
            if let Some(error) = &attempt.error {
                s.last_error = Some((now_secs(), error.clone()));
            }
            s.attempts.push(attempt.clone());
        }
        let acknowledged = attempt.acknowledged();
        let failures = attempts.len();
        attempts.push(attempt);
        if acknowledged {
            return Ok(Delivery {
                update_id,
                attempts,
            });
        }
        let Some(pause) = delays.get(failures) else {
            return Err(PushError::GaveUp(Delivery {
                update_id,
                attempts,
            }));
        };
        let asked = Duration::from_secs(retry_after.unwrap_or(0).min(MAX_RETRY_AFTER));
        tokio::time::sleep((*pause).max(asked)).await;
    }
}

/// The innermost cause of a client error, which names what went wrong (`Connection refused`).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    // "Connection refused (os error 111)" → "Connection refused".
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// One POST of `body` to `url`.
async fn post(url: &str, secret: Option<&str>, body: &Bytes) -> Answered {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut request = Request::post(url).header(http::header::CONTENT_TYPE, "application/json");
    if let Some(secret) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    let request = request
        .body(Full::new(body.clone()))
        .map_err(|e| format!("Bad webhook URL: {e}"))?;
    let response = client.request(request).await.map_err(|e| {
        if e.is_connect() {
            root_cause(&e)
        } else {
            "Webhook connection closed".to_owned()
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // The answer is read (a webhook may reply with a method call, which the simulator ignores).
    let _ = response.into_body().collect().await;
    Ok((status, retry_after))
}
