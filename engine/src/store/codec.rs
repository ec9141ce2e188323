//! Enums as the plain words the database stores (`completed`, `rate_limit`) and back.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The serde name of a unit variant.
pub(super) fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(super) fn parse<T: DeserializeOwned>(word: &str) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(word.to_string())).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn parse_opt<T: DeserializeOwned>(word: Option<String>) -> rusqlite::Result<Option<T>> {
    word.map(|w| parse(&w)).transpose()
}
