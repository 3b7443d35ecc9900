//! Versioned record encoding: one version byte pair, then the bincode 2 body. A later format can
//! be read beside the old one by matching on the version.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// The record format this build writes.
pub const RECORD_VERSION: u16 = 1;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes `value` in the current record format.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = RECORD_VERSION.to_be_bytes().to_vec();
    let body = bincode::serde::encode_to_vec(value, config())
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Decodes a record written by this or an earlier format.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let (version, body) = match bytes {
        [a, b, body @ ..] => (u16::from_be_bytes([*a, *b]), body),
        _ => return Err(StoreError::Corrupt("record shorter than its header".into())),
    };
    match version {
        RECORD_VERSION => bincode::serde::decode_from_slice(body, config())
            .map(|(value, _)| value)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        other => Err(StoreError::UnknownVersion(other)),
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
}
