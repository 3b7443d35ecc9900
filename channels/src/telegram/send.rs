//! Outbound Bot API calls: `sendMessage` (text split at 4096 UTF-16 code units on character
//! boundaries), `sendChatAction` for typing, `sendPhoto` by URL; and the Bot API's errors as
//! [`DeliveryError`]s — 429 waits `parameters.retry_after`, 403 (the user blocked the bot) and
//! 400 "chat not found" give up, 401 is a wrong token, 5xx and transport failures retry later.
//! The token is part of every URL, so no error text carries a URL.

use bytes::Bytes;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::TelegramChannel;
use crate::channel::UserId;
use crate::delivery::{DeliveryError, GiveUpReason};
use crate::outbound::{Delivered, ImageSource, TypingState};

/// Longest text in one message, in UTF-16 code units.
pub const MAX_TEXT_UNITS: usize = 4096;

/// The Bot API's answer envelope.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// `text` cut into pieces of at most `max` UTF-16 code units, on character boundaries.
pub fn split_utf16(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut units) = (0, 0);
    for (at, c) in text.char_indices() {
        if units + c.len_utf16() > max {
            parts.push(&text[start..at]);
            start = at;
            units = 0;
        }
        units += c.len_utf16();
    }
    if start < text.len() || parts.is_empty() {
        parts.push(&text[start..]);
    }
    parts
}

/// What an answer means.
fn outcome(status: u16, body: &[u8]) -> Result<(), DeliveryError> {
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    if let Some(Answer { ok: true, .. }) = answer {
        return Ok(());
    }
    let code = answer.as_ref().and_then(|a| a.error_code).unwrap_or(status);
    let description = answer
        .as_ref()
        .and_then(|a| a.description.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let detail = format!("Telegram {code}: {description}");
    Err(match code {
        429 => DeliveryError::RetryLater {
            after: answer
                .and_then(|a| a.parameters)
                .and_then(|p| p.retry_after)
                .map(std::time::Duration::from_secs),
            detail,
        },
        401 | 404 => DeliveryError::Misconfigured {
            detail: format!("{detail} (check the bot token)"),
        },
        403 => DeliveryError::GiveUp {
            reason: GiveUpReason::NotFollowing,
            detail,
        },
        400 if description.to_ascii_lowercase().contains("chat not found") => {
            DeliveryError::GiveUp {
                reason: GiveUpReason::UnknownUser,
                detail,
            }
        }
        400..=499 => DeliveryError::GiveUp {
            reason: GiveUpReason::ContentRejected,
            detail,
        },
        _ => DeliveryError::RetryLater {
            after: None,
            detail,
        },
    })
}

impl TelegramChannel {
    async fn call(&self, method: &str, body: Value) -> Result<(), DeliveryError> {
        let url = format!(
            "{}/bot{}/{method}",
            self.api_base,
            self.config.bot_token.expose()
        );
        let response = self
            .api
            .request(
                Method::POST,
                &url,
                Some("application/json"),
                Bytes::from(body.to_string()),
            )
            .await
            // The error may name the URL, and the URL holds the token: say only what failed.
            .map_err(|_| DeliveryError::RetryLater {
                after: None,
                detail: format!("Telegram {method}: no answer"),
            })?;
        outcome(response.status.as_u16(), &response.body)
    }

    pub(super) async fn send_text(
        &self,
        to: &UserId,
        text: &str,
    ) -> Result<Delivered, DeliveryError> {
        let parts = split_utf16(text, MAX_TEXT_UNITS);
        let total = parts.len() as u32;
        for (i, part) in parts.into_iter().enumerate() {
            let sent = self
                .call("sendMessage", json!({"chat_id": to.as_str(), "text": part}))
                .await;
            if let Err(error) = sent {
                return Err(if i == 0 {
                    error
                } else {
                    DeliveryError::Partial {
                        delivered: i as u32,
                        total,
                        error: Box::new(error),
                    }
                });
            }
        }
        Ok(Delivered { parts: total })
    }

    pub(super) async fn send_typing(
        &self,
        to: &UserId,
        state: TypingState,
    ) -> Result<Delivered, DeliveryError> {
        match state {
            // Telegram shows "typing…" for five seconds and has no way to stop it early.
            TypingState::Off => Ok(Delivered { parts: 0 }),
            TypingState::On => {
                let body = json!({"chat_id": to.as_str(), "action": "typing"});
                // Typing is best effort: its failures are nobody's concern.
                let _ = self.call("sendChatAction", body).await;
                Ok(Delivered { parts: 1 })
            }
        }
    }

    pub(super) async fn send_image(
        &self,
        to: &UserId,
        source: &ImageSource,
    ) -> Result<Delivered, DeliveryError> {
        let ImageSource::Url(url) = source else {
            return Err(DeliveryError::GiveUp {
                reason: GiveUpReason::Unsupported,
                detail: "Telegram photos are sent by URL here".into(),
            });
        };
        self.call("sendPhoto", json!({"chat_id": to.as_str(), "photo": url}))
            .await?;
        Ok(Delivered { parts: 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_split_at_4096_utf16_units_on_character_boundaries() {
        // 😀 is two UTF-16 units: 2,049 of them are 4,098 units.
        let text = "😀".repeat(2049);
        let parts = split_utf16(&text, MAX_TEXT_UNITS);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].encode_utf16().count(), 4096);
        assert_eq!(parts[1], "😀");
        assert_eq!(parts.concat(), text);
        assert_eq!(split_utf16("", 10), [""]);
        assert_eq!(split_utf16("abc", 10), ["abc"]);
    }

    #[test]
    fn bot_api_errors_become_delivery_instructions() {
        assert_eq!(outcome(200, br#"{"ok":true,"result":{}}"#), Ok(()));
        let limited = outcome(
            429,
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#,
        )
        .unwrap_err();
        assert_eq!(
            limited.retry_after(),
            Some(std::time::Duration::from_secs(7))
        );
        let blocked = outcome(
            403,
            br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        )
        .unwrap_err();
        assert_eq!(blocked.give_up_reason(), Some(GiveUpReason::NotFollowing));
        let gone = outcome(
            400,
            br#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        )
        .unwrap_err();
        assert_eq!(gone.give_up_reason(), Some(GiveUpReason::UnknownUser));
        let token = outcome(
            401,
            br#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        )
        .unwrap_err();
        assert!(matches!(token, DeliveryError::Misconfigured { .. }));
        let down = outcome(502, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(matches!(
            down,
            DeliveryError::RetryLater { after: None, .. }
        ));
    }
}
