//! WeChat request signatures (§1.2, §2.1): SHA-1 over the sorted, concatenated strings.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Length of a signature: SHA-1 in hex.
const HEX_LEN: usize = 40;
/// Most parts a signature has (`msg_signature`: token, timestamp, nonce, `Encrypt`); more are
/// sorted on the heap.
const MAX_SORTED_ON_STACK: usize = 4;

/// Lowercase hex SHA-1 of `parts` sorted byte-wise and concatenated without separator.
///
/// With `[token, timestamp, nonce]` this is the plain `signature`; with the `Encrypt` text added
/// it is the `msg_signature` of encrypted mode.
pub fn sign(parts: &[&str]) -> String {
    let hex = signature_hex(parts);
    hex.iter().map(|&b| char::from(b)).collect()
}

/// Whether `given` equals the signature of `parts`, compared in constant time and
/// case-insensitively (hex digits only).
pub fn verify(given: &str, parts: &[&str]) -> bool {
    let expected = signature_hex(parts);
    let Ok(given) = <[u8; HEX_LEN]>::try_from(given.as_bytes()) else {
        return false;
    };
    bool::from(given.to_ascii_lowercase().ct_eq(&expected))
}

/// The signature of `parts`, as lowercase hex digits.
fn signature_hex(parts: &[&str]) -> [u8; HEX_LEN] {
    hex(&sha1_of_sorted(parts))
}

fn sha1_of_sorted(parts: &[&str]) -> [u8; 20] {
    let mut on_stack = [""; MAX_SORTED_ON_STACK];
    let mut on_heap = Vec::new();
    let sorted: &mut [&str] = if parts.len() <= MAX_SORTED_ON_STACK {
        let sorted = &mut on_stack[..parts.len()];
        sorted.copy_from_slice(parts);
        sorted
    } else {
        on_heap.extend_from_slice(parts);
        &mut on_heap
    };
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted.iter() {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

fn hex(bytes: &[u8; 20]) -> [u8; HEX_LEN] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; HEX_LEN];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    out
}
