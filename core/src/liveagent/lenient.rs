//! Lenient decoders for the shapes the real server is known to send (spec §9): numbers that
//! arrive as strings, booleans that are missing, `null` where a value was expected.
//!
//! Leniency applies to human-readable formats (JSON from the wire). Binary formats (bincode in
//! the store) decode the plain shape, since they cannot describe their own values.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An integer that may arrive as a JSON number, a numeric string, or not at all.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    if !d.is_human_readable() {
        return Option::<i64>::deserialize(d);
    }
    Ok(value_to_i64(&Value::deserialize(d)?))
}

/// A boolean where missing or `null` means false, and `"true"`/`1` are accepted.
pub(crate) fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    if !d.is_human_readable() {
        return bool::deserialize(d);
    }
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => matches!(s.trim(), "true" | "True" | "TRUE" | "1"),
        Value::Number(n) => n.as_i64() == Some(1),
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    })
}

/// A string where `null` means absent and numbers are turned into their decimal text.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    if !d.is_human_readable() {
        return Option::<String>::deserialize(d);
    }
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    })
}

/// A string where `null` or a missing field means empty.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    if !d.is_human_readable() {
        return String::deserialize(d);
    }
    Ok(opt_string(d)?.unwrap_or_default())
}

/// A list where `null` means empty and elements that do not decode are skipped.
pub(crate) fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    if !d.is_human_readable() {
        return Vec::<T>::deserialize(d);
    }
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Object(_) => {
            Vec::new()
        }
    })
}

pub(crate) fn value_to_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
    }
}
