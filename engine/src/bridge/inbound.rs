//! Inbound webhooks: verify and parse through the channel, drop duplicates, make each new
//! event durable, and only then give the platform its reply. Durable means, by the bridge's
//! [`Intake`](super::Intake): in the push log (its owner takes it in after the reply), or
//! committed and flushed by its owner, or in the shared pushes table for another instance.

use switchboard_channels::{HttpReply, InboundEvent, InboundKind, WebhookRequest};
use switchboard_core::conversation::UserMessage;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::owner::{Command, Pushed};
use super::{Bridge, BridgeError, ForwardedPush};
use crate::store::WebhookKey;

/// What to answer the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<&'static str>,
    /// Body.
    pub body: bytes::Bytes,
    /// New events taken in (duplicates excluded).
    pub accepted: usize,
    /// Events dropped as duplicates of earlier pushes.
    pub duplicates: usize,
}

impl Bridge {
    /// Handles one webhook request for channel `channel_id`. Bad input gets the channel's 4xx;
    /// a storage failure gets 503 so the platform retries (nothing was acknowledged).
    pub async fn webhook(
        &self,
        channel_id: &str,
        request: &WebhookRequest,
    ) -> Result<WebhookOutcome, BridgeError> {
        let channel = &self
            .inner
            .channels
            .get(channel_id)
            .ok_or_else(|| BridgeError::UnknownChannel(channel_id.to_owned()))?
            .adapter;
        let webhook = match channel.parse_webhook(request) {
            Ok(webhook) => webhook,
            Err(e) => {
                debug!(channel = channel_id, error = %e, "webhook refused");
                return Ok(WebhookOutcome {
                    status: e.status().as_u16(),
                    content_type: Some("text/plain; charset=utf-8"),
                    body: bytes::Bytes::from(e.to_string()),
                    accepted: 0,
                    duplicates: 0,
                });
            }
        };
        let (mut accepted, mut duplicates) = (0, 0);
        // Only once every event is durable does the platform hear that the push is safe.
        match &self.inner.push_log {
            Some(log) => {
                self.log(
                    log,
                    channel_id,
                    &webhook.events,
                    &mut accepted,
                    &mut duplicates,
                )
                .await?
            }
            None => {
                self.take_in(channel_id, &webhook.events, &mut accepted, &mut duplicates)
                    .await?
            }
        }
        let HttpReply {
            status,
            content_type,
            body,
        } = webhook.reply;
        Ok(WebhookOutcome {
            status: status.as_u16(),
            content_type,
            body,
            accepted,
            duplicates,
        })
    }

    /// Hands each event to its conversation's owner, which drops repeats (it alone takes the
    /// conversation's pushes, so a repeat arriving while the first is being stored is seen),
    /// commits each new event's effect with its dedupe key, and flushes.
    async fn take_in(
        &self,
        channel_id: &str,
        events: &[InboundEvent],
        accepted: &mut usize,
        duplicates: &mut usize,
    ) -> Result<(), BridgeError> {
        for event in events {
            let key = WebhookKey::of(channel_id, &event.dedupe_key.0);
            let mailbox = match self.mailbox_or_new(
                channel_id,
                event.user.as_str(),
                event.display_name.as_deref(),
            ) {
                Err(BridgeError::ServedElsewhere(_)) => {
                    let push = push_of(channel_id, event, key);
                    match self.forward(&push).await? {
                        true => *accepted += 1,
                        false => *duplicates += 1,
                    }
                    continue;
                }
                other => other?,
            };
            let (reply, pushed) = oneshot::channel();
            mailbox
                .send(Command::Push {
                    message: user_message(event),
                    key,
                    reply,
                })
                .map_err(|_| BridgeError::Stopped)?;
            match pushed.await.map_err(|_| BridgeError::Stopped)?? {
                Pushed::Accepted => *accepted += 1,
                Pushed::Duplicate => *duplicates += 1,
            }
        }
        Ok(())
    }
}

/// `channel_id`'s event as a push to be stored for its owner (dedupe key `key`).
pub(super) fn push_of(channel_id: &str, event: &InboundEvent, key: WebhookKey) -> ForwardedPush {
    ForwardedPush {
        channel: channel_id.to_owned(),
        user: event.user.as_str().to_owned(),
        name: event.display_name.clone(),
        message: user_message(event),
        key,
    }
}

/// What the conversation makes of an inbound event; `None` for kinds this build does not know.
fn user_message(event: &InboundEvent) -> Option<UserMessage> {
    Some(match &event.kind {
        InboundKind::Text { text } => UserMessage::Text(text.clone()),
        InboundKind::Image { media } => UserMessage::Image {
            media_id: media.id.clone(),
            url: media.url.clone(),
        },
        InboundKind::Voice { media, recognition } => UserMessage::Voice {
            media_id: media.id.clone(),
            recognition: recognition.clone(),
        },
        InboundKind::Video { media } => UserMessage::Video {
            media_id: media.id.clone(),
        },
        InboundKind::Link { title, url } => UserMessage::Link {
            title: title.clone(),
            url: url.clone(),
        },
        InboundKind::Location {
            latitude,
            longitude,
            label,
        } => {
            let label = label.clone().unwrap_or_default();
            match (coordinate(latitude, 90.0), coordinate(longitude, 180.0)) {
                (Some(latitude), Some(longitude)) => UserMessage::Location {
                    latitude,
                    longitude,
                    label,
                },
                _ => UserMessage::UnreadableLocation { label },
            }
        }
        InboundKind::LocationReport {
            latitude,
            longitude,
            ..
        } => UserMessage::LocationReport {
            latitude: coordinate(latitude, 90.0)?,
            longitude: coordinate(longitude, 180.0)?,
        },
        InboundKind::Navigation { kind, target } => UserMessage::Navigation {
            kind: kind.clone(),
            target: target.clone(),
        },
        InboundKind::Notification { kind } => UserMessage::Notification { kind: kind.clone() },
        InboundKind::Followed { .. } => UserMessage::Subscribe,
        InboundKind::Unfollowed => UserMessage::Unsubscribe,
        InboundKind::MenuClick { key } => UserMessage::MenuClick { key: key.clone() },
        InboundKind::Other { kind, .. } => UserMessage::Other { kind: kind.clone() },
        other => {
            warn!(?other, "inbound event kind not handled");
            return None;
        }
    })
}

/// A coordinate in degrees within `±limit`, or `None` when it does not read as one.
fn coordinate(text: &str, limit: f64) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && v.abs() <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_channels::{DedupeKey, UserId};

    fn event(kind: InboundKind) -> InboundEvent {
        InboundEvent {
            dedupe_key: DedupeKey("k".into()),
            user: UserId::new("oUser"),
            display_name: None,
            created_at: 0,
            kind,
        }
    }

    #[test]
    fn a_location_whose_coordinates_do_not_parse_is_described_not_zeroed() {
        let unreadable = event(InboundKind::Location {
            latitude: "23,1345".into(),
            longitude: "".into(),
            label: Some("Tianhe, Guangzhou".into()),
        });
        assert_eq!(
            user_message(&unreadable),
            Some(UserMessage::UnreadableLocation {
                label: "Tianhe, Guangzhou".into()
            })
        );
        let out_of_range = event(InboundKind::Location {
            latitude: "123.0".into(),
            longitude: "113.3".into(),
            label: None,
        });
        assert!(matches!(
            user_message(&out_of_range),
            Some(UserMessage::UnreadableLocation { .. })
        ));
        let good = event(InboundKind::Location {
            latitude: "23.134521".into(),
            longitude: "113.358803".into(),
            label: None,
        });
        assert!(matches!(
            user_message(&good),
            Some(UserMessage::Location { latitude, .. }) if latitude == 23.134521
        ));
    }

    #[test]
    fn a_location_report_that_does_not_parse_is_dropped() {
        let report = event(InboundKind::LocationReport {
            latitude: "x".into(),
            longitude: "113.3".into(),
            precision: None,
        });
        assert_eq!(user_message(&report), None);
    }
}
