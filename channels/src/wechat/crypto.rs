//! The WXBizMsgCrypt message crypto (§3): AES-256-CBC with IV = key[..16], PKCS#7 padding to a
//! 32-byte multiple, and the `random16 ‖ u32be(len) ‖ msg ‖ appid` plaintext layout.

use std::fmt;

use aes::Aes256;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, Engine};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

/// The PKCS#7 block size of this scheme: 32, not AES's 16.
const PAD_BLOCK: usize = 32;
/// Bytes of random prefix in every plaintext.
const RANDOM_LEN: usize = 16;
/// Where the message starts in a plaintext: after the random prefix and the 4-byte length.
const MSG_START: usize = RANDOM_LEN + 4;

/// Lenient base64: accepts non-zero trailing bits (the official sample key has them) and any
/// padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Failures of the message crypto, numbered like the official samples' error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// -40001: signature mismatch.
    #[error("signature mismatch (-40001)")]
    ValidateSignature,
    /// -40002: the XML carrying the ciphertext could not be parsed.
    #[error("XML parse failed (-40002)")]
    ParseXml,
    /// -40004: the EncodingAESKey does not decode to 32 bytes.
    #[error("illegal EncodingAESKey (-40004)")]
    IllegalAesKey,
    /// -40005: the trailing id is not our AppID.
    #[error("AppID mismatch (-40005)")]
    ValidateAppid,
    /// -40007: AES decryption failed (ciphertext not a whole number of blocks).
    #[error("AES decryption failed (-40007)")]
    DecryptAes,
    /// -40008: decrypted buffer malformed (bad padding or length).
    #[error("illegal buffer (-40008)")]
    IllegalBuffer,
    /// -40010: ciphertext is not base64.
    #[error("base64 decoding failed (-40010)")]
    DecodeBase64,
}

impl CryptoError {
    /// The official sample's numeric error code.
    pub fn code(self) -> i32 {
        match self {
            Self::ValidateSignature => -40001,
            Self::ParseXml => -40002,
            Self::IllegalAesKey => -40004,
            Self::ValidateAppid => -40005,
            Self::DecryptAes => -40007,
            Self::IllegalBuffer => -40008,
            Self::DecodeBase64 => -40010,
        }
    }
}

/// The 32-byte AES key derived from an EncodingAESKey. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey([u8; 32]);

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

impl AesKey {
    /// Derives the key as `base64decode(encoding_aes_key + "=")`, leniently (§3.1).
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<Self, CryptoError> {
        if encoding_aes_key.len() != 43 {
            return Err(CryptoError::IllegalAesKey);
        }
        let bytes = LENIENT
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::IllegalAesKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::IllegalAesKey)?;
        Ok(Self(key))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }

    /// Encrypts `msg` for `appid` with the given 16-byte random prefix; returns base64.
    pub fn encrypt_with_random(
        &self,
        random: &[u8; RANDOM_LEN],
        msg: &[u8],
        appid: &str,
    ) -> String {
        let body_len = RANDOM_LEN + 4 + msg.len() + appid.len();
        let pad = PAD_BLOCK - body_len % PAD_BLOCK;
        let mut buf = Vec::with_capacity(body_len + pad);
        buf.extend_from_slice(random);
        // A message longer than u32::MAX cannot reach here (bodies are capped far below).
        let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(appid.as_bytes());
        // `pad` is 1..=32, so it fits in a byte.
        buf.resize(body_len + pad, pad as u8);
        let encryptor = cbc::Encryptor::<Aes256>::new(&self.0.into(), &self.iv().into());
        let total = buf.len();
        let ciphertext = match encryptor.encrypt_padded_mut::<NoPadding>(&mut buf, total) {
            Ok(c) => c,
            // Unreachable: the buffer is a multiple of 32 bytes, hence of the AES block.
            Err(_) => &buf[..0],
        };
        STANDARD.encode(ciphertext)
    }

    /// Encrypts `msg` for `appid` with a fresh random prefix; returns base64.
    pub fn encrypt(&self, msg: &[u8], appid: &str) -> Result<String, getrandom::Error> {
        let mut random = [0u8; RANDOM_LEN];
        getrandom::fill(&mut random)?;
        Ok(self.encrypt_with_random(&random, msg, appid))
    }

    /// Decrypts base64 `encrypted`, checks the trailing AppID, and returns the message bytes.
    pub fn decrypt(&self, encrypted: &str, appid: &str) -> Result<Vec<u8>, CryptoError> {
        let mut decrypted = self.decrypt_raw(encrypted)?;
        let (msg, trailing) = split_plaintext(&decrypted)?;
        if trailing != appid.as_bytes() {
            return Err(CryptoError::ValidateAppid);
        }
        // The message follows the random prefix and the length: move it to the front.
        let len = msg.len();
        decrypted.copy_within(MSG_START..MSG_START + len, 0);
        decrypted.truncate(len);
        Ok(decrypted)
    }

    /// Decrypts and unpads, returning the whole plaintext (random prefix included).
    pub fn decrypt_raw(&self, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buf = self.decrypt_blocks(encrypted)?;
        let unpadded = unpad_32(&buf)?.len();
        buf.truncate(unpadded);
        Ok(buf)
    }

    /// Decrypts without removing the padding.
    pub fn decrypt_blocks(&self, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buf = STANDARD
            .decode(encrypted.trim())
            .map_err(|_| CryptoError::DecodeBase64)?;
        if buf.is_empty() || buf.len() % PAD_BLOCK != 0 {
            return Err(CryptoError::DecryptAes);
        }
        let decryptor = cbc::Decryptor::<Aes256>::new(&self.0.into(), &self.iv().into());
        let len = decryptor
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::DecryptAes)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Strips PKCS#7 padding with a 32-byte block: the last byte `n` must be 1..=32 and the last `n`
/// bytes must all equal `n`.
pub fn unpad_32(buf: &[u8]) -> Result<&[u8], CryptoError> {
    let &last = buf.last().ok_or(CryptoError::IllegalBuffer)?;
    let n = usize::from(last);
    if n == 0 || n > PAD_BLOCK || n > buf.len() {
        return Err(CryptoError::IllegalBuffer);
    }
    let (body, pad) = buf.split_at(buf.len() - n);
    if pad.iter().any(|&b| b != last) {
        return Err(CryptoError::IllegalBuffer);
    }
    Ok(body)
}

/// Splits an unpadded plaintext into `(msg, trailing id)`.
pub fn split_plaintext(plain: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    let rest = plain.get(RANDOM_LEN..).ok_or(CryptoError::IllegalBuffer)?;
    let (len_bytes, rest) = rest.split_at_checked(4).ok_or(CryptoError::IllegalBuffer)?;
    let mut len = [0u8; 4];
    len.copy_from_slice(len_bytes);
    let len = usize::try_from(u32::from_be_bytes(len)).map_err(|_| CryptoError::IllegalBuffer)?;
    rest.split_at_checked(len).ok_or(CryptoError::IllegalBuffer)
}
