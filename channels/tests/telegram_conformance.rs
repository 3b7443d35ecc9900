//! The shared channel conformance suite, run by the Telegram adapter against the Bot API
//! simulator; and the Bot API's own failure answers as the adapter reads them.

#![cfg(feature = "telegram")]

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use switchboard_channels::conformance::{self, Harness};
use switchboard_channels::delivery::{DeliveryAction, GiveUpReason};
use switchboard_channels::telegram::{TelegramChannel, TelegramConfig};
use switchboard_channels::{
    Capabilities, Channel, ImageSource, InboundKind, Outbound, TypingState, UserId, WebhookRequest,
};
use switchboard_sim::telegram::{
    BotMethod, BotSimConfig, Injected, SECRET_HEADER, SentKind, TelegramBotSim, TelegramUser,
    Update, WebhookPost,
};

const TOKEN: &str = "7012345678:AAH-conformance_token-0123456789";
const SECRET: &str = "conformance-Secret_1";
const CHAT: i64 = 31_415_926;

struct TelegramHarness {
    sim: TelegramBotSim,
    user: TelegramUser,
}

impl TelegramHarness {
    async fn new(config: BotSimConfig) -> Self {
        let sim = TelegramBotSim::start(config).await.unwrap();
        // The adapter is called directly; the URL only has to be set for the secret to be.
        sim.set_webhook("http://127.0.0.1:9/channels/telegram", Some(SECRET));
        let user = sim.user(CHAT, "Conformance");
        Self { sim, user }
    }

    fn channel(&self) -> TelegramChannel {
        TelegramChannel::new(TelegramConfig::new(TOKEN, SECRET).with_api_base(self.sim.base_url()))
            .unwrap()
    }

    fn request(&self, update: &Update) -> WebhookRequest {
        request(self.user.webhook_post(update))
    }
}

/// The delivery as the engine hands it to the adapter.
fn request(post: WebhookPost) -> WebhookRequest {
    let mut req = WebhookRequest::new(Method::POST, "", post.body);
    req.headers = post.headers;
    req
}

fn with_secret(body: impl Into<Bytes>, secret: &str) -> WebhookRequest {
    let mut req = WebhookRequest::new(Method::POST, "", body.into());
    req.headers.insert(SECRET_HEADER, secret.parse().unwrap());
    req
}

#[async_trait]
impl Harness for TelegramHarness {
    fn user(&self) -> UserId {
        UserId::new(CHAT.to_string())
    }

    fn text_webhook(&self, text: &str) -> WebhookRequest {
        self.request(&self.user.text(text))
    }

    fn redelivery(&self, req: &WebhookRequest) -> WebhookRequest {
        // Telegram repeats the very same request: same update_id, same body, same header.
        req.clone()
    }

    fn forged_webhook(&self) -> WebhookRequest {
        with_secret(self.user.text("forged").body, "not-the-secret")
    }

    fn unknown_webhook(&self) -> WebhookRequest {
        self.request(&self.user.unmodelled("giveaway"))
    }

    fn malformed_webhook(&self) -> WebhookRequest {
        with_secret(&br#"{"update_id": 1, "message": {"chat":"#[..], SECRET)
    }

    fn oversized_webhook(&self) -> WebhookRequest {
        self.request(&self.user.text(&"a".repeat(300 * 1024)))
    }

    fn fits_one_message(&self, piece: &str, _: &Capabilities) -> bool {
        // Telegram counts a message's length in UTF-16 code units.
        piece.encode_utf16().count() <= 4096
    }

    async fn delivered_texts(&self, user: &UserId) -> Vec<String> {
        self.sim
            .sent_texts(user.as_str().parse().unwrap_or_default())
    }

    async fn fail_next_send_transiently(&self) {
        self.sim
            .inject(BotMethod::SendMessage, Injected::Status { code: 500 });
    }

    async fn fail_next_send_unreachable(&self) {
        // The user blocked the bot: 403 `Forbidden: bot was blocked by the user`.
        self.sim.block(CHAT);
    }
}

#[tokio::test]
async fn telegram_passes_the_conformance_suite() {
    let h = TelegramHarness::new(BotSimConfig::new(TOKEN).without_rate_limits()).await;
    let passed = conformance::run(&h.channel(), &h).await.unwrap();
    assert!(passed >= 15, "{passed}");
}

#[tokio::test]
async fn a_429_reaches_the_adapter_with_its_retry_after() {
    let h = TelegramHarness::new(BotSimConfig::new(TOKEN).without_rate_limits()).await;
    let channel = h.channel();
    h.sim.burst_429(1, 7);
    let err = channel
        .deliver(&h.user(), &Outbound::Text("hi".into()))
        .await
        .unwrap_err();
    assert_eq!(err.action(), DeliveryAction::RetryLater);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(
        channel
            .deliver(&h.user(), &Outbound::Text("hi".into()))
            .await
            .is_ok()
    );
    assert_eq!(h.sim.rate_limited_count(), 1);
}

#[tokio::test]
async fn telegrams_per_chat_pace_is_a_retry_after_for_the_adapter() {
    let mut config = BotSimConfig::new(TOKEN);
    config.per_chat_burst = 1;
    let h = TelegramHarness::new(config).await;
    let channel = h.channel();
    channel
        .deliver(&h.user(), &Outbound::Text("one".into()))
        .await
        .unwrap();
    let err = channel
        .deliver(&h.user(), &Outbound::Text("two".into()))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(h.sim.sent_texts(CHAT), ["one"]);
}

#[tokio::test]
async fn the_fronts_html_502_and_a_blocked_chat_mean_retry_and_give_up() {
    let h = TelegramHarness::new(BotSimConfig::new(TOKEN).without_rate_limits()).await;
    let channel = h.channel();
    h.sim
        .inject(BotMethod::SendMessage, Injected::BadGatewayHtml);
    let down = channel
        .deliver(&h.user(), &Outbound::Text("x".into()))
        .await
        .unwrap_err();
    assert_eq!(down.action(), DeliveryAction::RetryLater);
    h.sim.inject(BotMethod::SendMessage, Injected::ChatNotFound);
    let gone = channel
        .deliver(&h.user(), &Outbound::Text("x".into()))
        .await
        .unwrap_err();
    assert_eq!(gone.give_up_reason(), Some(GiveUpReason::UnknownUser));
    h.sim.block(CHAT);
    let blocked = channel
        .deliver(&h.user(), &Outbound::Text("x".into()))
        .await
        .unwrap_err();
    assert_eq!(blocked.give_up_reason(), Some(GiveUpReason::NotFollowing));
}

#[tokio::test]
async fn the_adapter_reads_the_updates_the_simulator_builds() {
    let h = TelegramHarness::new(BotSimConfig::new(TOKEN).without_rate_limits()).await;
    let channel = h.channel();
    let events = |update: Update| channel.parse_webhook(&h.request(&update)).unwrap().events;
    let start = events(h.user.start(Some("promo-9")));
    assert_eq!(
        start[0].kind,
        InboundKind::Followed {
            key: Some("promo-9".into())
        }
    );
    let photo_id = h.sim.add_file(Bytes::from_static(b"jpeg"), "image/jpeg");
    let photo = events(h.user.photo(&photo_id));
    assert!(
        matches!(&photo[0].kind, InboundKind::Image { media } if media.id == photo_id),
        "{photo:?}"
    );
    let voice = events(h.user.voice("AwACvoice", 2));
    assert!(matches!(&voice[0].kind, InboundKind::Voice { .. }));
    let edit = events(h.user.edit(1, "fixed"));
    assert_eq!(
        edit[0].kind,
        InboundKind::Text {
            text: "(edited) fixed".into()
        }
    );
    let blocked = events(h.user.blocked_update());
    assert_eq!(blocked[0].kind, InboundKind::Unfollowed);
    assert_eq!(blocked[0].user, h.user());
    assert!(events(h.user.poll()).is_empty());
}

#[tokio::test]
async fn typing_and_photos_reach_the_simulator() {
    let h = TelegramHarness::new(BotSimConfig::new(TOKEN).without_rate_limits()).await;
    let channel = h.channel();
    channel
        .deliver(&h.user(), &Outbound::Typing(TypingState::On))
        .await
        .unwrap();
    assert_eq!(h.sim.chat_actions(CHAT), ["typing"]);
    let url = "https://example.com/receipt.png";
    channel
        .deliver(&h.user(), &Outbound::Image(ImageSource::Url(url.into())))
        .await
        .unwrap();
    assert_eq!(h.sim.sent(CHAT)[0].kind, SentKind::Photo(url.into()));
}
