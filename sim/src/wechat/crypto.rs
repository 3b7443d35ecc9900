//! The WeChat push crypto as the WeChat server applies it, written independently of the
//! adapter's implementation so that each checks the other (both are pinned by the spec's
//! vectors): SHA-1 signatures over sorted strings, and AES-256-CBC with IV = key[..16] over
//! `random16 ‖ u32be(len) ‖ msg ‖ appid`, PKCS#7-padded to 32 bytes.

use aes::Aes256;
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use sha1::{Digest, Sha1};

/// Lowercase hex SHA-1 of the sorted, concatenated strings.
pub fn signature(parts: &[&str]) -> String {
    let mut v = parts.to_vec();
    v.sort();
    let digest = Sha1::digest(v.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 32-byte key of an EncodingAESKey, or `None` if it is not 43 base64 characters.
pub fn aes_key(encoding_aes_key: &str) -> Option<[u8; 32]> {
    let lenient = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    if encoding_aes_key.len() != 43 {
        return None;
    }
    lenient
        .decode(format!("{encoding_aes_key}="))
        .ok()?
        .try_into()
        .ok()
}

/// Encrypts `msg` for `appid` under `key` with the given random prefix; returns base64.
pub fn encrypt(key: &[u8; 32], random: [u8; 16], msg: &[u8], appid: &str) -> String {
    let mut plain = random.to_vec();
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    plain.extend_from_slice(&len.to_be_bytes());
    plain.extend_from_slice(msg);
    plain.extend_from_slice(appid.as_bytes());
    let pad = 32 - plain.len() % 32;
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&key[..16]);
    let n = plain.len();
    let enc = cbc::Encryptor::<Aes256>::new(key.into(), &iv.into());
    match enc.encrypt_padded_mut::<NoPadding>(&mut plain, n) {
        Ok(c) => STANDARD.encode(c),
        Err(_) => String::new(),
    }
}

/// Sixteen random bytes (or a fixed pattern if the OS has no randomness to give).
pub fn random16() -> [u8; 16] {
    let mut r = [0u8; 16];
    if getrandom::fill(&mut r).is_err() {
        r = *b"0123456789abcdef";
    }
    r
}

/// A random decimal string of up to 10 digits, like WeChat's nonces.
pub fn random_digits() -> String {
    let r = random16();
    let mut n = [0u8; 4];
    n.copy_from_slice(&r[..4]);
    u32::from_be_bytes(n).to_string()
}
