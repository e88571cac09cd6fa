//! The pure domain: canonical table specs, the entity → row field mapping, and the plan of
//! a save (what rows a request becomes). No IO, no DuckDB, no MCP.

pub mod aliases;
pub mod coerce;
pub mod derived;
pub mod documents;
pub mod fields;
pub mod geography;
pub mod inherited;
pub mod mapping;
pub mod relations;
pub mod row;
pub mod tables;

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

pub use geography::STATE_COUNTIES;
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
    pub rows: BTreeMap<&'static str, Vec<row::CanonicalRow>>,
    /// `{type key as given: number of entities saved}`, in input order.
    pub entity_counts: Vec<(String, usize)>,
    /// Every warning; the tool layer caps what it reports.
    pub warnings: Vec<String>,
}

/// Adds `from`'s counts per entity type into `into` (types in first-seen order).
pub fn add_counts(into: &mut Vec<(String, usize)>, from: impl IntoIterator<Item = (String, usize)>) {
    for (kind, n) in from {
        match into.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => into.push((kind, n)),
        }
    }
}

impl SavePlan {
    /// Appends `part` (a later part of the same scenario, e.g. a generated chunk).
    pub fn absorb(&mut self, part: SavePlan) {
        self.entities.extend(part.entities);
        for (table, rows) in part.rows {
            self.rows.entry(table).or_default().extend(rows);
        }
        add_counts(&mut self.entity_counts, part.entity_counts);
        self.warnings.extend(part.warnings);
    }

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
///
/// Ids and duplicates are resolved in order first; the per-entity work (field mapping,
/// the JSON text) is then spread over the cores, and the plan is assembled in order, so
/// the result does not depend on the number of threads. The request is consumed: each
/// entity's parsed tree is freed as soon as its row and text exist, so a large save never
/// holds both in full (the tree takes ~9 bytes per byte of JSON).
pub fn plan_save(entities: Map<String, Value>, mut new_id: impl FnMut() -> String) -> SavePlan {
    let mut plan = SavePlan::default();
    let types: Vec<String> = entities.keys().cloned().collect();
    // Every entity that is saved, in order: (type, table, id, object); and per type
    // the warnings found while resolving ids plus its range of `kept`, so warnings come
    // out in the same order as if everything ran in one pass.
    let mut kept: Vec<Kept> = Vec::new();
    let mut warnings = Warnings::default();
    let mut segments: Vec<std::ops::Range<usize>> = Vec::new();
    for (type_index, (type_key, items)) in entities.into_iter().enumerate() {
        let table = table_for_entity_type(&type_key);
        if table.is_none() && !is_person_key(&type_key) {
            warnings.line(
                &type_key,
                format!("entity type '{type_key}' is not a canonical type; its entities are saved as JSON only"),
            );
        }
        let Value::Array(items) = items else {
            plan.entity_counts.push((type_key, 0));
            segments.push(kept.len()..kept.len());
            continue;
        };
        // Later duplicates win: remember the last position of every id first.
        let mut resolved: Vec<(String, Map<String, Value>)> = Vec::with_capacity(items.len());
        let mut last_index: HashMap<String, usize> = HashMap::with_capacity(items.len());
        for item in items {
            let Value::Object(object) = item else { continue };
            // A document's own entity is read through its container (`{"patient": {...}}`).
            let own = table.and_then(|t| documents::own_entity(t, &object));
            let id = own
                .as_deref()
                .and_then(|own| mapping::entity_id(table, own))
                .or_else(|| mapping::entity_id(table, &object))
                .unwrap_or_else(&mut new_id);
            drop(own);
            if last_index.insert(id.clone(), resolved.len()).is_some() {
                warnings.add(&type_key, "given more than once in this request; the later one was saved", &id);
            }
            resolved.push((id, object));
        }
        let start = kept.len();
        for (index, (id, object)) in resolved.into_iter().enumerate() {
            if last_index.get(&id) == Some(&index) {
                kept.push((type_index, table, id, object));
            }
        }
        plan.entity_counts.push((type_key, kept.len() - start));
        segments.push(start..kept.len());
    }
    let relations = relations_of(&kept, &types);
    let mut worked = map_in_parallel(kept, |(type_index, table, id, object)| {
        let rows = table.map_or_else(Vec::new, |table| map_document(table, &object, &id, &relations));
        let json = serde_json::to_string(&object).unwrap_or_default();
        (type_index, id, rows, json)
    })
    .into_iter();
    // (table, id) → position in `plan.rows[table]` and whether it is a document's own
    // entity, to replace a row given twice.
    let mut row_index: HashMap<(&'static str, String), (usize, bool)> = HashMap::new();
    for range in segments {
        for (type_index, id, parts, json) in worked.by_ref().take(range.len()) {
            let type_key = &types[type_index];
            for DocumentRow { table, id: row_id, own, row } in parts {
                // The document's own entity is reported under its type key, what it
                // holds under the table it landed in.
                let reported = if own { type_key.as_str() } else { table.name };
                match row {
                    Ok(row) => {
                        for note in &row.notes {
                            warnings.add(reported, note, &row_id);
                        }
                        let rows = plan.rows.entry(table.name).or_default();
                        // `patient` and `patients` land in one table: the later key's row
                        // wins. An entity a document holds (the member of a claim
                        // document) never replaces one given whole, nor one held before.
                        match row_index.entry((table.name, row_id.clone())) {
                            std::collections::hash_map::Entry::Occupied(mut at) => {
                                let (index, was_own) = *at.get();
                                if own {
                                    rows[index] = row.filled_from(&rows[index]);
                                    at.insert((index, true));
                                    if was_own {
                                        warnings.add(
                                            table.name,
                                            "given under two entity-type keys; the later one became the canonical row",
                                            &row_id,
                                        );
                                    }
                                }
                            }
                            std::collections::hash_map::Entry::Vacant(slot) => {
                                slot.insert((rows.len(), own));
                                rows.push(row);
                            }
                        }
                    }
                    Err(reason) => {
                        warnings.add(reported, &format!("no canonical row ({reason}); saved as JSON only"), &row_id)
                    }
                }
            }
            plan.entities.push(StoredEntity { entity_type: type_key.clone(), entity_id: id, json });
        }
    }
    plan.warnings = warnings.finish(types.iter());
    plan
}

/// The rows of one document saved under `table` with id `id`: its own entity's and those
/// of the entities it holds, each mapped with what it inherits from the parts holding it.
fn map_document(
    table: &'static TableSpec,
    object: &Map<String, Value>,
    id: &str,
    relations: &relations::Relations,
) -> Vec<DocumentRow> {
    let parts = documents::expand(table, object, id);
    // What a part hands down matters only when the document holds more than itself (a flat
    // entity, most of a large save, skips it).
    let nested = parts.len() > 1;
    let mut inherited: Vec<inherited::Inherited> = Vec::with_capacity(if nested { parts.len() } else { 0 });
    let mut rows = Vec::with_capacity(parts.len());
    for part in parts {
        let from = part.parent.map(|i| inherited[i].clone()).unwrap_or_default();
        if !part.row {
            inherited.push(inherited::Inherited::of(part.table, &part.object, None, &from));
            continue;
        }
        let row = mapping::map_entity_with(part.table, &part.object, &part.id, relations, &from);
        if nested {
            inherited.push(inherited::Inherited::of(part.table, &part.object, row.as_ref().ok(), &from));
        }
        rows.push(DocumentRow { table: part.table, id: part.id, own: part.parent.is_none(), row });
    }
    rows
}

/// A row of a document: of its own entity (`own`), or of one it holds.
struct DocumentRow {
    table: &'static TableSpec,
    id: String,
    own: bool,
    row: Result<row::CanonicalRow, String>,
}

/// Entity-type keys of `person` entities: not canonical, they lend their names and
/// demographics to the patients, members and subjects naming their `person_id`.
fn is_person_key(key: &str) -> bool {
    matches!(key.trim().to_ascii_lowercase().as_str(), "person" | "persons" | "people")
}

/// The save's patients (id → MRN, generated here when missing, so the patient row and the
/// rows linking to it agree), members (id → member_id) and persons.
fn relations_of(kept: &[Kept], types: &[String]) -> relations::Relations {
    let mut patients: Vec<(String, String)> = Vec::new();
    let mut members: Vec<(String, String)> = Vec::new();
    let mut persons: Vec<Map<String, Value>> = Vec::new();
    let mut patient_members: Vec<Option<String>> = Vec::new();
    let mut subjects: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (type_index, table, id, object) in kept {
        let Some(table) = table else {
            if is_person_key(&types[*type_index]) {
                persons.push(object.clone());
            }
            continue;
        };
        if !seen.insert((table.name, id.as_str())) {
            continue;
        }
        match table.name {
            "patients" => {
                let own = documents::own_entity(table, object);
                let mrn = own.as_deref().and_then(mapping::given_mrn);
                patient_members.push(own.as_deref().and_then(inherited::member_of_patient));
                patients.push((id.clone(), mrn.unwrap_or_else(mapping::generated_mrn)))
            }
            "members" => {
                let own = documents::own_entity(table, object);
                let member = own.as_deref().and_then(mapping::given_member_id);
                members.push((id.clone(), member.unwrap_or_else(|| id.clone())))
            }
            "subjects" => {
                let own = documents::own_entity(table, object);
                if let Some((subject, usubjid)) = own.as_deref().and_then(derived::subject_usubjid) {
                    subjects.push((subject, usubjid));
                }
            }
            _ => {}
        }
    }
    let patient_member = match patient_members.as_slice() {
        [only] => only.clone(),
        _ => None,
    };
    relations::Relations::new(patients, members)
        .with_persons(persons)
        .with_patient_member(patient_member)
        .with_subjects(subjects)
}

/// Save warnings, one line per (entity type, reason) with a count and up to three ids;
/// type by type in input order, in the order they first occur within a type.
#[derive(Default)]
struct Warnings {
    /// (type key, reason, ids); a line of its own has its text as reason and no ids.
    lines: Vec<(String, String, Vec<String>)>,
    index: HashMap<(String, String), usize>,
}

impl Warnings {
    fn add(&mut self, type_key: &str, reason: &str, id: &str) {
        let key = (type_key.to_owned(), reason.to_owned());
        let at = *self.index.entry(key).or_insert_with(|| {
            self.lines.push((type_key.to_owned(), reason.to_owned(), Vec::new()));
            self.lines.len() - 1
        });
        self.lines[at].2.push(id.to_owned());
    }

    /// A line of its own about a type (no ids).
    fn line(&mut self, type_key: &str, text: String) {
        self.lines.push((type_key.to_owned(), text, Vec::new()));
    }

    fn finish<'a>(mut self, types: impl Iterator<Item = &'a String>) -> Vec<String> {
        let rank: HashMap<&str, usize> = types.enumerate().map(|(i, t)| (t.as_str(), i)).collect();
        self.lines.sort_by_key(|(type_key, _, _)| rank.get(type_key.as_str()).copied().unwrap_or(usize::MAX));
        self.lines
            .into_iter()
            .map(|(type_key, reason, ids)| {
                if ids.is_empty() {
                    return reason;
                }
                let shown: Vec<String> = ids.iter().take(3).map(|id| format!("'{id}'")).collect();
                let more = if ids.len() > 3 { format!(" and {} more", ids.len() - 3) } else { String::new() };
                let count = if ids.len() > 1 { format!(" ({} entities)", ids.len()) } else { String::new() };
                format!("{type_key} {}{more}{count}: {reason}", shown.join(", "))
            })
            .collect()
    }
}

/// An entity that is saved: (its type's position, canonical table, id, the object).
type Kept = (usize, Option<&'static TableSpec>, String, Map<String, Value>);

/// `work` applied to every item, in order, on up to two threads (the machine this runs on
/// is small, and the database work that follows is the larger part of a save).
fn map_in_parallel<T: Send, R: Send>(mut items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    const MIN_PER_THREAD: usize = 2_000;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(2);
    if threads < 2 || items.len() < 2 * MIN_PER_THREAD {
        return items.into_iter().map(&work).collect();
    }
    let second = items.split_off(items.len() / 2);
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| second.into_iter().map(&work).collect::<Vec<R>>());
        let mut out: Vec<R> = items.into_iter().map(&work).collect();
        out.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        out
    })
}

/// A random UUID v4 in canonical text form, for entities without an id.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A time-ordered UUID (version 7: 48 bits of Unix milliseconds, then random bits), for
/// scenario ids: the rows of a scenario are appended together, so with ids that grow with
/// time DuckDB's zone maps (each row group's smallest and largest value) skip the row
/// groups of other scenarios when a read filters by scenario, as an index would.
pub fn new_scenario_uuid() -> String {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
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

    /// Scenario ids are UUIDs that sort by the time they were made (zone maps rely on it).
    #[test]
    fn scenario_ids_are_time_ordered_uuids() {
        let first = new_scenario_uuid();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_scenario_uuid();
        for id in [&first, &second] {
            assert!(is_uuid_shaped(id), "{id}");
            assert_eq!(&id[14..15], "7", "version 7: {id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "variant: {id}");
        }
        assert!(first < second, "{first} then {second}");
    }

    /// The work spread over threads comes back in input order.
    #[test]
    fn parallel_work_keeps_order() {
        let items: Vec<usize> = (0..10_001).collect();
        assert_eq!(map_in_parallel(items.clone(), |x| x * 2), items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(map_in_parallel(items[..3].to_vec(), |x| x + 1), vec![1, 2, 3]);
    }

    /// A plan large enough to be mapped on two threads is assembled exactly in order:
    /// entities, rows, and warnings type by type.
    #[test]
    fn large_plans_keep_submission_order() {
        let mut patients: Vec<Value> = (0..3_000)
            .map(|i| json!({"id": format!("p{i}"), "given_name": "A", "family_name": format!("F{i}"), "birth_date": "1990-01-01", "gender": "F"}))
            .collect();
        patients.push(
            json!({"id": "p5", "given_name": "Again", "family_name": "X", "birth_date": "1990-01-01", "gender": "F"}),
        );
        patients.push(json!({"id": "bad", "given_name": "No", "family_name": "Birth", "gender": "F"}));
        let widgets: Vec<Value> = (0..3_000).map(|i| json!({"id": format!("w{i}")})).collect();
        let entities = json!({"patients": patients, "widgets": widgets});
        let plan = plan_save(entities.as_object().unwrap().clone(), counter());
        let ids: Vec<&str> = plan.entities.iter().map(|e| e.entity_id.as_str()).collect();
        let expected: Vec<String> = (0..3_000)
            .filter(|i| *i != 5)
            .map(|i| format!("p{i}"))
            .chain(["p5".to_owned(), "bad".to_owned()])
            .chain((0..3_000).map(|i| format!("w{i}")))
            .collect();
        assert_eq!(ids, expected);
        let rows = &plan.rows["patients"];
        assert_eq!(rows.len(), 3_001, "the patient without a birth date is a row too");
        assert_eq!(rows[rows.len() - 2].get(3), Some("Again"), "the later p5 wins, in its position");
        assert_eq!(rows.last().unwrap().get(8), None, "unknown birth date");
        assert_eq!(plan.warnings.len(), 2);
        assert!(plan.warnings[0].starts_with("patients 'p5': given more than once"), "{:?}", plan.warnings);
        assert!(plan.warnings[1].starts_with("entity type 'widgets' is not a canonical type"), "{:?}", plan.warnings);
        assert_eq!(plan.entity_counts, vec![("patients".to_owned(), 3_001), ("widgets".to_owned(), 3_000)]);
    }

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("gen-{n}")
        }
    }

    /// Duplicates keep the later entity, unknown types are JSON only, rows lacking fields
    /// are rows.
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
        let plan = plan_save(input.as_object().unwrap().clone(), counter());
        let ids: Vec<&str> = plan.entities.iter().map(|e| e.entity_id.as_str()).collect();
        assert_eq!(ids, ["p2", "p1", "gen-1"]);
        assert!(plan.entities[1].json.contains("\"New\""));
        assert_eq!(plan.entity_counts, vec![("patients".into(), 2), ("widgets".into(), 1)]);
        assert_eq!(plan.canonical_counts(), vec![("patients", 2)], "a patient without a birth date is a row");
        assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
        assert!(plan.warnings.iter().any(|w| w.contains("'p1': given more than once")));
        assert!(plan.warnings.iter().any(|w| w.contains("'widgets' is not a canonical type")));
    }

    /// Submitted JSON is stored byte-for-byte in key order.
    #[test]
    fn entity_json_keeps_key_order() {
        let input = json!({"things": [{"z": 1, "a": {"y": 2, "b": 3}}]});
        let plan = plan_save(input.as_object().unwrap().clone(), counter());
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
