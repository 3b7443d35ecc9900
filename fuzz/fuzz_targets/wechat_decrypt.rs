//! Tampered or random ciphertext never panics decryption: base64, AES-CBC, the PKCS#7-style
//! padding to 32 bytes, the length prefix and the AppID check either yield the plaintext or a
//! typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::wechat::AesKey;

fuzz_target!(|data: &[u8]| {
    let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
        .expect("the spec's test key");
    // As text (what arrives in <Encrypt>), and as raw bytes base64-encoded so that the
    // decryption and unpadding are reached, not only the base64 check.
    let _ = key.decrypt(&String::from_utf8_lossy(data), "wx5823bf96d3bd56c7");
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data);
    let _ = key.decrypt(&encoded, "wx5823bf96d3bd56c7");
});
