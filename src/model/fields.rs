//! Reading an entity's fields: by key (compared, not hashed, for objects the size entities
//! are) and by dotted path into nested objects (an array on the way yields its first
//! element).

use serde_json::{Map, Value};

use super::coerce::is_empty;

/// The first of `keys` that holds a non-empty value.
pub fn first_of<'a>(entity: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| field(entity, k).filter(|v| !is_empty(v)))
}

/// Follows a dotted path; an array on the way (or at the end) yields its first element.
pub fn lookup<'a>(entity: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = field(entity, parts.next()?)?;
    for part in parts {
        current = first_if_array(current);
        current = field(current.as_object()?, part)?;
    }
    Some(first_if_array(current)).filter(|v| !is_empty(v))
}

/// `map.get(key)`, found by comparing keys for objects the size entities are: mapping asks
/// ~100 keys of every entity, and hashing each of them (SipHash) cost more than comparing
/// it with a dozen keys (about a third of the mapping time).
pub fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() <= 16 { map.iter().find_map(|(k, v)| (k == key).then_some(v)) } else { map.get(key) }
}

fn first_if_array(value: &Value) -> &Value {
    match value {
        Value::Array(items) => items.first().unwrap_or(value),
        other => other,
    }
}
