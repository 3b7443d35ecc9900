//! The simulated Bot API server on loopback: `/bot<token>/<method>` (GET or POST, parameters in
//! the query, a form or JSON), `/file/bot<token>/<file_path>` downloads, and the phone page;
//! plus the handle tests and demos drive it with.

use std::time::Instant;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;

use super::config::BotSimConfig;
use super::methods::answer;
use super::params::Params;
use super::phone::Phone;
use super::reply::{Reply, description_for};
use super::state::{
    Attempt, BotMethod, CallRecord, ChatEntry, Hub, Injected, SentKind, SentMessage, Shared,
    StoredFile, Webhook, WebhookInfo,
};
use super::user::TelegramUser;
use crate::wechat::http::{Server, SimRequest};

/// A running Telegram Bot API simulator for one bot. Dropping it stops the server.
#[derive(Debug)]
pub struct TelegramBotSim {
    hub: Hub,
    server: Server,
}

impl TelegramBotSim {
    /// Starts the server on 127.0.0.1 and a free port.
    pub async fn start(config: BotSimConfig) -> std::io::Result<Self> {
        let hub = Shared::new(config);
        let shared = hub.clone();
        let server = Server::start(move |req| {
            let hub = shared.clone();
            async move { route(&hub, req).await }
        })
        .await?;
        Ok(Self { hub, server })
    }

    /// `http://127.0.0.1:PORT`: the API base to configure in the adapter (the real one is
    /// `https://api.telegram.org`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// `{base}/bot{token}/{method}`.
    pub fn method_url(&self, method: &str) -> String {
        let token = self.hub.lock().config.token.clone();
        format!("{}/bot{token}/{method}", self.base_url())
    }

    /// `http://127.0.0.1:PORT/phone?chat_id=…`: the chat page of one user.
    pub fn phone_url(&self, chat_id: i64) -> String {
        format!("{}/phone?chat_id={chat_id}", self.base_url())
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> BotSimConfig {
        self.hub.lock().config.clone()
    }

    /// Registers the private chat `chat_id` (the user has started the bot) and returns its
    /// user. Calling it again for the same chat gives another handle on the same chat, under
    /// the name given last.
    pub fn user(&self, chat_id: i64, first_name: &str) -> TelegramUser {
        TelegramUser::new(self.hub.clone(), chat_id, first_name)
    }

    /// Sets the webhook as `setWebhook` would (without its checks): where updates go and the
    /// secret they carry.
    pub fn set_webhook(&self, url: &str, secret: Option<&str>) {
        let mut s = self.hub.lock();
        let max_connections = s
            .webhook
            .as_ref()
            .map_or(super::state::DEFAULT_MAX_CONNECTIONS, |w| w.max_connections);
        s.webhook = Some(Webhook {
            url: url.to_owned(),
            secret: secret.map(str::to_owned),
            max_connections,
            allowed_updates: None,
        });
    }

    /// What `getWebhookInfo` would answer now.
    pub fn webhook_info(&self) -> WebhookInfo {
        self.hub.lock().webhook_info()
    }

    /// The secret of the current webhook, if any.
    pub fn webhook_secret(&self) -> Option<String> {
        self.hub
            .lock()
            .webhook
            .as_ref()
            .and_then(|w| w.secret.clone())
    }

    /// Every webhook delivery attempt, in order.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.hub.lock().attempts.clone()
    }

    /// The user of `chat_id` blocked the bot: sends are refused with 403 (no update is pushed;
    /// [`TelegramUser::block`] also pushes one).
    pub fn block(&self, chat_id: i64) {
        self.hub.lock().chat_entry(chat_id, None).blocked = true;
    }

    /// The user of `chat_id` unblocked the bot.
    pub fn unblock(&self, chat_id: i64) {
        self.hub.lock().chat_entry(chat_id, None).blocked = false;
    }

    /// The next call of `method` not yet claimed by an earlier injection answers `injected`
    /// (queued: one per call).
    pub fn inject(&self, method: BotMethod, injected: Injected) {
        self.hub
            .lock()
            .injected
            .entry(method)
            .or_default()
            .push_back(Some(injected));
    }

    /// The next call of `method` not yet claimed is served normally: `let_through` then
    /// `inject` fails the call after next.
    pub fn let_through(&self, method: BotMethod) {
        self.hub
            .lock()
            .injected
            .entry(method)
            .or_default()
            .push_back(None);
    }

    /// The next `count` sends (`sendMessage`, `sendPhoto`) that get as far as the rate limits
    /// are answered 429 with `retry_after_secs` (at least 1), whatever their timing.
    pub fn burst_429(&self, count: u32, retry_after_secs: u64) {
        self.hub.lock().limiter.force(count, retry_after_secs);
    }

    /// How many calls were answered 429, rate limits and injections alike.
    pub fn rate_limited_count(&self) -> u64 {
        self.hub.lock().rate_limited
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.hub.lock().calls.clone()
    }

    /// How many calls reached `method`.
    pub fn call_count(&self, method: BotMethod) -> usize {
        self.hub
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == Some(method))
            .count()
    }

    /// Messages the bot sent to `chat_id`, in order.
    pub fn sent(&self, chat_id: i64) -> Vec<SentMessage> {
        self.hub
            .lock()
            .sent
            .iter()
            .filter(|m| m.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// Texts the bot sent to `chat_id`, in order.
    pub fn sent_texts(&self, chat_id: i64) -> Vec<String> {
        self.sent(chat_id)
            .into_iter()
            .filter_map(|m| match m.kind {
                SentKind::Text(t) => Some(t),
                SentKind::Photo(_) => None,
            })
            .collect()
    }

    /// Chat actions (`typing`, …) the bot sent to `chat_id`, in order.
    pub fn chat_actions(&self, chat_id: i64) -> Vec<String> {
        self.hub
            .lock()
            .actions
            .iter()
            .filter(|(c, _)| *c == chat_id)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// What the chat's screen shows, in order.
    pub fn timeline(&self, chat_id: i64) -> Vec<ChatEntry> {
        self.hub
            .lock()
            .timeline
            .iter()
            .filter(|e| e.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// Stores a file as if a user had sent it; returns its `file_id` (for `getFile`,
    /// `sendPhoto` and [`TelegramUser::photo`]).
    pub fn add_file(&self, data: Bytes, content_type: &str) -> String {
        self.hub.lock().add_file(data, content_type)
    }

    /// The file stored under `file_id`.
    pub fn file(&self, file_id: &str) -> Option<StoredFile> {
        self.hub.lock().files.get(file_id).cloned()
    }
}

fn not_found() -> Response<Full<Bytes>> {
    Reply::fail(404, "Not Found".into()).into_response()
}

async fn route(hub: &Hub, req: SimRequest) -> Response<Full<Bytes>> {
    let path = req.parts.uri.path().to_owned();
    if Phone::serves(&path) {
        return Phone::serve(hub, req).await;
    }
    if let Some(rest) = path.strip_prefix("/file/bot") {
        return download(hub, &req, rest);
    }
    let Some(rest) = path.strip_prefix("/bot") else {
        return not_found();
    };
    let Some((token, method)) = rest.split_once('/') else {
        return not_found();
    };
    if let Some(reply) = check_token(hub, token) {
        return reply.into_response();
    }
    call(hub, method, &req).await.into_response()
}

/// 401 unless `token` is the bot's (with the Bot API's two wordings).
fn check_token(hub: &Hub, token: &str) -> Option<Reply> {
    let plausible = token.split_once(':').is_some_and(|(id, _)| {
        !id.is_empty() && !id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())
    }) && token.len() <= 80;
    if !plausible {
        return Some(Reply::fail(
            401,
            "Unauthorized: invalid token specified".into(),
        ));
    }
    (token != hub.lock().config.token).then(|| Reply::fail(401, "Unauthorized".into()))
}

/// The injection due for this call of `method`, if any.
fn injection(hub: &Hub, method: BotMethod) -> Option<Injected> {
    hub.lock()
        .injected
        .get_mut(&method)
        .and_then(|q| q.pop_front())
        .flatten()
}

async fn call(hub: &Hub, name: &str, req: &SimRequest) -> Reply {
    let method = BotMethod::parse(name);
    let params = Params::read(req);
    let mut injected = method.and_then(|m| injection(hub, m));
    if let Some(Injected::Delay(pause)) = injected {
        tokio::time::sleep(pause).await;
        injected = None;
    }
    let mut s = hub.lock();
    let reply = match (method, &params, injected) {
        (None, _, _) => Reply::fail(404, "Not Found".into()),
        (_, Err(reply), _) => reply.clone(),
        (Some(_), Ok(_), Some(injected)) => {
            let reply = injected_reply(&injected);
            if reply.status == 429 {
                s.rate_limited += 1;
            }
            reply
        }
        (Some(m), Ok(p), None) => answer(&mut s, m, p, Instant::now()),
    };
    s.calls.push(CallRecord {
        method,
        name: name.to_owned(),
        params: params.map(|p| p.0).unwrap_or_default(),
        status: reply.status,
        description: reply.description(),
    });
    reply
}

fn injected_reply(injected: &Injected) -> Reply {
    match injected {
        Injected::Status { code } => Reply::fail(*code, description_for(*code)),
        Injected::Error { code, description } => Reply::fail(*code, description.clone()),
        Injected::RetryAfter(secs) => Reply::retry_after((*secs).max(1)),
        Injected::Blocked => Reply::blocked(),
        Injected::ChatNotFound => Reply::bad_request("chat not found"),
        Injected::BadGatewayHtml => Reply::bad_gateway_html(),
        Injected::Delay(_) => Reply::fail(500, "Internal Server Error".into()),
    }
}

/// `GET /file/bot<token>/<file_path>`.
fn download(hub: &Hub, req: &SimRequest, rest: &str) -> Response<Full<Bytes>> {
    let Some((token, file_path)) = rest.split_once('/') else {
        return not_found();
    };
    if let Some(reply) = check_token(hub, token) {
        return reply.into_response();
    }
    if req.parts.method != http::Method::GET && req.parts.method != http::Method::HEAD {
        return not_found();
    }
    let s = hub.lock();
    match s.files.values().find(|f| f.file_path == file_path) {
        Some(f) => Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, f.content_type.as_str())
            .header(http::header::CONTENT_LENGTH, f.data.len())
            .body(Full::new(f.data.clone()))
            .unwrap_or_default(),
        None => not_found(),
    }
}
