//! WeChat API `errcode`s (§5.6) mapped onto [`DeliveryError`].

use std::time::Duration;

use serde::Deserialize;

use crate::delivery::{DeliveryError, GiveUpReason};

use super::api::{ApiError, ApiResponse};

/// `{"errcode":…,"errmsg":…}`; absent fields mean success.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrReply {
    /// 0 on success.
    #[serde(default)]
    pub errcode: i64,
    /// Human-readable message, with a `rid` to quote to WeChat support.
    #[serde(default)]
    pub errmsg: String,
}

/// Codes after which the access token must be refreshed (compare-and-refresh) and the call
/// retried once. 48001 is deliberately not here: it is a permission problem.
pub fn is_token_error(code: i64) -> bool {
    matches!(code, 40001 | 40014 | 42001)
}

/// Typing-indicator errors that are ignored (§5.2).
pub fn is_ignorable_typing_error(code: i64) -> bool {
    matches!(code, 45072 | 45080 | 45081)
}

/// What the engine should do about a non-zero `errcode`.
pub fn classify(code: i64, errmsg: &str) -> DeliveryError {
    let detail = format!("errcode {code}: {errmsg}");
    let give_up = |reason| DeliveryError::GiveUp {
        reason,
        detail: detail.clone(),
    };
    match code {
        -1 => DeliveryError::RetryLater {
            after: Some(Duration::from_secs(1)),
            detail,
        },
        45011 => DeliveryError::RetryLater {
            after: Some(Duration::from_secs(60)),
            detail,
        },
        40001 | 40014 | 42001 => DeliveryError::RefreshCredentials { detail },
        45015 => give_up(GiveUpReason::WindowClosed),
        45047 => give_up(GiveUpReason::QuotaExhausted),
        43004 => give_up(GiveUpReason::NotFollowing),
        40003 => give_up(GiveUpReason::UnknownUser),
        45002 | 45008 | 40007 | 40004 | 40005 | 40006 | 40009 | 40010 | 40011 | 45001 => {
            give_up(GiveUpReason::ContentRejected)
        }
        40200 => give_up(GiveUpReason::Unsupported),
        // 41001 token missing and 40033 bad charset are our bugs; 48001 missing permission,
        // 40164 / 895xx IP whitelist, 45009 daily quota, 40013/40125 bad AppID/secret: all for
        // the operators. Unknown codes too: they need a human to look.
        _ => DeliveryError::Misconfigured { detail },
    }
}

/// Transport failures: retry later, except a request we cannot even build.
pub fn from_api_error(e: &ApiError) -> DeliveryError {
    match e {
        ApiError::Tls(_) | ApiError::BadUrl(_) => DeliveryError::Misconfigured {
            detail: e.to_string(),
        },
        ApiError::Transport(_) | ApiError::Timeout(_) | ApiError::TooLarge(_) => {
            DeliveryError::RetryLater {
                after: None,
                detail: e.to_string(),
            }
        }
    }
}

/// Reads the `errcode` of a response if it is a JSON object carrying one (WeChat answers errors
/// with HTTP 200 and JSON even on binary endpoints such as `media/get`).
pub fn errcode_of(response: &ApiResponse) -> Option<ErrReply> {
    let looks_json = response.content_type().contains("json")
        || response.body.first().is_some_and(|&b| b == b'{');
    if !looks_json {
        return None;
    }
    serde_json::from_slice::<ErrReply>(&response.body)
        .ok()
        .filter(|r| r.errcode != 0)
}

/// An HTTP status outside 2xx: server trouble is retried, anything else needs a human.
pub fn from_http_status(response: &ApiResponse) -> Option<DeliveryError> {
    let status = response.status;
    if status.is_success() {
        None
    } else if status.is_server_error() || status.as_u16() == 429 {
        Some(DeliveryError::RetryLater {
            after: None,
            detail: format!("HTTP {status}"),
        })
    } else {
        Some(DeliveryError::Misconfigured {
            detail: format!("HTTP {status}"),
        })
    }
}
