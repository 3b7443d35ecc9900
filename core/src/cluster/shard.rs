//! Conversations over a fixed number of shards, by a hash that never changes: it is part of
//! what is stored (every row carries its shard), so a different hash in a later build would
//! move conversations to owners that do not have them. FNV-1a, 64 bits, over the
//! conversation id's bytes.

/// How many shards there are (an instance owns whole shards). Fixed: changing it moves
/// conversations between shards.
pub const SHARDS: u16 = 64;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The shard of the conversation `conversation` (its id, `channel:user`), below [`SHARDS`].
pub fn shard_of(conversation: &str) -> u16 {
    (fnv1a(conversation.as_bytes()) % u64::from(SHARDS)) as u16
}

/// FNV-1a, 64 bits.
pub(super) fn fnv1a<'a>(bytes: impl IntoIterator<Item = &'a u8>) -> u64 {
    bytes.into_iter().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_and_never_changes() {
        // FNV-1a 64 of "" and "a" are the published test values.
        assert_eq!(FNV_OFFSET % u64::from(SHARDS), u64::from(shard_of("")));
        assert_eq!(
            0xaf63_dc4c_8601_ec8c % u64::from(SHARDS),
            u64::from(shard_of("a"))
        );
        // Stored rows depend on these staying where they are.
        assert_eq!(shard_of("wechat:oUser00"), shard_of("wechat:oUser00"));
        let fixed: Vec<u16> = ["wechat:oUser00", "telegram:5100000000", "wechat:oDemo"]
            .iter()
            .map(|c| shard_of(c))
            .collect();
        assert_eq!(fixed, GOLDEN);
    }

    /// `shard_of` of the three ids above, as first computed (by an independent FNV-1a).
    const GOLDEN: [u16; 3] = [3, 54, 15];

    #[test]
    fn conversations_spread_over_every_shard() {
        let mut counts = [0u32; SHARDS as usize];
        for i in 0..64_000 {
            counts[usize::from(shard_of(&format!("wechat:oUser{i:06}")))] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 800 && *max < 1200, "{min}..{max}");
    }
}
