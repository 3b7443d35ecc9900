//! The verified vectors of spec/wechat.md §9 (S1–S3, K1, A, A-neg, A-sig, B1, B2, C, D, E1–E3,
//! F): signatures, key derivation, decryption, encryption and encrypted passive replies.

#![cfg(feature = "wechat")]

use base64::Engine;
use switchboard_channels::wechat::crypto::{AesKey, CryptoError, split_plaintext, unpad_32};
use switchboard_channels::wechat::reply::{SealedReply, text_reply_xml};
use switchboard_channels::wechat::signature::{sign, verify};

const SAMPLE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

const A_APPID: &str = "wx2c2769f8efd9abc2";
const A_TOKEN: &str = "spamtest";
const A_TS: &str = "1409735669";
const A_NONCE: &str = "1320562132";
const A_MSG_SIG: &str = "5d197aaffba7e9b25a30732f161a50dee96bd5fa";
const A_ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
const A_PLAIN: &str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>";

const B_APPID: &str = "wxb11529c136998cb6";
const B_RANDOM: &[u8; 16] = b"aaaabbbbccccdddd";

const E_RANDOM: &[u8; 16] = b"0123456789abcdef";

fn sample_key() -> AesKey {
    AesKey::from_encoding_aes_key(SAMPLE_KEY).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn s1_signs_the_current_doc_example() {
    assert_eq!(
        sign(&["AAAAA", "1714037059", "486452656"]),
        "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    );
}

#[test]
fn s2_signs_the_official_sample_parameters() {
    assert_eq!(
        sign(&[A_TOKEN, A_TS, A_NONCE]),
        "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
    );
}

#[test]
fn s3_signs_vector_a_with_its_encrypt_text() {
    assert_eq!(sign(&[A_TOKEN, A_TS, A_NONCE, A_ENCRYPT]), A_MSG_SIG);
    assert!(verify(A_MSG_SIG, &[A_TOKEN, A_TS, A_NONCE, A_ENCRYPT]));
    assert!(verify(
        &A_MSG_SIG.to_uppercase(),
        &[A_TOKEN, A_TS, A_NONCE, A_ENCRYPT]
    ));
}

#[test]
fn k1_derives_the_aes_key_despite_non_canonical_trailing_bits() {
    assert_eq!(
        hex(sample_key().as_bytes()),
        "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
    );
    // The strict engine refuses this key: the lenient one is required.
    assert!(
        base64::engine::general_purpose::STANDARD
            .decode(format!("{SAMPLE_KEY}="))
            .is_err()
    );
}

#[test]
fn rejects_encoding_aes_keys_that_are_not_43_base64_characters() {
    for bad in [
        "",
        "short",
        &format!("{SAMPLE_KEY}A"),
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDE*G",
    ] {
        let err = AesKey::from_encoding_aes_key(bad).unwrap_err();
        assert_eq!(err, CryptoError::IllegalAesKey);
        assert_eq!(err.code(), -40004);
    }
}

#[test]
fn a_decrypts_the_official_sample() {
    let key = sample_key();
    let msg = key.decrypt(A_ENCRYPT, A_APPID).unwrap();
    assert_eq!(msg.len(), 280);
    assert_eq!(String::from_utf8(msg).unwrap(), A_PLAIN);

    let blocks = key.decrypt_blocks(A_ENCRYPT).unwrap();
    assert_eq!(blocks.len(), 320);
    assert_eq!(*blocks.last().unwrap(), 2, "pad 2");
    let plain = unpad_32(&blocks).unwrap();
    assert_eq!(&plain[..16], b"89465c840c5f116f");
    let (msg, appid) = split_plaintext(plain).unwrap();
    assert_eq!(msg.len(), 280);
    assert_eq!(appid, A_APPID.as_bytes());
}

#[test]
fn a_neg_rejects_a_foreign_appid_with_40005() {
    let err = sample_key()
        .decrypt(A_ENCRYPT, "wx2c2769f8efd9abc3")
        .unwrap_err();
    assert_eq!(err, CryptoError::ValidateAppid);
    assert_eq!(err.code(), -40005);
}

#[test]
fn a_sig_rejects_a_changed_nonce() {
    assert!(!verify(
        A_MSG_SIG,
        &[A_TOKEN, A_TS, "1320562133", A_ENCRYPT]
    ));
    assert_eq!(CryptoError::ValidateSignature.code(), -40001);
}

#[test]
fn b1_encrypts_chinese_text_like_the_java_sample() {
    let out = sample_key().encrypt_with_random(B_RANDOM, "我是中文abcd123".as_bytes(), B_APPID);
    assert_eq!(
        out,
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    );
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&out)
        .unwrap();
    assert_eq!(raw.len(), 64);
    assert_eq!(
        sign(&["pamtest", "1409304348", "xxxxxx", &out]),
        "82c962d39941aa48552f90ef55aa323dc620cc10"
    );
}

#[test]
fn b2_encrypts_the_sample_video_reply_like_the_java_sample() {
    let msg = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>";
    assert_eq!(msg.len(), 435);
    let expected = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb";
    let out = sample_key().encrypt_with_random(B_RANDOM, msg.as_bytes(), B_APPID);
    assert_eq!(out, expected);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&out)
            .unwrap()
            .len(),
        480
    );
    assert_eq!(sample_key().decrypt(&out, B_APPID).unwrap(), msg.as_bytes());
}

#[test]
fn c_decrypts_the_easywechat_vector() {
    let encrypt = "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==";
    assert!(verify(
        "4f3ad57b6989f09f4eb392acce4f9e93942ed890",
        &["pamtest", "1458300676", "260774613", encrypt]
    ));
    let msg = String::from_utf8(sample_key().decrypt(encrypt, B_APPID).unwrap()).unwrap();
    assert!(
        msg.contains("<Content><![CDATA[hello]]></Content>"),
        "{msg}"
    );
    assert!(msg.contains("<MsgId>12345</MsgId>"), "{msg}");
}

#[test]
fn d_decrypts_the_wecom_echostr_with_a_non_canonical_key() {
    let key = AesKey::from_encoding_aes_key("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR").unwrap();
    let echostr =
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
    assert!(verify(
        "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
        &["123456", "1411443780", "437374425", echostr]
    ));
    let plain = key.decrypt(echostr, "wx49f0ab532d5d035a").unwrap();
    assert_eq!(plain, b"5927782489442352469");
}

/// A PKCS#7 unpadder for AES's own 16-byte block, as generic libraries implement it.
fn unpad_16(buf: &[u8]) -> Option<&[u8]> {
    let n = usize::from(*buf.last()?);
    if n == 0 || n > 16 || n > buf.len() {
        return None;
    }
    let (body, pad) = buf.split_at(buf.len() - n);
    pad.iter().all(|&b| usize::from(b) == n).then_some(body)
}

/// Decrypts an E vector, checks its signature and pad, and shows that a 16-byte PKCS#7
/// unpadder would refuse pads above 16.
fn check_e(encrypt: &str, msg_signature: &str, msg: &str, pad: u8) {
    assert!(verify(msg_signature, &[A_TOKEN, A_TS, A_NONCE, encrypt]));
    let key = sample_key();
    let blocks = key.decrypt_blocks(encrypt).unwrap();
    assert_eq!(*blocks.last().unwrap(), pad);
    assert_eq!(unpad_16(&blocks).is_some(), pad <= 16);
    assert_eq!(key.decrypt(encrypt, A_APPID).unwrap(), msg.as_bytes());
    assert_eq!(
        key.encrypt_with_random(E_RANDOM, msg.as_bytes(), A_APPID),
        encrypt
    );
}

#[test]
fn e1_accepts_pad_20_that_a_16_byte_unpadder_rejects() {
    check_e(
        "Q3stYC6hdFzMh9T8HCvyDHmXWYc9CjBzcPqxX2Ne6GkZupZ5XiIySwTrwHVOpJFPAq+v909ds5ryY/hUxud/h0qDd9HP2jhp8kFrqG0acXoCv1kbpu6TCmwCRwc5cBrv",
        "152259b081f2a68fe44b7a94ff730af9f8cf3870",
        "<xml><Content>abcdefgh</Content></xml>",
        20,
    );
}

#[test]
fn e2_counts_the_emoji_message_length_in_bytes() {
    let encrypt = "Q3stYC6hdFzMh9T8HCvyDOxmqMLzz3VJGHo5/ktgwJZJyL/F1SvtAK6QPGrqUux5Hl8W2Y0FJnNbB1YvqfeNLNj84Smv0HfpjQYx2Go2aJm1bL7j5cXEhI9Hh5SG/Ksj";
    let msg = "<xml><Content><![CDATA[你好😀]]></Content></xml>";
    assert_eq!(msg.chars().count(), 45);
    check_e(encrypt, "4cfafcf33af5b01cc50d8f5e0e9971aec7c060e2", msg, 6);
    let blocks = sample_key().decrypt_blocks(encrypt).unwrap();
    assert_eq!(&blocks[16..20], &52u32.to_be_bytes());
}

#[test]
fn e3_accepts_a_full_block_of_32_padding_bytes() {
    check_e(
        "Q3stYC6hdFzMh9T8HCvyDN2NDnGgsCaiZCTbnK2a9f4c9hMRLmO918Gv/S4JfTuP3oCiT3vBmjASWpu9fF23O9VZ6l2v7K2AI/lb3Xs8BOqK6wcpanq0LS+UwjxnnsUM",
        "734599c064ad41ef1fcf53482174dcd53e7450d7",
        "<xml><a>12345678</a></xml>",
        32,
    );
}

#[test]
fn rejects_padding_that_is_zero_too_long_or_inconsistent() {
    assert_eq!(unpad_32(&[1, 2, 0]), Err(CryptoError::IllegalBuffer));
    assert_eq!(unpad_32(&[33; 64]), Err(CryptoError::IllegalBuffer));
    assert_eq!(unpad_32(&[3, 2, 3, 3]), Err(CryptoError::IllegalBuffer));
    assert_eq!(unpad_32(&[]), Err(CryptoError::IllegalBuffer));
    assert_eq!(unpad_32(&[9, 2, 2]), Ok(&[9u8][..]));
}

#[test]
fn rejects_ciphertext_that_is_not_base64_or_not_whole_blocks() {
    let key = sample_key();
    assert_eq!(
        key.decrypt("not base64!", A_APPID),
        Err(CryptoError::DecodeBase64)
    );
    assert_eq!(key.decrypt("AAAA", A_APPID), Err(CryptoError::DecryptAes));
}

#[test]
fn rejects_a_length_field_longer_than_the_plaintext() {
    let key = sample_key();
    // Forge a plaintext whose length field claims more bytes than follow.
    let mut random = [0u8; 16];
    random.copy_from_slice(b"0000000000000000");
    let good = key.encrypt_with_random(&random, b"hi", A_APPID);
    let mut blocks = key.decrypt_blocks(&good).unwrap();
    blocks[16..20].copy_from_slice(&1000u32.to_be_bytes());
    let plain = unpad_32(&blocks).unwrap();
    assert_eq!(split_plaintext(plain), Err(CryptoError::IllegalBuffer));
}

#[test]
fn f_seals_an_encrypted_passive_reply_that_round_trips() {
    let xml = text_reply_xml(
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        "gh_10f6c3c3ac5a",
        1409735670,
        "你好",
    );
    assert_eq!(
        xml,
        "<xml><ToUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></ToUserName><FromUserName><![CDATA[gh_10f6c3c3ac5a]]></FromUserName><CreateTime>1409735670</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>"
    );
    let key = sample_key();
    let sealed =
        SealedReply::seal_with_random(&key, A_TOKEN, A_APPID, &xml, 1409735669, A_NONCE, B_RANDOM);
    assert_eq!(
        sealed.encrypt,
        "jn1L23DB+6ELqJ+6bruv21YlImyg655L0pzu4wzr1EI/1ELf0N6D8IOi7XSAJxDhr8sw1Qg+DBsbNkk8HefZUetqFqcfOZs7NxWF4zu+rM9d03x8bvQI0v8ZnIMczIMASBrl6g6vTtXXVt3KbKBSLcr6mAMqoMfDkCD8ug2YUbwK3jAu+dNYjGjQYCVt6xgbpZlM4z5Dae4s1NCgn/GTKdD22X3X9Qu63QT/4cOZ3QyULbLvGmzQxBVZcRATjgr25UVxK+edrJhI1H1dtsHAqSrOcEu+IvjXV8cHNc89jzR3RX/WQ+LM8tMZnTa+HEUKr77AtspMaTuDVEXYdAdAy8kSDC0xZajtSo8rcgk7L/nlMXkRHJ0FUKfaRUS8Yg1U"
    );
    assert_eq!(
        sealed.msg_signature,
        "171eab798081f3372cbadfac762de0239a117759"
    );
    let envelope = sealed.to_xml();
    assert!(envelope.contains("<TimeStamp>1409735669</TimeStamp>"));
    assert!(envelope.contains("<Nonce><![CDATA[1320562132]]></Nonce>"));
    assert_eq!(
        key.decrypt(&sealed.encrypt, A_APPID).unwrap(),
        xml.as_bytes()
    );
}
