//! Throughput of the inbound hot path: verify both signatures, decrypt and parse one encrypted
//! (safe-mode) text push, as `parse_webhook` does for every WeChat push. Reported in pushes per
//! second on one core (criterion's `elem/s`), beside a baseline in the same run: the work no
//! parser can skip (both SHA-1 signatures, base64 and AES-256-CBC of the same push), so that
//! the ratio of the two is the parser's overhead whatever the machine's speed.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::Method;
use switchboard_channels::wechat::{AesKey, WeChatChannel, WeChatConfig, signature};
use switchboard_channels::{Channel, WebhookRequest};

const QUERY: &str = "signature=16120ec1b8dbb870f510d87ce6bc2463eae6ca1a&timestamp=1409735669&nonce=1320562132&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs&encrypt_type=aes&msg_signature=5d197aaffba7e9b25a30732f161a50dee96bd5fa";
const BODY: &str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>";

fn encrypted_text_push(c: &mut Criterion) {
    let config = WeChatConfig::new(
        "wx2c2769f8efd9abc2",
        "unused",
        "spamtest",
        Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
    )
    .with_api_base("http://127.0.0.1:9");
    let Ok(channel) = WeChatChannel::new(config) else {
        return;
    };
    let request = WebhookRequest::new(Method::POST, QUERY, BODY);
    let mut group = c.benchmark_group("wechat_push");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_decrypt_parse_safe_mode_text", |b| {
        b.iter(|| black_box(channel.parse_webhook(black_box(&request))))
    });
    let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
        .expect("the test key");
    let encrypt = BODY
        .split("<Encrypt><![CDATA[")
        .nth(1)
        .and_then(|rest| rest.split("]]>").next())
        .expect("the Encrypt field");
    let work = || {
        let plain = signature::verify(
            "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a",
            &["spamtest", "1409735669", "1320562132"],
        );
        let msg = signature::verify(
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
            &["spamtest", "1409735669", "1320562132", black_box(encrypt)],
        );
        (
            plain,
            msg,
            key.decrypt(black_box(encrypt), "wx2c2769f8efd9abc2"),
        )
    };
    let (plain, msg, decrypted) = work();
    assert!(
        plain && msg && decrypted.is_ok(),
        "the baseline does the whole work"
    );
    group.bench_function("baseline_signatures_and_decrypt_only", |b| {
        b.iter(|| black_box(work()))
    });
    group.finish();
}

criterion_group!(benches, encrypted_text_push);
criterion_main!(benches);
