//! Outbound through the simulator over loopback HTTP (§5): text splitting and encoding (J1),
//! images, typing, inbound media, the window and quota (Q1), and the errcode mapping.

#![cfg(feature = "wechat")]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::rig;
use switchboard_channels::webhook::MediaRef;
use switchboard_channels::wechat::errcode::classify;
use switchboard_channels::{
    Channel, DeliveryAction, DeliveryError, GiveUpReason, ImageSource, InboundKind, Media,
    Outbound, TypingState, UserId,
};
use switchboard_sim::wechat::{ApiConfig, Endpoint, PushMode};

fn text(s: &str) -> Outbound {
    Outbound::Text(s.into())
}

#[tokio::test]
async fn j1_sends_chinese_and_emoji_as_raw_utf8_json() {
    let rig = rig().await;
    let user = rig.user("oJ1", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oJ1");
    rig.channel.deliver(&to, &text("你好😀")).await.unwrap();
    let body = rig
        .sim
        .calls()
        .into_iter()
        .find(|c| c.endpoint == Endpoint::CustomSend)
        .unwrap()
        .body;
    let raw = String::from_utf8(body.to_vec()).unwrap();
    assert!(raw.contains("你好😀"), "{raw}");
    assert!(!raw.contains("\\u"), "{raw}");
    assert_eq!(rig.sim.sent_texts("oJ1"), ["你好😀"]);
}

#[tokio::test]
async fn strips_control_characters_that_json_would_escape() {
    let rig = rig().await;
    let user = rig.user("oCtl", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oCtl");
    rig.channel
        .deliver(&to, &text("a\u{1}b\nc\td"))
        .await
        .unwrap();
    assert_eq!(rig.sim.sent_texts("oCtl"), ["ab\nc\td"]);
}

#[tokio::test]
async fn splits_text_at_2048_bytes_on_char_boundaries() {
    let rig = rig().await;
    let user = rig.user("oLong", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oLong");
    // 3 bytes + 4 bytes per unit: 2048 is not a multiple of either, so naive cuts would split.
    let long = "中😀".repeat(600);
    assert_eq!(long.len(), 4200);
    let delivered = rig
        .channel
        .deliver(&to, &Outbound::Text(long.clone()))
        .await
        .unwrap();
    assert_eq!(delivered.parts, 3);
    let sent = rig.sim.sent_texts("oLong");
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter().all(|p| p.len() <= 2048),
        "{:?}",
        sent.iter().map(String::len).collect::<Vec<_>>()
    );
    assert_eq!(sent.concat(), long);
}

#[tokio::test]
async fn reports_a_partial_delivery_when_a_later_piece_fails() {
    let rig = rig().await;
    let user = rig.user("oPart", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oPart");
    for i in 0..4 {
        rig.channel
            .deliver(&to, &text(&format!("m{i}")))
            .await
            .unwrap();
    }
    // Two pieces, one message left in the quota: the second piece is refused with 45047.
    let long = format!("{}{}", "x".repeat(2048), "y".repeat(100));
    let err = rig
        .channel
        .deliver(&to, &Outbound::Text(long))
        .await
        .unwrap_err();
    match &err {
        DeliveryError::Partial {
            delivered, total, ..
        } => assert_eq!((*delivered, *total), (1, 2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.give_up_reason(), Some(GiveUpReason::QuotaExhausted));
    assert_eq!(
        rig.sim.sent_texts("oPart").last().unwrap(),
        &"x".repeat(2048)
    );
}

#[test]
fn partial_delivery_reports_progress_and_the_underlying_action() {
    let err = DeliveryError::Partial {
        delivered: 1,
        total: 2,
        error: Box::new(classify(-1, "system error")),
    };
    assert_eq!(err.action(), DeliveryAction::RetryLater);
    assert!(err.to_string().starts_with("1 of 2 parts delivered"));
}

#[tokio::test]
async fn uploads_an_image_then_sends_it_by_media_id() {
    let rig = rig().await;
    let user = rig.user("oImg", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oImg");
    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\nnot really a png");
    let media = Media {
        content_type: "image/png".into(),
        filename: "a.png".into(),
        data: png.clone(),
    };
    rig.channel
        .deliver(&to, &Outbound::Image(ImageSource::Bytes(media)))
        .await
        .unwrap();
    let sent = rig.sim.sent();
    let id = sent[0].media_id.clone().unwrap();
    let stored = rig.sim.media(&id).unwrap();
    assert_eq!(stored.data, png);
    assert_eq!(stored.content_type, "image/png");
    assert_eq!(stored.filename, "a.png");
}

#[tokio::test]
async fn fetches_an_image_url_before_uploading_it() {
    let rig = rig().await;
    let user = rig.user("oImgUrl", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oImgUrl");
    let jpeg = Bytes::from_static(b"\xff\xd8\xff\xe0jpeg bytes");
    let url = rig.sim.host_file("cat.jpg", "image/jpeg", jpeg.clone());
    rig.channel
        .deliver(&to, &Outbound::Image(ImageSource::Url(url)))
        .await
        .unwrap();
    let id = rig.sim.sent()[0].media_id.clone().unwrap();
    assert_eq!(rig.sim.media(&id).unwrap().data, jpeg);

    let html = rig
        .sim
        .host_file("page.html", "text/html", Bytes::from_static(b"<html>"));
    let err = rig
        .channel
        .deliver(&to, &Outbound::Image(ImageSource::Url(html)))
        .await
        .unwrap_err();
    assert_eq!(err.give_up_reason(), Some(GiveUpReason::ContentRejected));
}

#[tokio::test]
async fn downloads_inbound_images_and_reports_expired_media() {
    let rig = rig().await;
    let user = rig.user("oPic", PushMode::Safe);
    let jpeg = Bytes::from_static(b"\xff\xd8\xffuser photo");
    let media_id = rig.sim.add_media("image", "image/jpeg", jpeg.clone());
    let webhook = rig
        .channel
        .parse_webhook(&common::request(&user.image(&media_id)))
        .unwrap();
    let InboundKind::Image { media } = &webhook.events[0].kind else {
        panic!("{:?}", webhook.events)
    };
    let fetched = rig.channel.fetch_media(media).await.unwrap();
    assert_eq!(fetched.data, jpeg);
    assert_eq!(fetched.content_type, "image/jpeg");

    let missing = MediaRef {
        id: "expired".into(),
        url: None,
        format: None,
    };
    let err = rig.channel.fetch_media(&missing).await.unwrap_err();
    assert_eq!(
        err.give_up_reason(),
        Some(GiveUpReason::ContentRejected),
        "{err:?}"
    );
}

#[tokio::test]
async fn throttles_typing_to_one_indicator_per_15_seconds() {
    let rig = rig().await;
    let user = rig.user("oTyping", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oTyping");
    let on = Outbound::Typing(TypingState::On);
    assert_eq!(rig.channel.deliver(&to, &on).await.unwrap().parts, 1);
    assert_eq!(rig.channel.deliver(&to, &on).await.unwrap().parts, 0);
    assert_eq!(rig.sim.call_count(Endpoint::CustomTyping), 1);
    rig.clock.advance(Duration::from_secs(16));
    rig.sim.advance(Duration::from_secs(16));
    // The simulator now refuses (no interaction within 30 s is not yet the case: 16 s passed).
    assert_eq!(rig.channel.deliver(&to, &on).await.unwrap().parts, 1);
    let off = Outbound::Typing(TypingState::Off);
    assert_eq!(rig.channel.deliver(&to, &off).await.unwrap().parts, 1);
    assert_eq!(rig.channel.deliver(&to, &off).await.unwrap().parts, 0);
    let commands: Vec<String> = rig.sim.typing().into_iter().map(|(_, c)| c).collect();
    assert_eq!(commands, ["Typing", "Typing", "CancelTyping"]);
}

#[tokio::test]
async fn ignores_typing_errors_the_platform_raises_for_stale_interactions() {
    let rig = rig().await;
    let user = rig.user("oTypingLate", PushMode::Safe);
    rig.user_writes(&user, "hi");
    rig.sim.advance(Duration::from_secs(60));
    let to = UserId::new("oTypingLate");
    let delivered = rig
        .channel
        .deliver(&to, &Outbound::Typing(TypingState::On))
        .await
        .unwrap();
    assert_eq!(delivered.parts, 0);
    assert_eq!(rig.sim.calls().last().unwrap().errcode, 45080);
}

#[tokio::test]
async fn q1_a_used_up_quota_is_the_apis_refusal_given_up_with_its_reason() {
    let rig = rig().await;
    let user = rig.user("oQuota", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oQuota");
    for i in 0..5 {
        rig.channel
            .deliver(&to, &text(&format!("m{i}")))
            .await
            .unwrap();
    }
    let err = rig.channel.deliver(&to, &text("sixth")).await.unwrap_err();
    assert_eq!(err.give_up_reason(), Some(GiveUpReason::QuotaExhausted));
    assert_eq!(err.action(), DeliveryAction::GiveUpAndTellAgent);
    assert_eq!(
        rig.sim.call_count(Endpoint::CustomSend),
        6,
        "one call per send, the refused one included (the conversation keeps the count)"
    );

    // The next user message reopens the budget at the API.
    user.advance_secs(1);
    rig.user_writes(&user, "still there?");
    rig.channel.deliver(&to, &text("yes")).await.unwrap();
    assert_eq!(rig.sim.sent_texts("oQuota").last().unwrap(), "yes");
}

#[tokio::test]
async fn q1_a_closed_window_and_an_unfollowed_user_are_given_up_with_their_reasons() {
    let rig = rig().await;
    let user = rig.user("oWindow", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oWindow");
    rig.sim.advance(Duration::from_secs(49 * 3600));
    let err = rig.channel.deliver(&to, &text("late")).await.unwrap_err();
    assert_eq!(err.give_up_reason(), Some(GiveUpReason::WindowClosed));
    assert_eq!(err.action(), DeliveryAction::GiveUpAndTellAgent);

    let gone = rig.user("oGone", PushMode::Safe);
    rig.user_writes(&gone, "hi");
    gone.advance_secs(1);
    rig.channel
        .parse_webhook(&common::request(&gone.event("unsubscribe", None)))
        .unwrap();
    let err = rig
        .channel
        .deliver(&UserId::new("oGone"), &text("x"))
        .await
        .unwrap_err();
    assert_eq!(err.give_up_reason(), Some(GiveUpReason::NotFollowing));
    assert!(rig.sim.sent_texts("oGone").is_empty());
}

#[tokio::test]
async fn a_menu_click_opens_a_short_window_of_three_messages_at_the_api() {
    let rig = common::rig_with(
        ApiConfig::new(common::APP_ID, common::APP_SECRET),
        std::sync::Arc::new(switchboard_channels::wechat::MemoryTokenStore::default()),
    )
    .await;
    let user = rig.user("oClick", PushMode::Safe);
    rig.channel
        .parse_webhook(&common::request(&user.event("CLICK", Some("HELP"))))
        .unwrap();
    let to = UserId::new("oClick");
    for _ in 0..3 {
        rig.channel.deliver(&to, &text("ok")).await.unwrap();
    }
    let err = rig.channel.deliver(&to, &text("fourth")).await.unwrap_err();
    assert_eq!(err.give_up_reason(), Some(GiveUpReason::QuotaExhausted));
}

#[tokio::test]
async fn retries_later_on_system_busy_and_minute_quota() {
    let rig = rig().await;
    let user = rig.user("oBusy", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oBusy");
    for code in [-1, 45011] {
        rig.sim.inject(Endpoint::CustomSend, code);
        let err = rig.channel.deliver(&to, &text("x")).await.unwrap_err();
        assert_eq!(err.action(), DeliveryAction::RetryLater, "{code}");
    }
    rig.channel.deliver(&to, &text("x")).await.unwrap();
}

#[tokio::test]
async fn retries_later_when_the_api_is_unreachable() {
    let rig = rig().await;
    let config = common::config("http://127.0.0.1:1");
    let channel = switchboard_channels::wechat::WeChatChannel::new(config).unwrap();
    let err = channel
        .deliver(&UserId::new("o"), &text("x"))
        .await
        .unwrap_err();
    assert_eq!(err.action(), DeliveryAction::RetryLater, "{err:?}");
    drop(rig);
}

#[test]
fn maps_the_error_table_onto_delivery_actions() {
    use DeliveryAction::*;
    let cases = [
        (-1, RetryLater),
        (45011, RetryLater),
        (40001, RefreshCredentialsAndRetryOnce),
        (40014, RefreshCredentialsAndRetryOnce),
        (42001, RefreshCredentialsAndRetryOnce),
        (41001, AlertOperators),
        (40003, GiveUpAndTellAgent),
        (43004, GiveUpAndTellAgent),
        (45015, GiveUpAndTellAgent),
        (45047, GiveUpAndTellAgent),
        (45009, AlertOperators),
        (45002, GiveUpAndTellAgent),
        (45008, GiveUpAndTellAgent),
        (40007, GiveUpAndTellAgent),
        (40033, AlertOperators),
        (40200, GiveUpAndTellAgent),
        (48001, AlertOperators),
        (40164, AlertOperators),
        (89503, AlertOperators),
    ];
    for (code, action) in cases {
        assert_eq!(classify(code, "msg").action(), action, "errcode {code}");
    }
    assert_eq!(
        classify(45015, "").give_up_reason(),
        Some(GiveUpReason::WindowClosed)
    );
    assert_eq!(
        classify(45047, "").give_up_reason(),
        Some(GiveUpReason::QuotaExhausted)
    );
}
