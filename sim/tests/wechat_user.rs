//! The simulated WeChat server signs and encrypts pushes exactly like the official samples.

use switchboard_sim::wechat::crypto::{aes_key, encrypt, signature};
use switchboard_sim::wechat::{AccountSettings, PushMode, WeChatUser};

const A_ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
const A_PLAIN: &str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>";

fn settings(mode: PushMode) -> AccountSettings {
    AccountSettings {
        account: "gh_10f6c3c3ac5a".into(),
        app_id: "wx2c2769f8efd9abc2".into(),
        token: "spamtest".into(),
        encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
        mode,
    }
}

#[test]
fn encrypts_vector_a_like_the_official_sample() {
    let key = aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
    let out = encrypt(
        &key,
        *b"89465c840c5f116f",
        A_PLAIN.as_bytes(),
        "wx2c2769f8efd9abc2",
    );
    assert_eq!(out, A_ENCRYPT);
}

#[test]
fn builds_the_safe_mode_push_of_the_official_sample() {
    let user = WeChatUser::new(
        settings(PushMode::Safe),
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        None,
    );
    let push = user.push_with(A_PLAIN, "1409735669", "1320562132", *b"89465c840c5f116f");
    assert!(
        push.query
            .contains("signature=16120ec1b8dbb870f510d87ce6bc2463eae6ca1a")
    );
    assert!(
        push.query
            .contains("msg_signature=5d197aaffba7e9b25a30732f161a50dee96bd5fa")
    );
    assert!(push.query.contains("encrypt_type=aes"));
    let body = String::from_utf8(push.body.to_vec()).unwrap();
    assert_eq!(
        body,
        format!(
            "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{A_ENCRYPT}]]></Encrypt></xml>"
        )
    );
}

#[test]
fn plaintext_pushes_carry_only_the_plain_signature() {
    let user = WeChatUser::new(settings(PushMode::Plaintext), "o1", None);
    let push = user.push_with(A_PLAIN, "1409735669", "1320562132", [0; 16]);
    assert!(!push.query.contains("msg_signature"));
    assert_eq!(push.body, A_PLAIN.as_bytes());
    assert_eq!(
        signature(&["spamtest", "1409735669", "1320562132"]),
        "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
    );
}

#[test]
fn compatible_pushes_carry_plaintext_fields_and_the_encrypted_copy() {
    let user = WeChatUser::new(settings(PushMode::Compatible), "o1", None);
    let push = user.push_with(A_PLAIN, "1409735669", "1320562132", *b"89465c840c5f116f");
    let body = String::from_utf8(push.body.to_vec()).unwrap();
    assert!(body.contains(A_ENCRYPT));
    assert!(body.contains("<Content><![CDATA[abcdteT]]></Content>"));
}

#[test]
fn each_text_gets_a_new_msg_id_above_i64_max() {
    let user = WeChatUser::new(settings(PushMode::Plaintext), "o1", None);
    let a = user.text("a").inner_xml;
    let b = user.text("b").inner_xml;
    assert_ne!(a, b);
    let id: u64 = a
        .split("<MsgId>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(id > i64::MAX as u64);
}
