//! Client-made ids (message ids, typing entry ids) as lowercase v4-shaped UUIDs, derived from
//! the conversation's id and a counter: the core draws no random numbers, and a resend after a
//! restart reuses the id it was first given (it is stored with the pending request).

/// The `n`th id of the conversation `conversation_id`.
pub(crate) fn client_id(conversation_id: &str, n: u64) -> String {
    let seed = fnv1a(conversation_id.as_bytes());
    let high = splitmix(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let low = splitmix(high ^ n);
    // Version 4, variant 10xx.
    let high = (high & !0xF000) | 0x4000;
    let low = (low & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v4_shaped_lowercase_distinct_and_stable() {
        let conversation = "3f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b";
        let ids: Vec<String> = (0..1000).map(|n| client_id(conversation, n)).collect();
        for id in &ids {
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4", "{id}");
            assert!("89ab".contains(&id[19..20]), "{id}");
            assert_eq!(id.to_lowercase(), *id);
        }
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(client_id(conversation, 7), ids[7]);
        assert_ne!(client_id("another", 7), ids[7]);
    }
}
