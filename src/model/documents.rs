//! Documents → the entities inside them. HealthSim's generators, skills and saved cohorts
//! write documents rather than rows: a patient with its encounter, diagnoses, medications
//! and labs; a claim with its lines and adjudication; a pharmacy claim with its member,
//! pharmacy, prescription and response; an SDTM domain with its records. A save keeps each
//! document whole (as the client sent it) and makes canonical rows of what is inside it:
//! the document's own entity (`{"patient": {...}, ...}` read through its container) and
//! every entity nested under a key that names a canonical type, each child taking its
//! links (patient, member, encounter, claim, subject) and its date from the parent that
//! holds it ([`Inherited`]). A flat entity is its own only part, borrowed, not copied.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::coerce::{is_empty, text_of};
use super::mapping::entity_id;
use super::tables::{TableSpec, table_for_entity_type, table_named};

/// Keys that hold a document's own entity, per table: `{"patient": {...}, "diagnoses": [...]}`
/// saved under `patients` is the patient inside `patient`.
const CONTAINERS: &[(&str, &[&str])] = &[
    ("patients", &["patient"]),
    ("members", &["member", "rx_member"]),
    ("subjects", &["subject", "trial_subject"]),
    ("encounters", &["encounter", "admission"]),
    ("orders", &["order"]),
    ("claims", &["claim", "professional_claim", "facility_claim", "follow_up_claim"]),
    ("pharmacy_claims", &["claim", "primary_claim", "pharmacy_claim", "claim_segment"]),
    ("prescriptions", &["prescription"]),
];

/// Keys under which documents nest entities of a canonical table (besides each table's
/// own name and singular): HealthSim's skills, saved cohorts and generators.
const CHILD_KEYS: &[(&str, &str)] = &[
    ("admission", "encounters"),
    ("ed_encounter", "encounters"),
    ("screening_encounter", "encounters"),
    ("surgical_consultation", "encounters"),
    ("surgical_encounter", "encounters"),
    ("oncology_followup", "encounters"),
    ("discharge_diagnoses", "diagnoses"),
    ("cancer_diagnosis", "diagnoses"),
    ("current_medications", "medications"),
    ("discharge_medications", "medications"),
    ("medications_administered", "medications"),
    ("treatment", "medications"),
    ("recent_labs", "lab_results"),
    ("troponin_series", "lab_results"),
    ("initial_labs", "lab_results"),
    ("initial_vitals", "vital_signs"),
    ("vitals_on_admission", "vital_signs"),
    ("most_recent_vitals", "vital_signs"),
    ("procedures_performed", "procedures"),
    ("surgical_history", "procedures"),
    ("labs_ordered", "orders"),
    ("lines", "claim_lines"),
    ("service_lines", "claim_lines"),
    ("serviceLines", "claim_lines"),
    ("revenue_lines", "claim_lines"),
    ("professional_claim", "claims"),
    ("facility_claim", "claims"),
    ("follow_up_claim", "claims"),
    ("primary_claim", "pharmacy_claims"),
    ("copay_card_claim", "pharmacy_claims"),
    ("subscriber", "members"),
    ("dependents", "members"),
    ("dependents_added", "members"),
    ("dependents_terminated", "members"),
    ("member_profile", "members"),
    ("linked_patient", "patients"),
    ("clinicalNotes", "clinical_notes"),
];

/// Objects that documents of a table name by a table's key but that are references, not
/// entities of it: the drug of a pharmacy claim (`medication`), the patient segment of one.
const REFERENCES: &[(&str, &str)] = &[
    ("pharmacy_claims", "medication"),
    ("pharmacy_claims", "patient"),
    ("prescriptions", "medication"),
    ("prescriptions", "patient"),
    ("claims", "patient"),
    ("claims", "medication"),
    ("claims", "diagnoses"),
];

/// Keys whose entities land in another table when a document of a table holds them: a
/// claim's `procedures` are its lines.
const CHILD_KEYS_OF: &[(&str, &str, &str)] =
    &[("claims", "procedures", "claim_lines"), ("claims", "revenue_codes", "claim_lines")];

/// How deep sections are searched for nested entities.
const MAX_DEPTH: usize = 6;

/// One entity of a document, with the part it inherits from.
#[derive(Debug)]
pub struct Part<'a> {
    pub table: &'static TableSpec,
    pub object: Cow<'a, Map<String, Value>>,
    /// Index of the part it inherits from; `None` for the document's own entity.
    pub parent: Option<usize>,
    pub id: String,
    /// Whether it becomes a row: a document that only holds entities (an enrollment, an
    /// SDTM domain) is a part for what they inherit from it (its study, its member).
    pub row: bool,
}

/// The table an entity-type key names, including the type keys HealthSim uses for them
/// (`labs`, `vitals`, `conditions`, `rx_members`, `visits`, ...).
pub fn table_for_key(key: &str) -> Option<&'static TableSpec> {
    table_for_entity_type(key).or_else(|| {
        let key = key.trim();
        CHILD_KEYS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, table)| table_named(table))
    })
}

/// The object holding a document's own entity of `table`: the document read through its
/// container, with the document's other fields beside it (a claim document's `member`,
/// `adjudication` and `response` stay reachable); the document itself when it has no
/// container; `None` when the document only holds entities of its table (an enrollment
/// with a subscriber and dependents, an SDTM domain with its records).
pub fn own_entity<'a>(table: &TableSpec, document: &'a Map<String, Value>) -> Option<Cow<'a, Map<String, Value>>> {
    let containers = containers(table);
    let container = containers.iter().find_map(|key| document.get(*key).and_then(Value::as_object));
    match container {
        Some(inner) => {
            let mut merged = inner.clone();
            for (key, value) in document {
                if !merged.contains_key(key) && !containers.contains(&key.as_str()) {
                    merged.insert(key.clone(), value.clone());
                }
            }
            Some(Cow::Owned(merged))
        }
        // An enrollment holding a subscriber and dependents is none; a member with an id
        // of its own that lists its dependents is one.
        None if holds_own_kind(table, document, 0) && entity_id(Some(table), document).is_none() => None,
        None => Some(Cow::Borrowed(document)),
    }
}

/// Whether `node` nests entities of `table` itself (then it is not one).
fn holds_own_kind(table: &TableSpec, node: &Map<String, Value>, depth: usize) -> bool {
    depth < 2
        && node.iter().any(|(key, value)| match child_table(node, key, value) {
            Some(child) => child.name == table.name,
            None => value.as_object().is_some_and(|inner| holds_own_kind(table, inner, depth + 1)),
        })
}

/// The container keys of `table`'s documents.
fn containers(table: &TableSpec) -> &'static [&'static str] {
    CONTAINERS.iter().find(|(t, _)| *t == table.name).map_or(&[], |(_, keys)| keys)
}

/// The table of the entities under `key` in `node`, if it names one (`records` of an SDTM
/// domain by the node's `domain`).
fn child_table(node: &Map<String, Value>, key: &str, value: &Value) -> Option<&'static TableSpec> {
    if !(value.is_object() || value.is_array()) {
        // Notes are often text (`clinicalNotes: "..."`).
        return table_for_key(key).filter(|t| t.name == "clinical_notes" && value.is_string());
    }
    if key == "records" {
        let domain = node.get("domain").map(text_of)?;
        return table_named(match domain.to_ascii_uppercase().as_str() {
            "DM" => "subjects",
            "AE" => "adverse_events",
            "EX" => "exposures",
            _ => return None,
        });
    }
    table_for_key(key)
}

/// Every part of `document` saved under `table` with id `id`: its own entity first (when
/// it is one), then the entities nested in it, parents before their children.
pub fn expand<'a>(table: &'static TableSpec, document: &'a Map<String, Value>, id: &str) -> Vec<Part<'a>> {
    let mut parts = Vec::new();
    let own = own_entity(table, document);
    // A flat entity (no nested objects or arrays) holds nothing else.
    if let Some(object) = own.as_ref().filter(|_| !document.values().any(|v| v.is_object() || v.is_array())) {
        return vec![Part { table, object: object.clone(), parent: None, id: id.to_owned(), row: true }];
    }
    let row = own.is_some();
    let object = own.unwrap_or(Cow::Borrowed(document));
    parts.push(Part { table, object, parent: None, id: id.to_owned(), row });
    let mut walk = Walk { parts, counters: Vec::new(), document_id: id };
    match row {
        true => walk.entity(document, table, 0, 0),
        false => walk.node(document, Some(0), None, 0),
    }
    walk.parts
}

struct Walk<'a, 'd> {
    parts: Vec<Part<'a>>,
    /// Children made per table, for the ids of those without one.
    counters: Vec<(&'static str, usize)>,
    document_id: &'d str,
}

impl<'a> Walk<'a, '_> {
    /// The entities nested in an entity of `table` (part `index`): inside its container
    /// (a claim's lines inside `claim`), then beside it.
    fn entity(&mut self, object: &'a Map<String, Value>, table: &'static TableSpec, index: usize, depth: usize) {
        let skip = containers(table);
        for key in skip {
            if let Some(inner) = object.get(*key).and_then(Value::as_object) {
                self.node(inner, Some(index), Some(table), depth + 1);
            }
        }
        self.node_except(object, Some(index), Some(table), skip, depth);
    }

    fn node(&mut self, node: &'a Map<String, Value>, parent: Option<usize>, own: Option<&TableSpec>, depth: usize) {
        self.node_except(node, parent, own, &[], depth)
    }

    /// The entities nested in `node` (an entity of table `own`, or a section of one).
    fn node_except(
        &mut self,
        node: &'a Map<String, Value>,
        parent: Option<usize>,
        own: Option<&TableSpec>,
        skip: &[&str],
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let reference = |key: &str| own.is_some_and(|o| REFERENCES.contains(&(o.name, key)));
        let entries: Vec<(&'a String, &'a Value, Option<&'static TableSpec>)> = node
            .iter()
            .filter(|(key, _)| !skip.contains(&key.as_str()) && !reference(key))
            .map(|(key, value)| {
                let of = own.and_then(|o| CHILD_KEYS_OF.iter().find(|(t, k, _)| *t == o.name && k == key));
                (key, value, of.and_then(|(_, _, table)| table_named(table)).or_else(|| child_table(node, key, value)))
            })
            .collect();
        // A node's single encounter is what its other entities belong to.
        let mut encounters = Vec::new();
        for (_, value, table) in &entries {
            if let Some(table) = table.filter(|t| t.name == "encounters" && own.is_none_or(|o| o.name != t.name)) {
                encounters.extend(self.children(value, table, parent, depth));
            }
        }
        let context = match encounters.as_slice() {
            [single] => Some(*single),
            _ => parent,
        };
        if let Some(records) = node.get("records").and_then(Value::as_array) {
            self.visits(node, records, context);
        }
        for (key, value, table) in entries {
            match table {
                Some(table) if table.name == "encounters" && own.is_none_or(|o| o.name != table.name) => {}
                // A field of the entity that happens to name a table (an encounter's
                // `encounter` inside an encounter document was its container).
                Some(table) if own.is_some_and(|o| o.name == table.name) && key == table.singular => {}
                Some(table) => {
                    let context = if takes_encounter(table) { context } else { parent };
                    self.children(value, table, context, depth);
                }
                None => {
                    if let Some(section) = value.as_object() {
                        self.node(section, context, own, depth + 1);
                    }
                }
            }
        }
    }

    /// The entities under `key`: each object of an array, or one object (a section of
    /// several kinds when it nests entities itself, as `labs: {troponin_series: [...]}`).
    fn children(
        &mut self,
        value: &'a Value,
        table: &'static TableSpec,
        parent: Option<usize>,
        depth: usize,
    ) -> Vec<usize> {
        // A note written as text (`clinicalNotes: "..."`) is a note with that content.
        if let (Value::String(text), "clinical_notes") = (value, table.name) {
            let mut note = Map::new();
            note.insert("content".to_owned(), Value::String(text.clone()));
            let id = self.next_id(table);
            let index = self.parts.len();
            self.parts.push(Part { table, object: Cow::Owned(note), parent, id, row: true });
            return vec![index];
        }
        let objects: Vec<&'a Map<String, Value>> = match value {
            Value::Array(items) => items.iter().filter_map(Value::as_object).filter(|o| !is_reference(o)).collect(),
            Value::Object(object) if is_reference(object) => return Vec::new(),
            Value::Object(object) if is_section(object) => {
                self.node(object, parent, None, depth + 1);
                return Vec::new();
            }
            Value::Object(object) => vec![object],
            _ => Vec::new(),
        };
        let mut made = Vec::new();
        for object in objects {
            // A claim of a mixed list that says it is a pharmacy claim is one.
            let table = if table.name == "claims" && is_pharmacy_claim(object) {
                table_named("pharmacy_claims").unwrap_or(table)
            } else {
                table
            };
            let own = own_entity(table, object);
            let Some(own) = own else {
                self.node(object, parent, Some(table), depth + 1);
                continue;
            };
            let id = entity_id(Some(table), &own).unwrap_or_else(|| self.next_id(table));
            let index = self.parts.len();
            self.parts.push(Part { table, object: own, parent, id, row: true });
            made.push(index);
            self.entity(object, table, index, depth + 1);
        }
        made
    }

    /// The trial visits an SDTM domain's records imply: each record with a `VISITNUM`
    /// (EX, VS, LB, DS) was made at that visit of its subject, one row per subject and
    /// visit (`USUBJID-VISITNUM`; the first record of a visit gives its date).
    fn visits(&mut self, node: &Map<String, Value>, records: &'a [Value], parent: Option<usize>) {
        let domain = node.get("domain").map(text_of).unwrap_or_default().to_ascii_uppercase();
        if !matches!(domain.as_str(), "EX" | "VS" | "LB" | "DS") {
            return;
        }
        let Some(visits) = table_named("trial_visits") else { return };
        for record in records.iter().filter_map(Value::as_object) {
            let (Some(subject), Some(visit)) = (record.get("USUBJID"), record.get("VISITNUM")) else { continue };
            let id = format!("{}-VISIT-{}", text_of(subject), text_of(visit));
            self.parts.push(Part { table: visits, object: Cow::Borrowed(record), parent, id, row: true });
        }
    }

    /// `DOCUMENT-ID:diagnosis:2` for the second diagnosis without an id of its own.
    fn next_id(&mut self, table: &TableSpec) -> String {
        let n = match self.counters.iter_mut().find(|(t, _)| *t == table.name) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.counters.push((table.name, 1));
                1
            }
        };
        format!("{}:{}:{n}", self.document_id, table.singular)
    }
}

/// An object holding entities rather than being one: every non-empty value is an array or
/// object under a key that names a table (or a section of them), or a date of them.
fn is_section(object: &Map<String, Value>) -> bool {
    let mut nested = false;
    for (key, value) in object {
        if is_empty(value) {
            continue;
        }
        if child_table(object, key, value).is_some() {
            nested = true;
        } else if !(value.is_string() && (key.contains("date") || key.contains("time"))) {
            return false;
        }
    }
    nested
}

/// A claim whose `claim_type` says pharmacy (`pharmacy`, `RX`, `NCPDP`).
fn is_pharmacy_claim(object: &Map<String, Value>) -> bool {
    ["claim_type", "claimType", "type"].iter().any(|k| {
        object
            .get(*k)
            .and_then(Value::as_str)
            .is_some_and(|t| matches!(t.trim().to_ascii_lowercase().as_str(), "pharmacy" | "rx" | "ncpdp" | "drug"))
    })
}

/// A FHIR reference (`{"reference": "Patient/p1", "display": ...}`): it names an entity,
/// it is not one.
fn is_reference(object: &Map<String, Value>) -> bool {
    object.contains_key("reference") && object.len() <= 3
}

/// Tables whose rows belong to the encounter of their document.
fn takes_encounter(table: &TableSpec) -> bool {
    matches!(
        table.name,
        "diagnoses"
            | "medications"
            | "lab_results"
            | "vital_signs"
            | "orders"
            | "clinical_notes"
            | "procedures"
            | "immunizations"
            | "claims"
    )
}

#[cfg(test)]
mod tests;
