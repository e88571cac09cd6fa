//! The pure domain: canonical table specs, the entity → row field mapping, and the plan of
//! a save (what rows a request becomes). No IO, no DuckDB, no MCP.

pub mod coerce;
pub mod mapping;
pub mod tables;

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

pub use tables::{TableSpec, canonical_tables, table_for_entity_type};

/// Warnings reported in a save response before the rest are only counted.
pub const MAX_WARNINGS: usize = 20;

/// One entity as it is stored in `scenario_entities`.
#[derive(Debug, Clone)]
pub struct StoredEntity {
    /// The entity-type key exactly as the client sent it.
    pub entity_type: String,
    pub entity_id: String,
    /// The entity's JSON exactly as submitted (key order kept).
    pub json: String,
}

/// Everything a save writes, computed before the write lock is taken so the lock is
/// held only for inserting.
#[derive(Debug, Default)]
pub struct SavePlan {
    /// Entities in submission order (a duplicate id keeps the later entity's position).
    pub entities: Vec<StoredEntity>,
    /// Canonical rows per table name, in submission order.
    pub rows: BTreeMap<&'static str, Vec<mapping::CanonicalRow>>,
    /// `{type key as given: number of entities saved}`, in input order.
    pub entity_counts: Vec<(String, usize)>,
    /// Every warning; the tool layer caps what it reports.
    pub warnings: Vec<String>,
}

impl SavePlan {
    pub fn total_entities(&self) -> usize {
        self.entities.len()
    }

    /// `{table: rows}` for tables that receive at least one row.
    pub fn canonical_counts(&self) -> Vec<(&'static str, usize)> {
        canonical_tables()
            .iter()
            .filter_map(|t| self.rows.get(t.name).filter(|r| !r.is_empty()).map(|r| (t.name, r.len())))
            .collect()
    }
}

/// Builds the plan for `entities` (type key → array of objects). The caller has checked
/// the shape (objects in arrays); `new_id` supplies ids for entities without one.
pub fn plan_save(entities: &Map<String, Value>, mut new_id: impl FnMut() -> String) -> SavePlan {
    let mut plan = SavePlan::default();
    // (table, id) → position in `plan.rows[table]`, to replace a row given twice.
    let mut row_index: HashMap<(&'static str, String), usize> = HashMap::new();
    for (type_key, items) in entities {
        let table = table_for_entity_type(type_key);
        if table.is_none() {
            plan.warnings
                .push(format!("entity type '{type_key}' is not a canonical type; its entities are saved as JSON only"));
        }
        let items: &[Value] = items.as_array().map(Vec::as_slice).unwrap_or(&[]);
        // Later duplicates win: remember the last index of every id first.
        let mut resolved: Vec<(String, &Map<String, Value>)> = Vec::with_capacity(items.len());
        let mut last_index: HashMap<String, usize> = HashMap::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Some(object) = item.as_object() else { continue };
            let id = mapping::entity_id(table, object).unwrap_or_else(&mut new_id);
            if last_index.insert(id.clone(), index).is_some() {
                plan.warnings
                    .push(format!("{type_key} '{id}' appears more than once in this request; the later one was saved"));
            }
            resolved.push((id, object));
        }
        let mut saved = 0usize;
        for (index, (id, object)) in resolved.into_iter().enumerate() {
            if last_index.get(&id) != Some(&index) {
                continue;
            }
            saved += 1;
            if let Some(table) = table {
                match mapping::map_entity(table, object, &id) {
                    Ok(row) => {
                        for note in &row.notes {
                            plan.warnings.push(format!("{type_key} '{id}': {note}"));
                        }
                        let rows = plan.rows.entry(table.name).or_default();
                        // `patient` and `patients` land in one table: the later key's row wins.
                        match row_index.entry((table.name, id.clone())) {
                            std::collections::hash_map::Entry::Occupied(at) => {
                                rows[*at.get()] = row;
                                plan.warnings.push(format!(
                                    "{} '{id}' was given under two entity-type keys; the later one became the canonical row",
                                    table.singular
                                ));
                            }
                            std::collections::hash_map::Entry::Vacant(slot) => {
                                slot.insert(rows.len());
                                rows.push(row);
                            }
                        }
                    }
                    Err(reason) => plan
                        .warnings
                        .push(format!("{type_key} '{id}' has no canonical row ({reason}); saved as JSON only")),
                }
            }
            plan.entities.push(StoredEntity {
                entity_type: type_key.clone(),
                entity_id: id,
                json: serde_json::to_string(object).unwrap_or_default(),
            });
        }
        plan.entity_counts.push((type_key.clone(), saved));
    }
    plan
}

/// A random UUID v4 in canonical text form, for scenario ids and entities without one.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Whether `text` has the shape of a UUID (8-4-4-4-12 hex digits).
pub fn is_uuid_shaped(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The canonical plural for an entity-type key (`patient` → `patients`); unknown keys
/// are returned as given.
pub fn canonical_type_name(key: &str) -> String {
    table_for_entity_type(key).map_or_else(|| key.to_owned(), |t| t.name.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("gen-{n}")
        }
    }

    /// Duplicates keep the later entity, unknown types are JSON only, bad rows warn.
    #[test]
    fn plan_handles_duplicates_unknown_types_and_bad_rows() {
        let input = json!({
            "patients": [
                {"id": "p1", "given_name": "Old", "family_name": "X", "birth_date": "1990-01-01", "gender": "F"},
                {"id": "p2", "given_name": "NoBirth", "family_name": "Y", "gender": "M"},
                {"id": "p1", "given_name": "New", "family_name": "X", "birth_date": "1990-01-01", "gender": "F"}
            ],
            "widgets": [{"size": 3}],
        });
        let plan = plan_save(input.as_object().unwrap(), counter());
        let ids: Vec<&str> = plan.entities.iter().map(|e| e.entity_id.as_str()).collect();
        assert_eq!(ids, ["p2", "p1", "gen-1"]);
        assert!(plan.entities[1].json.contains("\"New\""));
        assert_eq!(plan.entity_counts, vec![("patients".into(), 2), ("widgets".into(), 1)]);
        assert_eq!(plan.canonical_counts(), vec![("patients", 1)]);
        assert_eq!(plan.warnings.len(), 3, "{:?}", plan.warnings);
        assert!(plan.warnings.iter().any(|w| w.contains("'p1' appears more than once")));
        assert!(plan.warnings.iter().any(|w| w.contains("'p2' has no canonical row (required field birth_date")));
        assert!(plan.warnings.iter().any(|w| w.contains("'widgets' is not a canonical type")));
    }

    /// Submitted JSON is stored byte-for-byte in key order.
    #[test]
    fn entity_json_keeps_key_order() {
        let input = json!({"things": [{"z": 1, "a": {"y": 2, "b": 3}}]});
        let plan = plan_save(input.as_object().unwrap(), counter());
        assert_eq!(plan.entities[0].json, r#"{"z":1,"a":{"y":2,"b":3}}"#);
        assert_eq!(canonical_type_name("patient"), "patients");
        assert_eq!(canonical_type_name("widgets"), "widgets");
    }

    /// Generated ids are version-4 UUIDs and are recognised as UUID-shaped.
    #[test]
    fn uuids() {
        let id = new_uuid();
        assert!(is_uuid_shaped(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert_ne!(new_uuid(), id);
        assert!(!is_uuid_shaped("q3-scenario"));
    }
}
