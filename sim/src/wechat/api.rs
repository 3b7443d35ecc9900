//! The WeChat API simulator: `cgi-bin/token`, `cgi-bin/stable_token`, `message/custom/send`,
//! `message/custom/typing`, `media/upload` and `media/get`, served over loopback HTTP with the
//! real API's habits (HTTP 200 with a JSON `errcode` for errors, `rid` in `errmsg`).
//!
//! It rejects what WeChat rejects: missing/unknown/expired tokens (41001/40001/42001), bad
//! AppID/secret (40013/40125), `\uXXXX`-escaped non-ASCII in JSON (40033), unknown or unfollowed
//! users (40003/43004), text over 2048 bytes (45002), unknown media (40007), a closed window or
//! exhausted quota (45015/45047, when enforced), and typing without a recent interaction or while
//! already typing (45080/45081). Any errcode can be injected for the next call to an endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use super::http::{Server, SimRequest};
use super::multipart::parse_media_form;
use super::phone::{Phone, PhoneConfig};
use super::state::{
    ApiConfig, CallRecord, Endpoint, PhoneEntry, PhoneEntryKind, SentMessage, State, StoredMedia,
    TokenKind,
};

/// A running WeChat API simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct WeChatApiSim {
    state: Arc<Mutex<State>>,
    phone: Arc<Phone>,
    server: Server,
}

/// A cheap handle on the simulator's state, for the simulated WeChat user to record
/// interactions.
#[derive(Debug, Clone)]
pub struct ApiHandle {
    pub(super) state: Arc<Mutex<State>>,
}

pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl ApiHandle {
    /// The user sent a message: opens the 48-hour window with a fresh quota.
    pub fn user_messaged(&self, openid: &str) {
        lock(&self.state).grant(openid, true);
    }

    /// The user followed, scanned a QR code or clicked a menu: opens the short window.
    pub fn user_event(&self, openid: &str) {
        lock(&self.state).grant(openid, false);
    }

    /// The user unfollowed.
    pub fn user_unfollowed(&self, openid: &str) {
        let mut s = lock(&self.state);
        let user = s.users.entry(openid.to_owned()).or_default();
        user.following = false;
        user.message = None;
        user.event = None;
    }
}

impl WeChatApiSim {
    /// Starts a simulator for one account on 127.0.0.1 and a free port.
    pub async fn start(config: ApiConfig) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State::new(config)));
        let phone = Arc::new(Phone::new(ApiHandle {
            state: state.clone(),
        }));
        let shared = state.clone();
        let desk = phone.clone();
        let server = Server::start(move |req| {
            let state = shared.clone();
            let phone = desk.clone();
            async move {
                if Phone::serves(req.parts.uri.path()) {
                    phone.serve(req).await
                } else {
                    handle(&state, req)
                }
            }
        })
        .await?;
        Ok(Self {
            state,
            phone,
            server,
        })
    }

    /// Points the phone page (`GET /phone`) at a gateway: where its users' pushes go and how
    /// they are signed. May be called at any time; users start afresh with the new settings.
    pub fn set_phone(&self, config: PhoneConfig) {
        self.phone.configure(config);
    }

    /// `http://127.0.0.1:PORT/phone?openid=…`: the phone page of one user.
    pub fn phone_url(&self, openid: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("openid", openid)
            .finish();
        format!("{}/phone?{query}", self.base_url())
    }

    /// What `openid`'s phone shows, in order (see [`PhoneEntry`]).
    pub fn phone_timeline(&self, openid: &str) -> Vec<PhoneEntry> {
        lock(&self.state)
            .timeline
            .iter()
            .filter(|e| e.openid == openid)
            .cloned()
            .collect()
    }

    /// `http://127.0.0.1:PORT`, to configure as the adapter's API base.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// A handle for recording user interactions.
    pub fn handle(&self) -> ApiHandle {
        ApiHandle {
            state: self.state.clone(),
        }
    }

    /// The next call to `endpoint` answers `errcode` (queued; one per call).
    pub fn inject(&self, endpoint: Endpoint, errcode: i64) {
        lock(&self.state)
            .injected
            .entry(endpoint)
            .or_default()
            .push_back(Some(errcode));
    }

    /// The next call to `endpoint` not yet claimed by [`inject`](Self::inject) is served
    /// normally: `let_through` then `inject` fails the call after next.
    pub fn let_through(&self, endpoint: Endpoint) {
        lock(&self.state)
            .injected
            .entry(endpoint)
            .or_default()
            .push_back(None);
    }

    /// Moves the simulator's clock forward.
    pub fn advance(&self, by: Duration) {
        lock(&self.state).offset += by;
    }

    /// The simulator's current time, unix seconds.
    pub fn now(&self) -> u64 {
        lock(&self.state).now()
    }

    /// Another party force-refreshed the stable token: the current one stops working at once.
    /// Returns the new token.
    pub fn force_refresh(&self) -> String {
        lock(&self.state).issue_token(TokenKind::Stable, 0)
    }

    /// Every token issued so far expires now.
    pub fn expire_tokens(&self) {
        let mut s = lock(&self.state);
        let now = s.now();
        for (_, exp) in s.tokens.values_mut() {
            *exp = now;
        }
    }

    /// All requests received, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        lock(&self.state).calls.clone()
    }

    /// How many requests reached `endpoint`.
    pub fn call_count(&self, endpoint: Endpoint) -> usize {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| c.endpoint == endpoint)
            .count()
    }

    /// Successful `custom/send` calls, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        lock(&self.state).sent.clone()
    }

    /// Texts successfully sent to `openid`, in order.
    pub fn sent_texts(&self, openid: &str) -> Vec<String> {
        lock(&self.state)
            .sent
            .iter()
            .filter(|m| m.to == openid)
            .filter_map(|m| m.text.clone())
            .collect()
    }

    /// Successful typing commands as `(openid, command)`.
    pub fn typing(&self) -> Vec<(String, String)> {
        lock(&self.state).typing.clone()
    }

    /// Stores media as if a user had sent it; returns its media id for `media/get`.
    pub fn add_media(&self, kind: &str, content_type: &str, data: Bytes) -> String {
        let mut s = lock(&self.state);
        let id = s.fresh_id("MEDIA");
        s.media.insert(
            id.clone(),
            StoredMedia {
                kind: kind.to_owned(),
                content_type: content_type.to_owned(),
                filename: format!("{id}.bin"),
                data,
            },
        );
        id
    }

    /// Media stored under `media_id` (uploaded or added).
    pub fn media(&self, media_id: &str) -> Option<StoredMedia> {
        lock(&self.state).media.get(media_id).cloned()
    }

    /// Serves `data` at `GET /files/{name}`, like any web server hosting an image; returns the
    /// URL.
    pub fn host_file(&self, name: &str, content_type: &str, data: Bytes) -> String {
        lock(&self.state)
            .files
            .insert(name.to_owned(), (content_type.to_owned(), data));
        format!("{}/files/{name}", self.base_url())
    }
}

fn json_response(value: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::OK)
        .header(
            http::header::CONTENT_TYPE,
            "application/json; encoding=utf-8",
        )
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_default()
}

fn error(errcode: i64) -> Value {
    let msg = match errcode {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        40003 => "invalid openid",
        40007 => "invalid media_id",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40033 => "invalid charset. please check your request, if include \\uxxxx will create fail!",
        40125 => "invalid appsecret",
        41001 => "access_token missing",
        42001 => "access_token expired",
        43004 => "require subscribe",
        44002 => "empty post data",
        45002 => "content size out of limit",
        45015 => "response out of time limit or subscription is canceled",
        45047 => "out of response count limit",
        45080 => "no message interaction with the user in the last 30 seconds",
        45081 => "already typing",
        47001 => "data format error",
        48001 => "api unauthorized",
        _ => "simulated error",
    };
    json!({"errcode": errcode, "errmsg": format!("{msg} rid: sim-{errcode}")})
}

fn ok() -> Value {
    json!({"errcode": 0, "errmsg": "ok"})
}

/// Whether a JSON text escapes a non-ASCII character as `\uXXXX` (WeChat does not decode these).
pub fn has_escaped_non_ascii(raw: &[u8]) -> bool {
    let mut i = 0;
    while i + 1 < raw.len() {
        if raw[i] == b'\\' {
            if raw[i + 1] == b'u'
                && let Some(hex) = raw.get(i + 2..i + 6)
                && let Ok(s) = std::str::from_utf8(hex)
                && let Ok(code) = u32::from_str_radix(s, 16)
                && code >= 0x80
            {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn handle(state: &Mutex<State>, req: SimRequest) -> Response<Full<Bytes>> {
    let path = req.parts.uri.path().to_owned();
    let query: HashMap<String, String> = req
        .parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let method = req.parts.method.clone();
    let endpoint = match (method.clone(), path.as_str()) {
        (Method::GET, "/cgi-bin/token") => Endpoint::Token,
        (Method::POST, "/cgi-bin/stable_token") => Endpoint::StableToken,
        (Method::POST, "/cgi-bin/message/custom/send") => Endpoint::CustomSend,
        (Method::POST, "/cgi-bin/message/custom/typing") => Endpoint::CustomTyping,
        (Method::POST, "/cgi-bin/media/upload") => Endpoint::MediaUpload,
        (Method::GET, "/cgi-bin/media/get") => Endpoint::MediaGet,
        (Method::GET, p) if p.starts_with("/files/") => {
            return serve_file(state, &p["/files/".len()..]);
        }
        _ => {
            return Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Full::new(Bytes::new()))
                .unwrap_or_default();
        }
    };
    let mut s = lock(state);
    let token = query.get("access_token").cloned();
    let (errcode, response) = answer(&mut s, endpoint, &query, &req);
    s.calls.push(CallRecord {
        endpoint,
        access_token: token,
        body: req.body.clone(),
        errcode,
    });
    response
}

fn answer(
    s: &mut State,
    endpoint: Endpoint,
    query: &HashMap<String, String>,
    req: &SimRequest,
) -> (i64, Response<Full<Bytes>>) {
    let fail = |code: i64| (code, json_response(&error(code)));
    if let Some(code) = s
        .injected
        .get_mut(&endpoint)
        .and_then(|q| q.pop_front())
        .flatten()
    {
        return fail(code);
    }
    match endpoint {
        Endpoint::Token => {
            if query.get("grant_type").map(String::as_str) != Some("client_credential") {
                return fail(40002);
            }
            if query.get("appid") != Some(&s.config.app_id) {
                return fail(40013);
            }
            if query.get("secret") != Some(&s.config.app_secret) {
                return fail(40125);
            }
            let token = s.issue_token(TokenKind::Classic, 300);
            let ttl = s.config.token_ttl;
            (
                0,
                json_response(&json!({"access_token": token, "expires_in": ttl})),
            )
        }
        Endpoint::StableToken => stable_token(s, &req.body),
        _ => {
            let code = s.check_token(query.get("access_token").map(String::as_str));
            if code != 0 {
                return fail(code);
            }
            match endpoint {
                Endpoint::CustomSend => custom_send(s, &req.body),
                Endpoint::CustomTyping => custom_typing(s, &req.body),
                Endpoint::MediaUpload => media_upload(s, query, req),
                _ => media_get(s, query),
            }
        }
    }
}

fn parse_json(body: &[u8]) -> Result<Value, i64> {
    if body.is_empty() {
        return Err(44002);
    }
    if has_escaped_non_ascii(body) {
        return Err(40033);
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or(47001)
}

fn stable_token(s: &mut State, body: &[u8]) -> (i64, Response<Full<Bytes>>) {
    let fail = |code: i64| (code, json_response(&error(code)));
    let v = match parse_json(body) {
        Ok(v) => v,
        Err(code) => return fail(code),
    };
    if v["grant_type"] != "client_credential" {
        return fail(40002);
    }
    if v["appid"] != s.config.app_id.as_str() {
        return fail(40013);
    }
    if v["secret"] != s.config.app_secret.as_str() {
        return fail(40125);
    }
    let now = s.now();
    let force = v["force_refresh"].as_bool().unwrap_or(false);
    let current = s
        .stable_current
        .clone()
        .and_then(|t| s.tokens.get(&t).map(|(_, exp)| (t, *exp)));
    let (token, exp) = match current {
        // Normal mode: the same token while it has more than 5 minutes left.
        Some((t, exp)) if !force && exp > now + 300 => (t, exp),
        _ => {
            let grace = if force { 0 } else { 300 };
            let t = s.issue_token(TokenKind::Stable, grace);
            let exp = s.tokens.get(&t).map_or(now, |(_, e)| *e);
            (t, exp)
        }
    };
    (
        0,
        json_response(&json!({"access_token": token, "expires_in": exp.saturating_sub(now)})),
    )
}

fn custom_send(s: &mut State, body: &[u8]) -> (i64, Response<Full<Bytes>>) {
    let fail = |code: i64| (code, json_response(&error(code)));
    let v = match parse_json(body) {
        Ok(v) => v,
        Err(code) => return fail(code),
    };
    let Some(to) = v["touser"].as_str().map(str::to_owned) else {
        return fail(40003);
    };
    let msg_type = v["msgtype"].as_str().unwrap_or_default().to_owned();
    let mut sent = SentMessage {
        to: to.clone(),
        msg_type: msg_type.clone(),
        text: None,
        media_id: None,
    };
    match msg_type.as_str() {
        "text" => {
            let Some(content) = v["text"]["content"].as_str() else {
                return fail(47001);
            };
            if content.is_empty() {
                return fail(47001);
            }
            if content.len() > s.config.max_text_bytes {
                return fail(45002);
            }
            sent.text = Some(content.to_owned());
        }
        "image" => {
            let Some(id) = v["image"]["media_id"].as_str() else {
                return fail(47001);
            };
            if s.media.get(id).is_none_or(|m| m.kind != "image") {
                return fail(40007);
            }
            sent.media_id = Some(id.to_owned());
        }
        _ => return fail(40008),
    }
    let code = s.admit_message(&to);
    if code != 0 {
        return fail(code);
    }
    let entry = match (&sent.text, &sent.media_id) {
        (Some(text), _) => PhoneEntryKind::Text(text.clone()),
        (None, Some(media_id)) => PhoneEntryKind::Image {
            media_id: media_id.clone(),
        },
        (None, None) => PhoneEntryKind::Notice(format!("[{}]", sent.msg_type)),
    };
    s.record(&to, entry);
    s.sent.push(sent);
    (0, json_response(&ok()))
}

fn custom_typing(s: &mut State, body: &[u8]) -> (i64, Response<Full<Bytes>>) {
    let fail = |code: i64| (code, json_response(&error(code)));
    let v = match parse_json(body) {
        Ok(v) => v,
        Err(code) => return fail(code),
    };
    let to = v["touser"].as_str().unwrap_or_default().to_owned();
    let command = v["command"].as_str().unwrap_or_default().to_owned();
    if command != "Typing" && command != "CancelTyping" {
        return fail(45072);
    }
    let now = s.now();
    let Some(user) = s.users.get_mut(&to) else {
        return fail(40003);
    };
    if !user.following {
        return fail(43004);
    }
    if command == "Typing" {
        if now > user.last_interaction + 30 {
            return fail(45080);
        }
        if now < user.typing_until {
            return fail(45081);
        }
        user.typing_until = now + 15;
    } else {
        user.typing_until = 0;
    }
    let entry = if command == "Typing" {
        PhoneEntryKind::Typing
    } else {
        PhoneEntryKind::CancelTyping
    };
    s.record(&to, entry);
    s.typing.push((to, command));
    (0, json_response(&ok()))
}

fn media_upload(
    s: &mut State,
    query: &HashMap<String, String>,
    req: &SimRequest,
) -> (i64, Response<Full<Bytes>>) {
    let fail = |code: i64| (code, json_response(&error(code)));
    let kind = query.get("type").cloned().unwrap_or_default();
    if !matches!(kind.as_str(), "image" | "voice" | "video" | "thumb") {
        return fail(40004);
    }
    let content_type = req
        .parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(file) = parse_media_form(content_type, &req.body) else {
        return fail(41005);
    };
    if file.data.is_empty() {
        return fail(41005);
    }
    if kind == "image" && !file.content_type.starts_with("image/") {
        return fail(40005);
    }
    if kind == "image" && file.data.len() > 10 * 1024 * 1024 {
        return fail(40009);
    }
    let id = s.fresh_id("MEDIA");
    let created_at = s.now();
    s.media.insert(
        id.clone(),
        StoredMedia {
            kind: kind.clone(),
            content_type: file.content_type,
            filename: file.filename,
            data: file.data,
        },
    );
    (
        0,
        json_response(&json!({"type": kind, "media_id": id, "created_at": created_at})),
    )
}

fn media_get(s: &State, query: &HashMap<String, String>) -> (i64, Response<Full<Bytes>>) {
    let Some(media) = query.get("media_id").and_then(|id| s.media.get(id)) else {
        return (40007, json_response(&error(40007)));
    };
    if media.kind == "video" {
        return (
            0,
            json_response(&json!({"video_url": "http://sim.invalid/video"})),
        );
    }
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, media.content_type.as_str())
        .header(
            http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", media.filename),
        )
        .body(Full::new(media.data.clone()))
        .unwrap_or_default();
    (0, response)
}

fn serve_file(state: &Mutex<State>, name: &str) -> Response<Full<Bytes>> {
    let s = lock(state);
    match s.files.get(name) {
        Some((ct, data)) => Response::builder()
            .header(http::header::CONTENT_TYPE, ct.as_str())
            .body(Full::new(data.clone()))
            .unwrap_or_default(),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new()))
            .unwrap_or_default(),
    }
}
