//! The Bot API's answer envelope: `{"ok":true,"result":…}` with HTTP 200, or
//! `{"ok":false,"error_code":N,"description":…}` with HTTP status N, plus
//! `"parameters":{"retry_after":S}` and a `Retry-After` header on 429. Every answer is JSON,
//! except the front proxy's HTML 502 page that [`Injected::BadGatewayHtml`](super::Injected)
//! stands for.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

/// An answer before it becomes HTTP.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
    /// An HTML body instead of JSON.
    pub html: Option<&'static str>,
}

/// The page nginx answers in front of a Bot API that is down.
const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n";

/// The Bot API's usual description of an error code.
pub(super) fn description_for(code: u16) -> String {
    match code {
        400 => "Bad Request".into(),
        401 => "Unauthorized".into(),
        403 => "Forbidden".into(),
        404 => "Not Found".into(),
        409 => "Conflict".into(),
        429 => "Too Many Requests: retry after 1".into(),
        500 => "Internal Server Error".into(),
        502 => "Bad Gateway".into(),
        503 => "Service Unavailable".into(),
        504 => "Gateway Timeout".into(),
        _ => StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .into(),
    }
}

impl Reply {
    pub fn ok(result: Value) -> Reply {
        Reply {
            status: 200,
            body: json!({"ok": true, "result": result}),
            retry_after: None,
            html: None,
        }
    }

    /// `true` with a `description`, as `setWebhook` answers.
    pub fn ok_described(result: Value, description: &str) -> Reply {
        let mut reply = Reply::ok(result);
        reply.body["description"] = json!(description);
        reply
    }

    pub fn fail(code: u16, description: String) -> Reply {
        Reply {
            status: code,
            body: json!({"ok": false, "error_code": code, "description": description}),
            retry_after: None,
            html: None,
        }
    }

    pub fn bad_request(what: &str) -> Reply {
        Reply::fail(400, format!("Bad Request: {what}"))
    }

    pub fn blocked() -> Reply {
        Reply::fail(403, "Forbidden: bot was blocked by the user".into())
    }

    pub fn retry_after(secs: u64) -> Reply {
        let mut reply = Reply::fail(429, format!("Too Many Requests: retry after {secs}"));
        reply.body["parameters"] = json!({"retry_after": secs});
        reply.retry_after = Some(secs);
        reply
    }

    pub fn bad_gateway_html() -> Reply {
        Reply {
            status: 502,
            body: Value::Null,
            retry_after: None,
            html: Some(BAD_GATEWAY_HTML),
        }
    }

    /// The error description, for failures.
    pub fn description(&self) -> Option<String> {
        if self.status == 200 {
            return None;
        }
        match self.html {
            Some(_) => Some(description_for(self.status)),
            None => self.body["description"].as_str().map(str::to_owned),
        }
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = Response::builder().status(status);
        if let Some(secs) = self.retry_after {
            builder = builder.header(http::header::RETRY_AFTER, secs.to_string());
        }
        let (content_type, body) = match self.html {
            Some(page) => ("text/html", Bytes::from_static(page.as_bytes())),
            None => ("application/json", Bytes::from(self.body.to_string())),
        };
        builder
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .unwrap_or_default()
    }
}
