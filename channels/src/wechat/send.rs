//! Outbound calls (§5): `custom/send` for text and images, `custom/typing`, `media/upload` and
//! `media/get`, each with the access-token retry rule and the window bookkeeping.

use bytes::Bytes;
use http::Method;
use serde::Deserialize;
use serde_json::json;

use crate::channel::UserId;
use crate::delivery::{DeliveryError, GiveUpReason};
use crate::outbound::{Delivered, ImageSource, Media, TypingState};
use crate::text::split_at_byte_limit;

use super::api::ApiResponse;
use super::errcode::{
    ErrReply, classify, errcode_of, from_api_error, from_http_status, is_ignorable_typing_error,
    is_token_error,
};
use super::multipart::media_form;
use super::{MAX_TEXT_BYTES, WeChatChannel};

const SEND_PATH: &str = "/cgi-bin/message/custom/send";
const TYPING_PATH: &str = "/cgi-bin/message/custom/typing";
const UPLOAD_PATH: &str = "/cgi-bin/media/upload";
const MEDIA_GET_PATH: &str = "/cgi-bin/media/get";

/// Why an API call failed: a WeChat `errcode`, or already an engine instruction.
#[derive(Debug)]
enum ApiFailure {
    Code(ErrReply),
    Delivery(DeliveryError),
}

impl From<ApiFailure> for DeliveryError {
    fn from(f: ApiFailure) -> Self {
        match f {
            ApiFailure::Code(r) => classify(r.errcode, &r.errmsg),
            ApiFailure::Delivery(d) => d,
        }
    }
}

/// One API call, minus the access token.
struct Call<'a> {
    method: Method,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    content_type: Option<&'a str>,
    body: Bytes,
}

/// Removes C0 control characters other than newline and tab: `serde_json` would escape them as
/// `\u00XX`, which WeChat does not decode.
fn without_controls(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t') || u32::from(*c) >= 0x80)
        .collect()
}

impl<'a> Call<'a> {
    /// A JSON POST to `path`.
    fn json(path: &'a str, value: &serde_json::Value) -> Self {
        Call {
            method: Method::POST,
            path,
            query: &[],
            content_type: Some("application/json; charset=utf-8"),
            // serde_json writes non-ASCII as raw UTF-8, never as `\uXXXX` (J1).
            body: Bytes::from(value.to_string()),
        }
    }
}

impl WeChatChannel {
    async fn call_once(&self, token: &str, call: &Call<'_>) -> Result<ApiResponse, ApiFailure> {
        let mut query: Vec<(&str, &str)> = vec![("access_token", token)];
        query.extend_from_slice(call.query);
        let url = self.api.url(call.path, &query);
        let response = self
            .api
            .request(
                call.method.clone(),
                &url,
                call.content_type,
                call.body.clone(),
            )
            .await
            .map_err(|e| ApiFailure::Delivery(from_api_error(&e)))?;
        if let Some(e) = from_http_status(&response) {
            return Err(ApiFailure::Delivery(e));
        }
        match errcode_of(&response) {
            Some(err) => {
                // errmsg carries WeChat's `rid` for support requests; it holds no secrets.
                tracing::warn!(path = call.path, errcode = err.errcode, errmsg = %err.errmsg, "WeChat API error");
                Err(ApiFailure::Code(err))
            }
            None => Ok(response),
        }
    }

    /// Calls the API with the current token; on 40001/40014/42001 replaces the token
    /// (compare-and-refresh) and retries exactly once.
    async fn call(&self, call: Call<'_>) -> Result<ApiResponse, ApiFailure> {
        let token = self.tokens.current().await.map_err(ApiFailure::Delivery)?;
        match self.call_once(&token.value, &call).await {
            Err(ApiFailure::Code(err)) if is_token_error(err.errcode) => {
                let fresh = self
                    .tokens
                    .replace(&token.value)
                    .await
                    .map_err(ApiFailure::Delivery)?;
                match self.call_once(&fresh.value, &call).await {
                    Err(ApiFailure::Code(err)) if is_token_error(err.errcode) => {
                        Err(ApiFailure::Delivery(DeliveryError::Misconfigured {
                            detail: format!(
                                "errcode {} with a freshly fetched token (check the AppSecret): {}",
                                err.errcode, err.errmsg
                            ),
                        }))
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn send_message(
        &self,
        to: &UserId,
        body: serde_json::Value,
    ) -> Result<(), DeliveryError> {
        let result = self.call(Call::json(SEND_PATH, &body)).await;
        match result {
            Ok(_) => {
                // Sending a message ends the typing indicator on the user's side.
                self.typing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(to);
                Ok(())
            }
            Err(f) => Err(DeliveryError::from(f)),
        }
    }

    pub(super) async fn send_text(
        &self,
        to: &UserId,
        text: &str,
    ) -> Result<Delivered, DeliveryError> {
        let text = without_controls(text);
        if text.trim().is_empty() {
            return Err(DeliveryError::GiveUp {
                reason: GiveUpReason::ContentRejected,
                detail: "empty text".into(),
            });
        }
        let parts = split_at_byte_limit(&text, MAX_TEXT_BYTES);
        let total = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        for (sent, part) in (0u32..).zip(&parts) {
            let body = json!({"touser": to.as_str(), "msgtype": "text", "text": {"content": part}});
            if let Err(e) = self.send_message(to, body).await {
                return Err(if sent == 0 {
                    e
                } else {
                    DeliveryError::Partial {
                        delivered: sent,
                        total,
                        error: Box::new(e),
                    }
                });
            }
        }
        Ok(Delivered { parts: total })
    }

    pub(super) async fn send_image(
        &self,
        to: &UserId,
        source: &ImageSource,
    ) -> Result<Delivered, DeliveryError> {
        let media = match source {
            ImageSource::Bytes(m) => m.clone(),
            ImageSource::Url(url) => self.download_url(url).await?,
        };
        let media_id = self.upload_image(&media).await?;
        let body =
            json!({"touser": to.as_str(), "msgtype": "image", "image": {"media_id": media_id}});
        self.send_message(to, body).await?;
        Ok(Delivered { parts: 1 })
    }

    async fn download_url(&self, url: &str) -> Result<Media, DeliveryError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(DeliveryError::GiveUp {
                reason: GiveUpReason::ContentRejected,
                detail: "image URL must be http or https".into(),
            });
        }
        let response = self
            .api
            .request(Method::GET, url, None, Bytes::new())
            .await
            .map_err(|e| from_api_error(&e))?;
        if let Some(e) = from_http_status(&response) {
            return Err(e);
        }
        let content_type = response.content_type();
        if !content_type.starts_with("image/") {
            return Err(DeliveryError::GiveUp {
                reason: GiveUpReason::ContentRejected,
                detail: format!("image URL served {content_type:?}"),
            });
        }
        let filename = url.rsplit('/').next().unwrap_or("image").to_owned();
        Ok(Media {
            content_type,
            filename,
            data: response.body,
        })
    }

    async fn upload_image(&self, media: &Media) -> Result<String, DeliveryError> {
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).map_err(|e| DeliveryError::RetryLater {
            after: None,
            detail: format!("no randomness for the multipart boundary: {e}"),
        })?;
        let boundary: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let (content_type, body) = media_form(
            &format!("switchboard{boundary}"),
            &media.filename,
            &media.content_type,
            &media.data,
        );
        #[derive(Deserialize)]
        struct Uploaded {
            media_id: String,
        }
        let response = self
            .call(Call {
                method: Method::POST,
                path: UPLOAD_PATH,
                query: &[("type", "image")],
                content_type: Some(&content_type),
                body: Bytes::from(body),
            })
            .await?;
        serde_json::from_slice::<Uploaded>(&response.body)
            .map(|u| u.media_id)
            .map_err(|e| DeliveryError::RetryLater {
                after: None,
                detail: format!("unreadable media/upload answer: {e}"),
            })
    }

    pub(super) async fn send_typing(
        &self,
        to: &UserId,
        state: TypingState,
    ) -> Result<Delivered, DeliveryError> {
        let now = self.clock.now_unix();
        let interval = self.typing_interval().as_secs();
        let active = self
            .typing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(to)
            .is_some_and(|&since| now < since.saturating_add(interval));
        let skip = match state {
            TypingState::On => active,
            TypingState::Off => !active,
        };
        if skip {
            return Ok(Delivered::default());
        }
        let command = match state {
            TypingState::On => "Typing",
            TypingState::Off => "CancelTyping",
        };
        let body = json!({"touser": to.as_str(), "command": command});
        let result = self.call(Call::json(TYPING_PATH, &body)).await;
        match result {
            Ok(_) => {
                let mut typing = self.typing.lock().unwrap_or_else(|p| p.into_inner());
                match state {
                    TypingState::On => typing.insert(to.clone(), now),
                    TypingState::Off => typing.remove(to),
                };
                Ok(Delivered { parts: 1 })
            }
            // Typing is best effort: its own errors (no recent interaction, already typing,
            // bad command) are not worth anyone's attention.
            Err(ApiFailure::Code(err)) if is_ignorable_typing_error(err.errcode) => {
                Ok(Delivered::default())
            }
            Err(f) => Err(f.into()),
        }
    }

    /// Downloads inbound media by id (`media/get`); WeChat reports errors as JSON with HTTP 200.
    pub async fn download_media(&self, media_id: &str) -> Result<Media, DeliveryError> {
        let response = self
            .call(Call {
                method: Method::GET,
                path: MEDIA_GET_PATH,
                query: &[("media_id", media_id)],
                content_type: None,
                body: Bytes::new(),
            })
            .await?;
        let content_type = response.content_type();
        if content_type.contains("json") || content_type.starts_with("text/") {
            return Err(DeliveryError::GiveUp {
                reason: GiveUpReason::Unsupported,
                detail: "media/get answered JSON without media (video links are not fetched)"
                    .into(),
            });
        }
        let filename = response
            .headers
            .get(http::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("filename=").nth(1))
            .map(|f| f.trim_matches(|c| c == '"' || c == ' ').to_owned())
            .unwrap_or_else(|| media_id.to_owned());
        Ok(Media {
            content_type,
            filename,
            data: response.body,
        })
    }
}
