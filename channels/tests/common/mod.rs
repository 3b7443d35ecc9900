//! Shared test rig: the WeChat API simulator on loopback, an adapter pointed at it with a
//! manual clock, simulated users, and a minimal engine-like webhook server.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use switchboard_channels::dedupe::RecentKeys;
use switchboard_channels::wechat::{
    Clock, MemoryTokenStore, TokenStore, WeChatChannel, WeChatConfig,
};
use switchboard_channels::{Channel, InboundEvent, WebhookRequest};
use switchboard_sim::wechat::http::Server;
use switchboard_sim::wechat::{
    AccountSettings, ApiConfig, Push, PushMode, WeChatApiSim, WeChatUser,
};

pub const APP_ID: &str = "wx2c2769f8efd9abc2";
pub const APP_SECRET: &str = "sim-app-secret";
pub const TOKEN: &str = "spamtest";
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub const ACCOUNT: &str = "gh_10f6c3c3ac5a";

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Self(AtomicU64::new(now))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct Rig {
    pub sim: WeChatApiSim,
    pub channel: Arc<WeChatChannel>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn TokenStore>,
}

pub fn config(api_base: &str) -> WeChatConfig {
    WeChatConfig::new(APP_ID, APP_SECRET, TOKEN, Some(AES_KEY)).with_api_base(api_base)
}

/// An account in plaintext mode: no EncodingAESKey configured.
pub fn plaintext_config(api_base: &str) -> WeChatConfig {
    WeChatConfig::new(APP_ID, APP_SECRET, TOKEN, None).with_api_base(api_base)
}

/// An account in compatible/safe mode (an EncodingAESKey configured).
pub async fn rig() -> Rig {
    rig_with(
        ApiConfig::new(APP_ID, APP_SECRET),
        Arc::new(MemoryTokenStore::default()),
    )
    .await
}

/// An account in plaintext mode.
pub async fn plaintext_rig() -> Rig {
    rig_configured(
        ApiConfig::new(APP_ID, APP_SECRET),
        Arc::new(MemoryTokenStore::default()),
        plaintext_config,
    )
    .await
}

pub async fn rig_with(api: ApiConfig, store: Arc<dyn TokenStore>) -> Rig {
    rig_configured(api, store, config).await
}

pub async fn rig_configured(
    api: ApiConfig,
    store: Arc<dyn TokenStore>,
    config: fn(&str) -> WeChatConfig,
) -> Rig {
    let sim = WeChatApiSim::start(api).await.unwrap();
    let clock = Arc::new(ManualClock::new());
    let channel =
        WeChatChannel::with_parts(config(&sim.base_url()), store.clone(), clock.clone()).unwrap();
    Rig {
        sim,
        channel: Arc::new(channel),
        clock,
        store,
    }
}

impl Rig {
    pub fn user(&self, openid: &str, mode: PushMode) -> WeChatUser {
        WeChatUser::new(settings(mode), openid, Some(self.sim.handle()))
    }

    /// The user writes `text` and the adapter sees it (which opens the send window).
    pub fn user_writes(&self, user: &WeChatUser, text: &str) -> Vec<InboundEvent> {
        self.channel
            .parse_webhook(&request(&user.text(text)))
            .unwrap()
            .events
    }
}

pub fn settings(mode: PushMode) -> AccountSettings {
    AccountSettings {
        account: ACCOUNT.into(),
        app_id: APP_ID.into(),
        token: TOKEN.into(),
        encoding_aes_key: AES_KEY.into(),
        mode,
    }
}

/// The push as the engine hands it to the adapter.
pub fn request(push: &Push) -> WebhookRequest {
    WebhookRequest::new(push.method.clone(), push.query.clone(), push.body.clone())
}

/// A minimal engine front: parses with the adapter, drops already-seen dedupe keys, records the
/// rest, and answers exactly what the adapter says.
pub struct MiniEngine {
    pub server: Server,
    pub processed: Arc<Mutex<Vec<InboundEvent>>>,
}

impl MiniEngine {
    pub async fn start(channel: Arc<dyn Channel>) -> Self {
        let processed = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::new(Mutex::new(RecentKeys::new(
            Duration::from_secs(600),
            10_000,
        )));
        let sink = processed.clone();
        let server = Server::start(move |req| {
            let channel = channel.clone();
            let sink = sink.clone();
            let seen = seen.clone();
            async move {
                let request = WebhookRequest::new(
                    req.parts.method.clone(),
                    req.parts.uri.query().unwrap_or_default(),
                    req.body,
                );
                match channel.parse_webhook(&request) {
                    Ok(webhook) => {
                        for event in webhook.events {
                            if seen
                                .lock()
                                .unwrap()
                                .insert(&event.dedupe_key, Instant::now())
                            {
                                sink.lock().unwrap().push(event);
                            }
                        }
                        let mut builder = Response::builder().status(webhook.reply.status);
                        if let Some(ct) = webhook.reply.content_type {
                            builder = builder.header(http::header::CONTENT_TYPE, ct);
                        }
                        builder.body(Full::new(webhook.reply.body)).unwrap()
                    }
                    Err(e) => Response::builder()
                        .status(e.status())
                        .body(Full::new(Bytes::from(e.to_string())))
                        .unwrap(),
                }
            }
        })
        .await
        .unwrap();
        Self { server, processed }
    }

    pub fn url(&self) -> String {
        format!("http://{}/channels/wechat", self.server.addr())
    }
}
