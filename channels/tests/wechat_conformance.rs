//! The shared channel conformance suite, run by the WeChat adapter against the simulator.

#![cfg(feature = "wechat")]

mod common;

use std::sync::Mutex;

use async_trait::async_trait;
use common::{Rig, plaintext_rig, request, rig};
use switchboard_channels::conformance::{self, Harness};
use switchboard_channels::webhook::MediaRef;
use switchboard_channels::{
    Capabilities, Channel, ChannelKind, Delivered, DeliveryError, InboundKind, Media, Outbound,
    UserId, Webhook, WebhookError, WebhookRequest,
};
use switchboard_sim::wechat::{Endpoint, Push, PushMode, WeChatUser};

struct WeChatHarness {
    rig: Rig,
    user: WeChatUser,
    /// Pushes handed out, so a redelivery can re-wrap the same content.
    pushes: Mutex<Vec<Push>>,
}

impl WeChatHarness {
    /// A user pushing in `mode` to an account configured for it: plaintext to an account
    /// without an EncodingAESKey, compatible and safe mode to one with a key.
    async fn new(mode: PushMode) -> Self {
        let rig = match mode {
            PushMode::Plaintext => plaintext_rig().await,
            PushMode::Compatible | PushMode::Safe => rig().await,
        };
        let user = rig.user("oConformance", mode);
        Self {
            rig,
            user,
            pushes: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Harness for WeChatHarness {
    fn user(&self) -> UserId {
        UserId::new(self.user.openid())
    }

    fn text_webhook(&self, text: &str) -> WebhookRequest {
        let push = self.user.text(text);
        self.pushes.lock().unwrap().push(push.clone());
        request(&push)
    }

    fn redelivery(&self, req: &WebhookRequest) -> WebhookRequest {
        // The same content with a new timestamp, nonce and random prefix: the strictest form a
        // retry could take.
        let pushes = self.pushes.lock().unwrap();
        match pushes.iter().find(|p| p.query == req.query) {
            Some(push) => request(&self.user.rewrap(push)),
            None => req.clone(),
        }
    }

    fn forged_webhook(&self) -> WebhookRequest {
        let push = self.user.text("forged");
        request(&push.with_query_param("signature", &"0".repeat(40)))
    }

    fn unknown_webhook(&self) -> WebhookRequest {
        request(&self.user.unknown("hologram"))
    }

    fn malformed_webhook(&self) -> WebhookRequest {
        request(
            &self
                .user
                .push("<xml><ToUserName>gh</ToUserName><unclosed></xml>"),
        )
    }

    fn oversized_webhook(&self) -> WebhookRequest {
        let filler = "a".repeat(128 * 1024);
        request(
            &self
                .user
                .push(&format!("<xml><Content>{filler}</Content></xml>")),
        )
    }

    async fn delivered_texts(&self, user: &UserId) -> Vec<String> {
        self.rig.sim.sent_texts(user.as_str())
    }

    async fn fail_next_send_transiently(&self) {
        self.rig.sim.inject(Endpoint::CustomSend, -1);
    }

    async fn fail_next_send_unreachable(&self) {
        self.rig.sim.inject(Endpoint::CustomSend, 45015);
    }
}

#[tokio::test]
async fn wechat_passes_the_conformance_suite_in_safe_mode() {
    let h = WeChatHarness::new(PushMode::Safe).await;
    let passed = conformance::run(h.rig.channel.as_ref(), &h).await.unwrap();
    assert!(passed >= 15, "{passed}");
}

#[tokio::test]
async fn wechat_passes_the_conformance_suite_in_plaintext_mode() {
    let h = WeChatHarness::new(PushMode::Plaintext).await;
    conformance::run(h.rig.channel.as_ref(), &h).await.unwrap();
}

/// An adapter that breaks one rule: it refuses types it does not know.
struct RefusesUnknownTypes<C>(C);

#[async_trait]
impl<C: Channel> Channel for RefusesUnknownTypes<C> {
    fn kind(&self) -> ChannelKind {
        self.0.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn parse_webhook(&self, req: &WebhookRequest) -> Result<Webhook, WebhookError> {
        let w = self.0.parse_webhook(req)?;
        if w.events
            .iter()
            .any(|e| matches!(e.kind, InboundKind::Other { .. }))
        {
            return Err(WebhookError::Malformed("unknown type".into()));
        }
        Ok(w)
    }
    async fn deliver(&self, to: &UserId, msg: &Outbound) -> Result<Delivered, DeliveryError> {
        self.0.deliver(to, msg).await
    }
    async fn fetch_media(&self, media: &MediaRef) -> Result<Media, DeliveryError> {
        self.0.fetch_media(media).await
    }
}

#[tokio::test]
async fn the_suite_catches_an_adapter_that_refuses_unknown_types() {
    let h = WeChatHarness::new(PushMode::Safe).await;
    let broken = RefusesUnknownTypes(h.rig.channel.clone());
    let err = conformance::run(&broken, &h).await.unwrap_err();
    let checks: Vec<&str> = err.failures.iter().map(|f| f.check).collect();
    assert_eq!(checks, ["unknown type is accepted"]);
}
