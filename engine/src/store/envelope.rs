//! Versioned record encoding: one version byte pair, then the bincode 2 body. A later format is
//! read beside the old one by matching on the version.
//!
//! | format | release | what changed |
//! |---|---|---|
//! | 1 | 0.1 | — |
//! | 2 | 0.2 | conversation snapshots: kept agent lines, last known location; queued actions in the desk vocabulary instead of Live Agent's ([`decode_migrating`] reads format 1 through the old layouts) |
//! | 3 | 0.3 | outbox events tagged with their desk ([`OutboxEvent`](super::OutboxEvent)), so Enhanced Chat's sit beside Live Agent's; desk snapshots may be Enhanced Chat's (format 1–2 outbox events are Live Agent's, read with [`decode_changed_in`]) |
//!
//! Every stored record type changed layout at some format, so each is read with
//! [`decode_changed_in`] (or [`decode_migrating`], changed in format 2).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// The record format this build writes.
pub const RECORD_VERSION: u16 = 3;

/// The oldest format this build reads.
pub const OLDEST_RECORD_VERSION: u16 = 1;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The most a record's body may claim while it is decoded (bincode counts the bytes and the
/// container lengths it reads). Far above any record the gateway writes; without it, a damaged
/// length prefix asks for an allocation the size of the address space and aborts the process.
pub const DECODE_LIMIT: usize = 16 << 20;

/// Encodes `value` in the current record format.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = RECORD_VERSION.to_be_bytes().to_vec();
    let body = bincode::serde::encode_to_vec(value, config())
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

fn split(bytes: &[u8]) -> Result<(u16, &[u8]), StoreError> {
    match bytes {
        [a, b, body @ ..] => Ok((u16::from_be_bytes([*a, *b]), body)),
        _ => Err(StoreError::Corrupt("record shorter than its header".into())),
    }
}

fn body<T: DeserializeOwned>(body: &[u8]) -> Result<T, StoreError> {
    bincode::serde::decode_from_slice(body, config().with_limit::<DECODE_LIMIT>())
        .map(|(value, _)| value)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Decodes a record of a type whose layout is the same in every known format.
#[cfg(test)]
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match split(bytes)? {
        (OLDEST_RECORD_VERSION..=RECORD_VERSION, rest) => body(rest),
        (other, _) => Err(StoreError::UnknownVersion(other)),
    }
}

/// Decodes a record whose layout changed in format 2: format 1 is read as `V1` and converted.
pub fn decode_migrating<T, V1>(bytes: &[u8]) -> Result<T, StoreError>
where
    T: DeserializeOwned,
    V1: DeserializeOwned + Into<T>,
{
    decode_changed_in::<T, V1>(bytes, 2)
}

/// Decodes a record whose layout changed in format `changed`: older formats are read as `Old`
/// and converted.
pub fn decode_changed_in<T, Old>(bytes: &[u8], changed: u16) -> Result<T, StoreError>
where
    T: DeserializeOwned,
    Old: DeserializeOwned + Into<T>,
{
    match split(bytes)? {
        (version, rest) if (OLDEST_RECORD_VERSION..changed).contains(&version) => {
            body::<Old>(rest).map(Into::into)
        }
        (version, rest) if (changed..=RECORD_VERSION).contains(&version) => body(rest),
        (other, _) => Err(StoreError::UnknownVersion(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unknown_versions() {
        let bytes = encode(&("chat", 7u64)).unwrap();
        assert_eq!(decode::<(String, u64)>(&bytes).unwrap(), ("chat".into(), 7));
        let mut future = bytes.clone();
        future[1] = 9;
        assert!(matches!(
            decode::<(String, u64)>(&future),
            Err(StoreError::UnknownVersion(9))
        ));
        assert!(matches!(
            decode::<(String, u64)>(&[1]),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn format_one_records_are_read_through_their_old_layout() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct New(String, u64, bool);
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Old(String, u64);
        impl From<Old> for New {
            fn from(old: Old) -> New {
                New(old.0, old.1, false)
            }
        }
        let mut v1 = 1u16.to_be_bytes().to_vec();
        v1.extend(bincode::serde::encode_to_vec(Old("chat".into(), 7), config()).unwrap());
        assert_eq!(
            decode_migrating::<New, Old>(&v1).unwrap(),
            New("chat".into(), 7, false)
        );
        let v2 = encode(&New("chat".into(), 7, true)).unwrap();
        assert_eq!(
            decode_migrating::<New, Old>(&v2).unwrap(),
            New("chat".into(), 7, true)
        );
        // A type that did not change reads format 1 as it is.
        let mut same = 1u16.to_be_bytes().to_vec();
        same.extend(bincode::serde::encode_to_vec(("chat", 7u64), config()).unwrap());
        assert_eq!(decode::<(String, u64)>(&same).unwrap(), ("chat".into(), 7));
    }
}
