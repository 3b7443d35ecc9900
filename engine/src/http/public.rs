//! The public listener: `GET|POST /channels/{id}` to the channel's adapter through the bridge,
//! and `GET /livez`.

use bytes::Bytes;
use http_body_util::Full;
use switchboard_channels::WebhookRequest;
use tracing::error;

use super::serve::{Request, respond};
use crate::bridge::{Bridge, BridgeError};
use crate::metrics::WebhookCounters;

/// Answers one public request.
pub async fn public_handler(
    bridge: Bridge,
    counters: std::sync::Arc<WebhookCounters>,
    request: Request,
) -> http::Response<Full<Bytes>> {
    let path = request.parts.uri.path();
    if path == "/livez" {
        return respond(200, "text/plain; charset=utf-8", "ok\n");
    }
    let Some(channel) = path
        .strip_prefix("/channels/")
        .filter(|c| !c.is_empty() && !c.contains('/'))
    else {
        return respond(404, "text/plain; charset=utf-8", "not found\n");
    };
    let mut webhook = WebhookRequest::new(
        request.parts.method.clone(),
        request.parts.uri.query().unwrap_or_default(),
        request.body,
    );
    webhook.headers = request.parts.headers;
    match bridge.webhook(channel, &webhook).await {
        Ok(outcome) => {
            counters.record(outcome.status, outcome.accepted, outcome.duplicates);
            respond(
                outcome.status,
                outcome.content_type.unwrap_or("text/plain; charset=utf-8"),
                outcome.body,
            )
        }
        Err(BridgeError::UnknownChannel(_)) => {
            respond(404, "text/plain; charset=utf-8", "no such channel\n")
        }
        Err(e) => {
            // Nothing was acknowledged: the platform will retry.
            error!(channel, error = %e, "webhook not stored");
            counters.record(503, 0, 0);
            respond(
                503,
                "text/plain; charset=utf-8",
                "temporarily unavailable\n",
            )
        }
    }
}
