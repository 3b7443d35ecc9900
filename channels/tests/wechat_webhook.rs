//! The webhook endpoint (§1, §2, §4): URL verification, the three push modes, signature and
//! AppID checks, size and format limits, unknown types, and retries (R1) over real HTTP.

#![cfg(feature = "wechat")]

mod common;

use bytes::Bytes;
use common::{MiniEngine, plaintext_rig, request, rig};
use http::{Method, StatusCode};
use switchboard_channels::wechat::{WeChatChannel, WeChatConfig};
use switchboard_channels::{Channel, InboundKind, WebhookError, WebhookRequest};
use switchboard_sim::wechat::{Push, PushMode};

fn vector_a_channel() -> WeChatChannel {
    let config = WeChatConfig::new(
        "wx2c2769f8efd9abc2",
        "unused",
        "spamtest",
        Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
    )
    .with_api_base("http://127.0.0.1:9");
    WeChatChannel::new(config).unwrap()
}

const A_QUERY: &str = "signature=16120ec1b8dbb870f510d87ce6bc2463eae6ca1a&timestamp=1409735669&nonce=1320562132&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs&encrypt_type=aes&msg_signature=5d197aaffba7e9b25a30732f161a50dee96bd5fa";
const A_BODY: &str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>";

#[tokio::test]
async fn accepts_the_official_safe_mode_sample_push() {
    let channel = vector_a_channel();
    let webhook = channel
        .parse_webhook(&WebhookRequest::new(Method::POST, A_QUERY, A_BODY))
        .unwrap();
    assert_eq!(webhook.reply.status, StatusCode::OK);
    assert!(
        webhook.reply.body.is_empty(),
        "safe mode answers an empty body"
    );
    let [event] = webhook.events.as_slice() else {
        panic!("{:?}", webhook.events)
    };
    assert_eq!(event.user.as_str(), "oyORnuP8q7ou2gfYjqLzSIWZf0rs");
    assert_eq!(event.created_at, 1409735668);
    assert_eq!(
        event.kind,
        InboundKind::Text {
            text: "abcdteT".into()
        }
    );
    assert_eq!(
        event.dedupe_key.0,
        "wechat/msg/gh_10f6c3c3ac5a/oyORnuP8q7ou2gfYjqLzSIWZf0rs/6054768590064713728"
    );
}

#[tokio::test]
async fn rejects_push_with_bad_msg_signature() {
    let channel = vector_a_channel();
    // A-sig: nonce changed (plain signature recomputed so that only msg_signature is wrong).
    let query = A_QUERY
        .replace("nonce=1320562132", "nonce=1320562133")
        .replace(
            "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a",
            &switchboard_channels::wechat::signature::sign(&[
                "spamtest",
                "1409735669",
                "1320562133",
            ]),
        );
    let err = channel
        .parse_webhook(&WebhookRequest::new(Method::POST, query, A_BODY))
        .unwrap_err();
    assert!(matches!(err, WebhookError::BadSignature(_)), "{err:?}");
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rejects_push_with_bad_plain_signature() {
    let channel = vector_a_channel();
    let query = A_QUERY.replace("16120ec1b8", "26120ec1b8");
    let err = channel
        .parse_webhook(&WebhookRequest::new(Method::POST, query, A_BODY))
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    let err = channel
        .parse_webhook(&WebhookRequest::new(
            Method::POST,
            "timestamp=1&nonce=2",
            A_BODY,
        ))
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rejects_push_encrypted_for_another_appid() {
    let config = WeChatConfig::new(
        "wx2c2769f8efd9abc3",
        "unused",
        "spamtest",
        Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
    );
    let channel = WeChatChannel::new(config).unwrap();
    let err = channel
        .parse_webhook(&WebhookRequest::new(Method::POST, A_QUERY, A_BODY))
        .unwrap_err();
    assert!(err.to_string().contains("-40005"), "{err}");
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn echoes_echostr_verbatim_on_url_verification() {
    let rig = rig().await;
    let user = rig.user("oVerify", PushMode::Safe);
    let echostr = "5927782489442352469";
    let webhook = rig
        .channel
        .parse_webhook(&request(&user.verification(echostr)))
        .unwrap();
    assert_eq!(webhook.reply.status, StatusCode::OK);
    assert_eq!(
        webhook.reply.body,
        Bytes::from_static(b"5927782489442352469")
    );
    assert!(webhook.events.is_empty());

    let forged = user
        .verification(echostr)
        .with_query_param("signature", &"0".repeat(40));
    assert_eq!(
        rig.channel
            .parse_webhook(&request(&forged))
            .unwrap_err()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn accepts_pushes_in_plaintext_compatible_and_safe_mode() {
    let plaintext_account = plaintext_rig().await;
    let encrypted_account = rig().await;
    for (rig, mode, empty_reply) in [
        (&plaintext_account, PushMode::Plaintext, false),
        (&encrypted_account, PushMode::Compatible, true),
        (&encrypted_account, PushMode::Safe, true),
    ] {
        let user = rig.user(&format!("o{mode:?}"), mode);
        let push = user.text("héllo ]]> <&> 😀");
        let webhook = rig.channel.parse_webhook(&request(&push)).unwrap();
        assert_eq!(webhook.reply.status, StatusCode::OK, "{mode:?}");
        if empty_reply {
            assert!(webhook.reply.body.is_empty(), "{mode:?}");
        } else {
            assert_eq!(webhook.reply.body, Bytes::from_static(b"success"));
        }
        assert_eq!(
            webhook.events[0].kind,
            InboundKind::Text {
                text: "héllo ]]> <&> 😀".into()
            },
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn refuses_a_plaintext_push_to_an_account_with_an_aes_key_with_401() {
    let rig = rig().await;
    let user = rig.user("oPlainIntruder", PushMode::Plaintext);
    let raw = user.text("as raw");
    let raw = Push {
        query: format!("{}&encrypt_type=raw", raw.query),
        ..raw
    };
    for push in [user.text("anyone who saw a query string"), raw] {
        let err = rig.channel.parse_webhook(&request(&push)).unwrap_err();
        assert!(matches!(err, WebhookError::BadSignature(_)), "{err:?}");
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    }
    // URL verification is unaffected.
    let webhook = rig
        .channel
        .parse_webhook(&request(&user.verification("42")))
        .unwrap();
    assert_eq!(webhook.reply.body, Bytes::from_static(b"42"));
}

#[tokio::test]
async fn accepts_plaintext_pushes_to_an_account_with_an_aes_key_only_while_migrating() {
    let rig = rig().await;
    let migrating =
        WeChatChannel::new(common::config(&rig.sim.base_url()).with_accept_plaintext(true))
            .unwrap();
    for mode in [PushMode::Plaintext, PushMode::Compatible, PushMode::Safe] {
        let user = rig.user(&format!("oMigrating{mode:?}"), mode);
        let webhook = migrating.parse_webhook(&request(&user.text("hi"))).unwrap();
        assert_eq!(
            webhook.events[0].kind,
            InboundKind::Text { text: "hi".into() },
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn uses_the_encrypted_copy_in_compatible_mode_and_checks_it() {
    let rig = rig().await;
    let user = rig.user("oCompat", PushMode::Compatible);
    let push = user.text("real");
    // Tampering with the plaintext copy changes nothing: the encrypted one is authoritative.
    let mut tampered = push.clone();
    tampered.body = Bytes::from(String::from_utf8(push.body.to_vec()).unwrap().replacen(
        "<Content><![CDATA[real]]>",
        "<Content><![CDATA[fake]]>",
        1,
    ));
    let webhook = rig.channel.parse_webhook(&request(&tampered)).unwrap();
    assert_eq!(
        webhook.events[0].kind,
        InboundKind::Text {
            text: "real".into()
        }
    );
    // A wrong msg_signature is refused even though the plain signature is right.
    let forged = push.with_query_param("msg_signature", &"a".repeat(40));
    assert_eq!(
        rig.channel
            .parse_webhook(&request(&forged))
            .unwrap_err()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn acknowledges_unknown_message_and_event_types_without_failing() {
    let rig = rig().await;
    let user = rig.user("oFuture", PushMode::Safe);
    for push in [
        user.unknown("hologram"),
        user.event("teleport_event", Some("k")),
    ] {
        let webhook = rig.channel.parse_webhook(&request(&push)).unwrap();
        assert_eq!(webhook.reply.status, StatusCode::OK);
        assert!(
            matches!(
                &webhook.events[0].kind,
                InboundKind::Other { kind, .. } if kind == "hologram"
            ) || matches!(
                &webhook.events[0].kind,
                InboundKind::Notification { kind } if kind == "teleport_event"
            ),
            "{:?}",
            webhook.events[0].kind
        );
    }
}

#[tokio::test]
async fn tells_location_reports_and_navigation_from_messages() {
    let rig = rig().await;
    let user = rig.user("oWalker", PushMode::Safe);
    let kinds: Vec<InboundKind> = [
        user.location_report("23.137466", "113.352425"),
        user.event("VIEW", Some("https://shop.example/menu")),
        user.event("TEMPLATESENDJOBFINISH", None),
    ]
    .iter()
    .map(|push| {
        let webhook = rig.channel.parse_webhook(&request(push)).unwrap();
        webhook.events[0].kind.clone()
    })
    .collect();
    assert_eq!(
        kinds,
        [
            InboundKind::LocationReport {
                latitude: "23.137466".into(),
                longitude: "113.352425".into(),
                precision: Some("65.0".into()),
            },
            InboundKind::Navigation {
                kind: "VIEW".into(),
                target: Some("https://shop.example/menu".into()),
            },
            InboundKind::Notification {
                kind: "TEMPLATESENDJOBFINISH".into(),
            },
        ]
    );
}

#[tokio::test]
async fn refuses_oversized_malformed_and_unknown_encryption_with_4xx() {
    let rig = plaintext_rig().await;
    let user = rig.user("oBad", PushMode::Plaintext);
    let big = user.push(&format!(
        "<xml><Content>{}</Content></xml>",
        "a".repeat(70 * 1024)
    ));
    let err = rig.channel.parse_webhook(&request(&big)).unwrap_err();
    assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let broken = user.push("<xml><Content>unclosed</xml>");
    assert_eq!(
        rig.channel
            .parse_webhook(&request(&broken))
            .unwrap_err()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let dtd = user.push(r#"<!DOCTYPE xml [<!ENTITY x "hi">]><xml><a>&x;</a></xml>"#);
    assert_eq!(
        rig.channel
            .parse_webhook(&request(&dtd))
            .unwrap_err()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let missing = user.push("<xml><ToUserName>gh</ToUserName></xml>");
    assert_eq!(
        rig.channel
            .parse_webhook(&request(&missing))
            .unwrap_err()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let weird = user.text("x").with_query_param("openid", "o").clone();
    let weird = WebhookRequest::new(
        Method::POST,
        format!("{}&encrypt_type=rot13", weird.query),
        weird.body,
    );
    assert_eq!(
        rig.channel.parse_webhook(&weird).unwrap_err().status(),
        StatusCode::BAD_REQUEST
    );
    let put = WebhookRequest::new(Method::PUT, user.text("x").query, "");
    assert_eq!(
        rig.channel.parse_webhook(&put).unwrap_err().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn r1_processes_a_message_retried_four_times_once_and_answers_each() {
    let rig = rig().await;
    let engine = MiniEngine::start(rig.channel.clone()).await;
    let user = rig.user("oRetry", PushMode::Safe);
    let push = user.text("only once");
    let mut answers = push.send_with_retries(&engine.url(), 2).await.unwrap();
    // Retries re-wrapped with a new nonce and random prefix must dedupe the same way.
    let rewrapped = user.rewrap(&push);
    answers.extend(rewrapped.send_with_retries(&engine.url(), 2).await.unwrap());
    assert_eq!(answers.len(), 4);
    for answer in &answers {
        assert_eq!(answer.status, 200);
        assert!(answer.body.is_empty());
    }
    let processed = engine.processed.lock().unwrap().clone();
    assert_eq!(processed.len(), 1, "{processed:?}");
    assert_eq!(
        processed[0].kind,
        InboundKind::Text {
            text: "only once".into()
        }
    );
}

#[tokio::test]
async fn r1_answers_success_to_each_plaintext_retry() {
    let rig = plaintext_rig().await;
    let engine = MiniEngine::start(rig.channel.clone()).await;
    let user = rig.user("oRetryPlain", PushMode::Plaintext);
    let answers = user
        .text("hi")
        .send_with_retries(&engine.url(), 4)
        .await
        .unwrap();
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 && a.body == "success")
    );
    assert_eq!(engine.processed.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn r2_processes_subscribe_and_location_in_the_same_second_both() {
    let rig = rig().await;
    let engine = MiniEngine::start(rig.channel.clone()).await;
    let user = rig.user("oTwoEvents", PushMode::Safe);
    let create_time = 1_700_000_000;
    let subscribe = user.push(&format!("<xml><ToUserName>gh_10f6c3c3ac5a</ToUserName><FromUserName>oTwoEvents</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>"));
    let location = user.push(&format!("<xml><ToUserName>gh_10f6c3c3ac5a</ToUserName><FromUserName>oTwoEvents</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>event</MsgType><Event>LOCATION</Event><Latitude>1</Latitude><Longitude>2</Longitude></xml>"));
    for push in [&subscribe, &location, &subscribe] {
        assert_eq!(push.send_to(&engine.url()).await.unwrap().status, 200);
    }
    let processed = engine.processed.lock().unwrap().clone();
    assert_eq!(processed.len(), 2, "{processed:?}");
    assert_eq!(processed[0].kind, InboundKind::Followed { key: None });
}

#[tokio::test]
async fn never_answers_5xx_to_anything_a_client_sends() {
    let rig = rig().await;
    let engine = MiniEngine::start(rig.channel.clone()).await;
    let user = rig.user("oFuzz", PushMode::Safe);
    let good = user.text("x");
    let mut bodies: Vec<Bytes> = vec![
        Bytes::new(),
        Bytes::from_static(b"\xff\xfe\x00garbage"),
        Bytes::from_static(b"<xml><Encrypt>!!!</Encrypt></xml>"),
        Bytes::from_static(b"<xml><Encrypt>AAAA</Encrypt></xml>"),
    ];
    bodies.push(good.body.slice(..good.body.len() / 2));
    for body in bodies {
        let mut push = good.clone();
        push.body = body;
        let status = push.send_to(&engine.url()).await.unwrap().status;
        assert!((400..500).contains(&status), "status {status}");
    }
}
