//! XML parsing and dedupe oracles of spec/wechat.md §9 (X1–X3, R2) plus every message and event
//! type of §2.

#![cfg(feature = "wechat")]

use switchboard_channels::wechat::dedupe::dedupe_key;
use switchboard_channels::wechat::message::{EventKind, Message, MessageKind};
use switchboard_channels::wechat::xml::{self, XmlError, XmlWriter};

const MAX: usize = 64 * 1024;

fn message(body: &str) -> Message {
    let fields = xml::parse(body.as_bytes(), MAX).unwrap();
    Message::from_fields(&fields).unwrap()
}

fn push(msg_type: &str, extra: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{extra}</xml>"
    )
}

fn event(name: &str, extra: &str) -> String {
    push(
        "event",
        &format!("<Event><![CDATA[{name}]]></Event>{extra}"),
    )
}

#[test]
fn x1_rejects_a_dtd_with_an_internal_entity() {
    let body = r#"<!DOCTYPE xml [<!ENTITY x "hi">]><xml><a>&x;</a></xml>"#;
    assert_eq!(xml::parse(body.as_bytes(), MAX), Err(XmlError::Dtd));
}

#[test]
fn rejects_undeclared_entities_and_external_entity_tricks() {
    let body = "<xml><a>&x;</a></xml>";
    assert!(matches!(
        xml::parse(body.as_bytes(), MAX),
        Err(XmlError::UnknownEntity(_))
    ));
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>"#;
    assert_eq!(xml::parse(xxe.as_bytes(), MAX), Err(XmlError::Dtd));
}

#[test]
fn x2_joins_split_cdata_sections_and_keeps_escaped_text() {
    let body = "<xml><Content><![CDATA[a]]]]><![CDATA[>b & 中文]]></Content></xml>";
    let fields = xml::parse(body.as_bytes(), MAX).unwrap();
    assert_eq!(fields.text("Content"), Some("a]]>b & 中文"));
}

#[test]
fn accepts_plain_text_with_predefined_and_character_entities() {
    let body = "<xml><Content>a &lt;b&gt; &amp; &#20013;&#x6587;</Content></xml>";
    let fields = xml::parse(body.as_bytes(), MAX).unwrap();
    assert_eq!(fields.text("Content"), Some("a <b> & 中文"));
}

#[test]
fn writer_output_round_trips_through_the_reader() {
    let doc = XmlWriter::new()
        .cdata("Content", "x]]>y <&>")
        .number("CreateTime", 7)
        .finish();
    let fields = xml::parse(doc.as_bytes(), MAX).unwrap();
    assert_eq!(fields.text("Content"), Some("x]]>y <&>"));
    assert_eq!(fields.text("CreateTime"), Some("7"));
}

#[test]
fn x3_parses_msg_id_above_i64_max_exactly() {
    let m = message(&push(
        "text",
        "<Content><![CDATA[hi]]></Content><MsgId>9876543210987654321</MsgId>",
    ));
    assert_eq!(m.msg_id, Some(9_876_543_210_987_654_321u64));
    assert!(m.msg_id.unwrap() > i64::MAX as u64);
}

#[test]
fn rejects_a_message_whose_msg_id_is_not_an_unsigned_integer() {
    let body = push("text", "<Content>hi</Content><MsgId>-5</MsgId>");
    let fields = xml::parse(body.as_bytes(), MAX).unwrap();
    assert!(Message::from_fields(&fields).is_err());
}

#[test]
fn rejects_bodies_over_the_size_cap() {
    let body = push("text", &format!("<Content>{}</Content>", "a".repeat(2000)));
    assert!(matches!(
        xml::parse(body.as_bytes(), 1024),
        Err(XmlError::TooLarge { .. })
    ));
}

#[test]
fn rejects_duplicate_top_level_fields_wrong_roots_and_broken_documents() {
    let dup = "<xml><MsgId>1</MsgId><MsgId>2</MsgId></xml>";
    assert_eq!(
        xml::parse(dup.as_bytes(), MAX),
        Err(XmlError::DuplicateField("MsgId".into()))
    );
    assert_eq!(
        xml::parse(b"<root><a>1</a></root>", MAX),
        Err(XmlError::BadRoot)
    );
    for broken in [
        "<xml><a>1</b></xml>",
        "<xml><a>1</a>",
        "",
        "not xml",
        "<xml/><xml/>",
    ] {
        assert!(xml::parse(broken.as_bytes(), MAX).is_err(), "{broken:?}");
    }
    let deep = format!("<xml>{}{}</xml>", "<a>".repeat(20), "</a>".repeat(20));
    assert_eq!(xml::parse(deep.as_bytes(), MAX), Err(XmlError::TooComplex));
}

#[test]
fn accepts_numbers_and_strings_in_cdata_or_bare_with_whitespace_between_elements() {
    let body = "<xml>\n  <ToUserName>gh_x</ToUserName>\n  <FromUserName><![CDATA[u]]></FromUserName>\n  <CreateTime><![CDATA[12]]></CreateTime>\n  <MsgType>text</MsgType>\n  <Content>hi there</Content>\n  <MsgId><![CDATA[42]]></MsgId>\n</xml>";
    let m = message(body);
    assert_eq!((m.to.as_str(), m.from.as_str()), ("gh_x", "u"));
    assert_eq!((m.create_time, m.msg_id), (12, Some(42)));
    assert_eq!(
        m.kind,
        MessageKind::Text {
            content: "hi there".into(),
            menu_id: None
        }
    );
}

#[test]
fn parses_every_normal_message_type() {
    let m = message(&push(
        "text",
        "<Content><![CDATA[满意]]></Content><MsgId>1</MsgId><bizmsgmenuid>101</bizmsgmenuid>",
    ));
    assert_eq!(
        m.kind,
        MessageKind::Text {
            content: "满意".into(),
            menu_id: Some("101".into())
        }
    );
    let m = message(&push(
        "image",
        "<PicUrl><![CDATA[http://mmbiz/x]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>2</MsgId>",
    ));
    assert_eq!(
        m.kind,
        MessageKind::Image {
            pic_url: Some("http://mmbiz/x".into()),
            media_id: "m1".into()
        }
    );
    let m = message(&push(
        "voice",
        "<MediaId>m2</MediaId><Format>amr</Format><Recognition><![CDATA[你好]]></Recognition><MsgId>3</MsgId>",
    ));
    assert_eq!(
        m.kind,
        MessageKind::Voice {
            media_id: "m2".into(),
            format: Some("amr".into()),
            recognition: Some("你好".into())
        }
    );
    for (t, short) in [("video", false), ("shortvideo", true)] {
        let m = message(&push(
            t,
            "<MediaId>m3</MediaId><ThumbMediaId>t3</ThumbMediaId><MsgId>4</MsgId>",
        ));
        assert_eq!(
            m.kind,
            MessageKind::Video {
                media_id: "m3".into(),
                thumb_media_id: Some("t3".into()),
                short
            }
        );
    }
    let m = message(&push(
        "location",
        "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置信息]]></Label><MsgId>5</MsgId>",
    ));
    assert_eq!(
        m.kind,
        MessageKind::Location {
            latitude: "23.134521".into(),
            longitude: "113.358803".into(),
            scale: Some("20".into()),
            label: Some("位置信息".into())
        }
    );
    let m = message(&push(
        "link",
        "<Title>t</Title><Description>d</Description><Url>http://x</Url><MsgId>6</MsgId>",
    ));
    assert_eq!(
        m.kind,
        MessageKind::Link {
            title: "t".into(),
            description: Some("d".into()),
            url: "http://x".into()
        }
    );
}

#[test]
fn keeps_unknown_message_types_with_all_their_fields() {
    let m = message(&push("miniprogrampage", "<Title>t</Title><MsgId>7</MsgId>"));
    assert_eq!(
        m.kind,
        MessageKind::Unknown {
            msg_type: "miniprogrampage".into()
        }
    );
    assert_eq!(m.msg_id, Some(7));
    assert_eq!(m.fields.get("Title").map(String::as_str), Some("t"));
    // Even a nonsensical id on an unknown type does not make it fail.
    let m = message(&push("file", "<MsgId>abc</MsgId>"));
    assert_eq!(m.msg_id, None);
}

#[test]
fn parses_every_event_type_case_insensitively() {
    let kind = |body: String| match message(&body).kind {
        MessageKind::Event { event, .. } => event,
        other => panic!("not an event: {other:?}"),
    };
    assert_eq!(
        kind(event(
            "subscribe",
            "<EventKey><![CDATA[qrscene_123]]></EventKey><Ticket>t</Ticket>"
        )),
        EventKind::Subscribe {
            scene: Some("123".into())
        }
    );
    assert_eq!(
        kind(event("subscribe", "")),
        EventKind::Subscribe { scene: None }
    );
    assert_eq!(kind(event("unsubscribe", "")), EventKind::Unsubscribe);
    assert_eq!(
        kind(event("SCAN", "<EventKey>123</EventKey><Ticket>t</Ticket>")),
        EventKind::Scan {
            scene: "123".into()
        }
    );
    assert_eq!(
        kind(event(
            "LOCATION",
            "<Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>119.3</Precision>"
        )),
        EventKind::Location {
            latitude: "23.1".into(),
            longitude: "113.3".into(),
            precision: Some("119.3".into())
        }
    );
    assert_eq!(
        kind(event("CLICK", "<EventKey>HELP</EventKey>")),
        EventKind::Click { key: "HELP".into() }
    );
    assert_eq!(
        kind(event("click", "<EventKey>HELP</EventKey>")),
        EventKind::Click { key: "HELP".into() }
    );
    assert_eq!(
        kind(event(
            "VIEW",
            "<EventKey>http://x</EventKey><MenuId>1</MenuId>"
        )),
        EventKind::View {
            url: "http://x".into()
        }
    );
    assert_eq!(
        kind(event(
            "scancode_waitmsg",
            "<EventKey>k</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>R</ScanResult></ScanCodeInfo>"
        )),
        EventKind::ScanCode {
            key: "k".into(),
            result: Some("R".into())
        }
    );
    assert_eq!(
        kind(event(
            "pic_weixin",
            "<EventKey>k</EventKey><SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item></PicList></SendPicsInfo>"
        )),
        EventKind::Other
    );
    assert_eq!(
        kind(event(
            "TEMPLATESENDJOBFINISH",
            "<MsgID>200163836</MsgID><Status>success</Status>"
        )),
        EventKind::TemplateSendJobFinish {
            msg_id: Some(200163836),
            status: Some("success".into())
        }
    );
    assert_eq!(
        kind(event("kf_create_session", "<KfAccount>a@b</KfAccount>")),
        EventKind::Other
    );
    assert_eq!(kind(event("some_future_event", "")), EventKind::Other);
}

#[test]
fn r2_keeps_distinct_events_from_one_user_in_the_same_second() {
    let subscribe = message(&event("subscribe", ""));
    let location = message(&event(
        "LOCATION",
        "<Latitude>1</Latitude><Longitude>2</Longitude>",
    ));
    assert_ne!(dedupe_key(&subscribe), dedupe_key(&location));
    let click_a = message(&event("CLICK", "<EventKey>A</EventKey>"));
    let click_b = message(&event("CLICK", "<EventKey>B</EventKey>"));
    assert_ne!(dedupe_key(&click_a), dedupe_key(&click_b));
}

#[test]
fn keys_messages_on_recipient_sender_and_msg_id() {
    let a = message(&push("voice", "<MediaId>m</MediaId><MsgId>77</MsgId>"));
    let mut b = a.clone();
    b.from = "oOtherUser".into();
    assert_ne!(dedupe_key(&a), dedupe_key(&b), "same MsgId from two users");
    let mut later = a.clone();
    later.create_time += 5;
    assert_eq!(dedupe_key(&a), dedupe_key(&later), "a retry keeps its key");
}

#[test]
fn keeps_template_job_callbacks_apart_although_they_carry_msg_id_spelled_differently() {
    let one = message(&event("TEMPLATESENDJOBFINISH", "<MsgID>1</MsgID>"));
    let mut two = one.clone();
    two.create_time += 1;
    assert_ne!(dedupe_key(&one), dedupe_key(&two));
}

#[test]
fn separators_inside_fields_cannot_forge_another_key() {
    let a = message(&event("CLICK", "<EventKey>x/y</EventKey>"));
    let mut b = a.clone();
    b.kind = MessageKind::Event {
        name: "CLICK/x".into(),
        key: Some("y".into()),
        event: EventKind::Other,
    };
    assert_ne!(dedupe_key(&a), dedupe_key(&b));
}
