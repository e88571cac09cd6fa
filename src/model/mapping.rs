//! Entity JSON → canonical row: the field mapping of `spec/schema.md`.
//!
//! A column takes the entity key of the same name, unless the table has an alias list for
//! it (first non-empty wins). Alias paths use dots for nesting (`name.given`); a path that
//! meets an array takes its first element. Values are coerced to the column's type by
//! `coerce`; DDL defaults are applied here because bulk inserts name every column.

use serde_json::{Map, Value};

use super::aliases::aliases;
use super::coerce::{coerce, is_empty, text_of};
use super::derived::{claim_type, relationship_code, usubjid};
use super::fields::{field, first_of, lookup};
use super::inherited::Inherited;
use super::relations::Relations;
use super::row::CanonicalRow;
use super::tables::{Column, TableSpec};

/// Names of the provenance columns the mapping fills, in order.
pub const MAPPED_PROVENANCE: [&str; 4] = ["source_type", "source_system", "skill_used", "generation_seed"];

/// The id of an entity: first non-empty of the type's specific id keys, then `id`.
/// `None` means the caller generates one.
pub fn entity_id(table: Option<&TableSpec>, entity: &Map<String, Value>) -> Option<String> {
    let specific = table.map(|t| t.id_keys).unwrap_or(&[]);
    specific
        .iter()
        .chain(std::iter::once(&"id"))
        .find_map(|key| {
            let value = if key.contains('.') { lookup(entity, key) } else { field(entity, key) };
            value.filter(|v| !is_empty(v) && !v.is_object() && !v.is_array())
        })
        .map(text_of)
}

/// Maps one entity to a row of `table`. `entity_id` is the id the entity is saved under.
/// Fails (the row is skipped, the JSON is kept) when a NOT NULL column has no usable value.
pub fn map_entity(
    table: &TableSpec,
    entity: &Map<String, Value>,
    entity_id: &str,
    relations: &Relations,
) -> Result<CanonicalRow, String> {
    map_entity_with(table, entity, entity_id, relations, &Inherited::default())
}

/// [`map_entity`] for an entity held in a document: what it lacks of its links and its
/// date it takes from `inherited` (the parts that hold it), before the save's only
/// patient or member. A link or date still unknown is noted (the save's warning).
pub fn map_entity_with(
    table: &TableSpec,
    entity: &Map<String, Value>,
    entity_id: &str,
    relations: &Relations,
    inherited: &Inherited,
) -> Result<CanonicalRow, String> {
    let mut values = Vec::with_capacity(table.columns.len() + MAPPED_PROVENANCE.len());
    let mut notes = Vec::new();
    for column in &table.columns {
        let found = column_value(table, column, entity, entity_id, relations, inherited);
        let found = match found {
            Ok(None) => Ok(inherited_value(table, column, inherited)),
            found => found,
        };
        let value = match found {
            Ok(value) => value,
            Err(reason) if column.not_null => return Err(format!("{}: {reason}", column.name)),
            Err(reason) => {
                notes.push(format!("{} stored as NULL: {reason}", column.name));
                None
            }
        };
        let value = value.or_else(|| column.default.map(str::to_owned));
        if value.is_none() && column.not_null {
            return Err(format!("required field {} is missing", column.name));
        }
        // A prescription is linked by its patient or its member.
        let linked_otherwise = table.name == "prescriptions" && values.get(1).is_some_and(Option::is_some);
        if value.is_none()
            && ((table.link_column == Some(column.name) && !linked_otherwise) || table.date_column == Some(column.name))
        {
            notes.push(format!("{} unknown (the document does not say it); stored as NULL", column.name));
        }
        values.push(value);
    }
    let provenance = ["_provenance", "provenance"].iter().find_map(|key| field(entity, key).and_then(Value::as_object));
    let from_provenance = |keys: &[&str]| {
        provenance.and_then(|p| keys.iter().find_map(|k| field(p, k).filter(|v| !is_empty(v)).map(text_of)))
    };
    values.push(Some(from_provenance(&["source_type"]).unwrap_or_else(|| "generated".into())));
    values.push(Some(from_provenance(&["source_system"]).unwrap_or_else(|| table.product.source_system().into())));
    values.push(from_provenance(&["skill_used"]));
    let seed =
        provenance.and_then(|p| ["seed", "generation_seed"].iter().find_map(|k| field(p, k).filter(|v| !is_empty(v))));
    values.push(match seed.map(|v| coerce(v, super::tables::ColumnType::Integer)) {
        Some(Ok(seed)) => Some(seed),
        Some(Err(reason)) => {
            notes.push(format!("generation_seed stored as NULL: {reason}"));
            None
        }
        None => None,
    });
    Ok(CanonicalRow::new(values, notes))
}

/// What a column takes from the parts holding the entity, coerced to its type (an
/// encounter's admission time is a diagnosis's date).
fn inherited_value(table: &TableSpec, column: &Column, inherited: &Inherited) -> Option<String> {
    let text = inherited.column(table, column.name)?;
    coerce(&Value::String(text.to_owned()), column.ty).ok()
}

/// The value of one column: `Ok(None)` when the entity has nothing for it.
fn column_value(
    table: &TableSpec,
    column: &Column,
    entity: &Map<String, Value>,
    entity_id: &str,
    relations: &Relations,
    inherited: &Inherited,
) -> Result<Option<String>, String> {
    let (table_name, name) = (table.name, column.name);
    // Columns whose value is derived rather than looked up.
    if name == table.id_column && !matches!(table_name, "members" | "subjects") {
        return Ok(Some(entity_id.to_owned()));
    }
    match (table_name, name) {
        ("members", "id") | ("subjects", "id") => {
            let key = if table_name == "members" { "member_id" } else { "subject_id" };
            return Ok(first_of(entity, &["id", key]).map(text_of).or_else(|| Some(entity_id.to_owned())));
        }
        ("members", "member_id") | ("subjects", "subject_id") => {
            return Ok(first_of(entity, &[name, "id"]).map(text_of).or_else(|| Some(entity_id.to_owned())));
        }
        ("members", "relationship_code") => return Ok(relationship_code(entity)),
        ("patients", "mrn") if relations.mrn_of(entity_id).is_some() => {
            return Ok(relations.mrn_of(entity_id).map(str::to_owned));
        }
        (
            "encounters" | "diagnoses" | "medications" | "lab_results" | "vital_signs" | "orders" | "clinical_notes"
            | "prescriptions" | "procedures" | "allergies" | "immunizations",
            "patient_mrn",
        ) => return Ok(relations.patient_mrn(entity, inherited.patient_mrn.as_deref())),
        ("claims" | "pharmacy_claims" | "prescriptions", "member_id") => {
            return Ok(relations.member_id(entity, inherited.member_id.as_deref()));
        }
        ("claims", "claim_type") => return Ok(claim_type(entity)),
        ("subjects", "usubjid") => return Ok(usubjid(entity)),
        ("trial_visits" | "adverse_events" | "exposures", "usubjid") => {
            if let Some(given) = first_of(entity, &["usubjid", "USUBJID"]) {
                return Ok(Some(text_of(given)));
            }
            return Ok(relations.usubjid_of(entity).or_else(|| usubjid(entity)));
        }
        ("patients", "mrn") => {
            return Ok(first_of(entity, &["mrn", "medical_record_number"])
                .map(text_of)
                .or_else(|| Some(generated_mrn())));
        }
        _ => {}
    }
    let aliases = aliases(table_name, name);
    let found = match aliases {
        // A JSON column keeps an array whole.
        Some(paths) if column.ty == super::tables::ColumnType::Json => {
            paths.iter().find_map(|path| field(entity, path).filter(|v| !is_empty(v)))
        }
        Some(paths) => paths.iter().find_map(|path| lookup(entity, path)),
        None => field(entity, name).filter(|v| !is_empty(v)),
    }
    // A claim or prescription document (`{"claim": {...}, "claim_lines": [...]}`) keeps
    // the entity's own fields in one nested object.
    .or_else(|| {
        let container = match table_name {
            "claims" | "pharmacy_claims" => "claim",
            "prescriptions" => "prescription",
            _ => return None,
        };
        field(entity, container)
            .and_then(Value::as_object)
            .and_then(|inner| field(inner, name))
            .filter(|v| !is_empty(v))
    });
    // Names and demographics of a person the entity names by `person_id`.
    let found = found.or_else(|| {
        let person =
            relations.person_of(entity).filter(|_| matches!(table_name, "patients" | "members" | "subjects"))?;
        match aliases {
            Some(paths) => paths.iter().find_map(|path| lookup(person, path)),
            None => field(person, name).filter(|v| !is_empty(v)),
        }
    });
    let Some(found) = found else {
        return Ok(match (table_name, name) {
            ("encounters", "class_code") => Some("O".into()),
            ("encounters", "status") => Some("finished".into()),
            _ => None,
        });
    };
    let text = coerce(found, column.ty)?;
    Ok(Some(if (table_name, name) == ("claims", "claim_type") { text.to_uppercase() } else { text }))
}

/// A patient entity's own MRN, if it gives one.
pub fn given_mrn(entity: &Map<String, Value>) -> Option<String> {
    first_of(entity, &["mrn", "medical_record_number"]).map(text_of)
}

/// A member entity's own member_id (else its id), if it gives one.
pub fn given_member_id(entity: &Map<String, Value>) -> Option<String> {
    first_of(entity, &["member_id", "id"]).map(text_of)
}

/// A fresh MRN: 8 upper-case hex characters.
pub fn generated_mrn() -> String {
    format!("{:08X}", fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::derived::x12_relationship;
    use crate::model::tables::table_for_entity_type;

    fn row(table: &str, entity: Value) -> Result<std::collections::HashMap<String, Option<String>>, String> {
        let spec = table_for_entity_type(table).unwrap();
        let object = entity.as_object().unwrap().clone();
        let id = entity_id(Some(spec), &object).unwrap_or_else(|| "generated".into());
        let mapped = map_entity(spec, &object, &id, &Relations::default())?;
        let names = spec.columns.iter().map(|c| c.name).chain(MAPPED_PROVENANCE);
        Ok(names.map(str::to_owned).zip(mapped.values().map(|v| v.map(str::to_owned))).collect())
    }

    fn get(row: &std::collections::HashMap<String, Option<String>>, key: &str) -> Option<String> {
        row.get(key).unwrap_or_else(|| panic!("no column {key}")).clone()
    }

    /// Nested FHIR-ish patient: names, address, telecom, defaults and provenance.
    #[test]
    fn patient_from_nested_shape() {
        let r = row(
            "patient",
            json!({
                "patient_id": "p-1", "mrn": "MRN001",
                "name": {"given": ["Ana", "Maria"], "family": "Lopez", "prefix": "Ms"},
                "birthDate": "1980-05-01", "sex": "female",
                "address": {"line": ["1 Main St"], "line2": "Apt 2", "city": "Austin", "state": "TX", "postalCode": "78701"},
                "telecom": {"phone": "555-0100", "mobile": "555-0101", "email": "ana@example.org"},
                "_provenance": {"skill_used": "diabetes", "seed": 42}
            }),
        )
        .unwrap();
        assert_eq!(get(&r, "id").as_deref(), Some("p-1"));
        assert_eq!(get(&r, "given_name").as_deref(), Some("Ana"));
        assert_eq!(get(&r, "family_name").as_deref(), Some("Lopez"));
        assert_eq!(get(&r, "prefix").as_deref(), Some("Ms"));
        assert_eq!(get(&r, "birth_date").as_deref(), Some("1980-05-01"));
        assert_eq!(get(&r, "gender").as_deref(), Some("female"));
        assert_eq!(get(&r, "street_address").as_deref(), Some("1 Main St"));
        assert_eq!(get(&r, "street_address_2").as_deref(), Some("Apt 2"));
        assert_eq!(get(&r, "postal_code").as_deref(), Some("78701"));
        assert_eq!(get(&r, "phone_mobile").as_deref(), Some("555-0101"));
        assert_eq!(get(&r, "email").as_deref(), Some("ana@example.org"));
        assert_eq!(get(&r, "language").as_deref(), Some("en"));
        assert_eq!(get(&r, "country").as_deref(), Some("US"));
        assert_eq!(get(&r, "deceased").as_deref(), Some("false"));
        assert_eq!(get(&r, "source_type").as_deref(), Some("generated"));
        assert_eq!(get(&r, "source_system").as_deref(), Some("patientsim"));
        assert_eq!(get(&r, "skill_used").as_deref(), Some("diabetes"));
        assert_eq!(get(&r, "generation_seed").as_deref(), Some("42"));
    }

    /// Flat variant with a generated MRN; a missing required field skips the row.
    #[test]
    fn patient_flat_shape_and_missing_required() {
        let r = row(
            "patients",
            json!({"id": "p-2", "first_name": "Bo", "last_name": "Chan", "date_of_birth": "1990-01-02", "gender": "M", "zip": 2134}),
        )
        .unwrap();
        let mrn = get(&r, "mrn").unwrap();
        assert!(mrn.len() == 8 && mrn.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()), "{mrn}");
        assert_eq!(get(&r, "postal_code").as_deref(), Some("2134"));
        // December 2026: only the id is required; what a document leaves out is NULL.
        let r =
            row("patients", json!({"id": "p-3", "first_name": "No", "last_name": "Birthday", "gender": "F"})).unwrap();
        assert_eq!(get(&r, "birth_date"), None);
        let spec = table_for_entity_type("patients").unwrap();
        let bad = json!({"id": "p-4", "first_name": "Bad", "last_name": "Date", "gender": "F", "birth_date": "soon"});
        let mapped = map_entity(spec, bad.as_object().unwrap(), "p-4", &Relations::default()).unwrap();
        assert_eq!(mapped.get(8), None, "birth_date");
        assert!(mapped.notes[0].starts_with("birth_date stored as NULL: 'soon' is not"), "{:?}", mapped.notes);
    }

    /// Encounters: patient_id alias, FHIR period, class default, reasonCode text.
    #[test]
    fn encounter_mapping() {
        let r = row(
            "encounter",
            json!({"encounter_id": "e-1", "patient_id": "p-1", "period": {"start": "2024-01-05T08:00:00-06:00", "end": "2024-01-06T10:30:00Z"},
                   "reasonCode": [{"text": "Chest pain"}]}),
        )
        .unwrap();
        assert_eq!(get(&r, "patient_mrn").as_deref(), Some("p-1"));
        assert_eq!(get(&r, "class_code").as_deref(), Some("O"));
        assert_eq!(get(&r, "status").as_deref(), Some("finished"));
        assert_eq!(get(&r, "admission_time").as_deref(), Some("2024-01-05 14:00:00"));
        assert_eq!(get(&r, "discharge_time").as_deref(), Some("2024-01-06 10:30:00"));
        assert_eq!(get(&r, "chief_complaint").as_deref(), Some("Chest pain"));
    }

    /// The other clinical tables and claim lines: aliases, defaults, typed values, JSON.
    #[test]
    fn remaining_clinical_tables_and_claim_lines() {
        let d = row(
            "diagnosis",
            json!({"id": "d-1", "code": "E11.9", "display": "Type 2 diabetes", "patient_id": "p-1",
                   "onsetDateTime": "2023-12-31T23:30:00-05:00", "abatementDateTime": "2024-06-01"}),
        )
        .unwrap();
        assert_eq!(get(&d, "description").as_deref(), Some("Type 2 diabetes"));
        assert_eq!(get(&d, "patient_mrn").as_deref(), Some("p-1"));
        assert_eq!(get(&d, "diagnosed_date").as_deref(), Some("2024-01-01"), "offset dates are stored as UTC");
        assert_eq!(get(&d, "resolved_date").as_deref(), Some("2024-06-01"));
        assert_eq!(get(&d, "type").as_deref(), Some("final"));
        let m = row(
            "medications",
            json!({"id": "m-1", "name": "Metformin", "dose": "500 mg", "route": "oral", "frequency": "BID",
                   "patient_mrn": "p-1", "start_date": "2024-01-08"}),
        )
        .unwrap();
        assert_eq!(get(&m, "start_date").as_deref(), Some("2024-01-08 00:00:00"));
        assert_eq!(get(&m, "status").as_deref(), Some("active"));
        assert_eq!(get(&m, "source_system").as_deref(), Some("patientsim"));
        let l = row(
            "lab_result",
            json!({"id": "l-1", "test_name": "HbA1c", "loinc_code": "4548-4", "value": 7.1, "patient_mrn": "p-1",
                   "collected_time": "2024-01-05T09:10:00Z"}),
        )
        .unwrap();
        assert_eq!(get(&l, "value").as_deref(), Some("7.1"));
        assert_eq!(get(&l, "collected_time").as_deref(), Some("2024-01-05 09:10:00"));
        let v = row(
            "vital_sign",
            json!({"id": "v-1", "patient_mrn": "p-1", "observation_time": "2024-01-05T09:00:00Z", "temperature": "37.25",
                   "heart_rate": "72", "systolic_bp": 120.0, "spo2": "n/a", "weight_kg": 81.456}),
        )
        .unwrap();
        assert_eq!(get(&v, "temperature").as_deref(), Some("37.25"));
        assert_eq!(get(&v, "heart_rate").as_deref(), Some("72"));
        assert_eq!(get(&v, "systolic_bp").as_deref(), Some("120"));
        assert_eq!(get(&v, "spo2"), None, "an unparseable optional value is stored as NULL");
        assert_eq!(get(&v, "weight_kg").as_deref(), Some("81.46"));
        let o = row(
            "order",
            json!({"order_id": "o-1", "patient_mrn": "p-1", "order_type": "lab", "code": "83036", "ordered_datetime": "2024-01-05 08:00"}),
        )
        .unwrap();
        assert_eq!(
            (get(&o, "code_system"), get(&o, "priority"), get(&o, "status")),
            (Some("CPT".into()), Some("routine".into()), Some("new".into()))
        );
        assert_eq!(get(&o, "ordered_datetime").as_deref(), Some("2024-01-05 08:00:00"));
        let n = row(
            "clinical_notes",
            json!({"note_id": "n-1", "patient_mrn": "p-1", "note_type": "progress", "note_datetime": "2024-01-05T10:00:00Z", "content": "Stable."}),
        )
        .unwrap();
        assert_eq!(get(&n, "id").as_deref(), Some("n-1"));
        assert_eq!(get(&n, "content").as_deref(), Some("Stable."));
        let c = row(
            "claim_line",
            json!({"id": "cl-1", "claim_id": "c-1", "line_number": 1, "procedure_code": "99213", "procedure_modifiers": ["25"],
                   "service_date": "2024-02-01", "charge_amount": "125", "diagnosis_pointers": [1, 2]}),
        )
        .unwrap();
        assert_eq!(get(&c, "procedure_modifiers").as_deref(), Some(r#"["25"]"#));
        assert_eq!(get(&c, "diagnosis_pointers").as_deref(), Some("[1,2]"));
        assert_eq!(get(&c, "charge_amount").as_deref(), Some("125.00"));
        assert_eq!(get(&c, "units").as_deref(), Some("1"));
        assert_eq!(get(&c, "place_of_service").as_deref(), Some("11"));
        assert_eq!(get(&c, "source_system").as_deref(), Some("membersim"));
    }

    /// Members: id fallbacks, X12 relationship text, coverage and plan aliases.
    #[test]
    fn member_mapping_and_x12() {
        let r = row(
            "member",
            json!({"member_id": "M1", "patient_id": "SUB1", "relationship": "Spouse", "first_name": "A", "last_name": "B",
                   "birth_date": "1970-01-01", "gender": "F", "group_number": "G1", "plan_id": "PPO", "effective_date": "2024-01-01"}),
        )
        .unwrap();
        assert_eq!(get(&r, "id").as_deref(), Some("M1"));
        assert_eq!(get(&r, "member_id").as_deref(), Some("M1"));
        assert_eq!(get(&r, "subscriber_id").as_deref(), Some("SUB1"));
        assert_eq!(get(&r, "relationship_code").as_deref(), Some("01"));
        assert_eq!(get(&r, "group_id").as_deref(), Some("G1"));
        assert_eq!(get(&r, "plan_code").as_deref(), Some("PPO"));
        assert_eq!(get(&r, "coverage_start").as_deref(), Some("2024-01-01"));
        assert_eq!(get(&r, "source_system").as_deref(), Some("membersim"));
        for (text, code) in [
            ("self", "18"),
            ("Subscriber", "18"),
            ("child", "19"),
            ("dependent", "19"),
            ("parent", "32"),
            ("grandparent", "04"),
            ("grandchild", "05"),
            ("nephew", "07"),
            ("niece", "07"),
            ("foster child", "10"),
            ("ward", "15"),
            ("stepchild", "17"),
            ("employee", "20"),
            ("other", "21"),
            ("life partner", "53"),
            ("domestic_partner", "53"),
        ] {
            assert_eq!(x12_relationship(text), Some(code), "{text}");
        }
        assert_eq!(x12_relationship("cousin"), None);
        let default = row(
            "members",
            json!({"id": "row-9", "first_name": "A", "last_name": "B", "birth_date": "1970-01-01", "gender": "F", "group_id": "G", "plan_code": "P", "coverage_start": "2024-01-01"}),
        )
        .unwrap();
        assert_eq!(get(&default, "relationship_code").as_deref(), Some("18"));
        assert_eq!(get(&default, "member_id").as_deref(), Some("row-9"));
    }

    /// Claims: upper-cased type, billed alias, first diagnosis code, JSON column, decimals.
    #[test]
    fn claim_mapping() {
        let r = row(
            "claim",
            json!({"claim_id": "C1", "claim_type": "professional", "member_id": "M1", "provider_npi": "1234567890",
                   "service_date": "2024-02-01", "diagnosis_codes": ["E11.9", "I10"], "other_diagnoses": ["I10"],
                   "total_billed": "250.5", "total_paid": 200, "patient_responsibility": 50.25}),
        )
        .unwrap();
        assert_eq!(get(&r, "claim_type").as_deref(), Some("PROFESSIONAL"));
        assert_eq!(get(&r, "principal_diagnosis").as_deref(), Some("E11.9"));
        assert_eq!(get(&r, "other_diagnoses").as_deref(), Some(r#"["I10"]"#));
        assert_eq!(get(&r, "total_charge").as_deref(), Some("250.50"));
        assert_eq!(get(&r, "total_paid").as_deref(), Some("200.00"));
        assert_eq!(get(&r, "member_responsibility").as_deref(), Some("50.25"));
        assert_eq!(get(&r, "place_of_service").as_deref(), Some("11"));
    }

    /// Prescriptions and pharmacy claims: aliases, integer defaults, product default.
    #[test]
    fn pharmacy_mapping() {
        let r = row(
            "prescription",
            json!({"prescription_id": "RX1", "rx_member_id": "M1", "drug_ndc": "00002-1433-80", "drug_name": "Metformin",
                   "quantity": "60", "days_supply": 30, "prescriber_npi": "1", "written_date": "2024-01-01", "expiration_date": "2025-01-01"}),
        )
        .unwrap();
        assert_eq!(get(&r, "prescription_number").as_deref(), Some("RX1"));
        assert_eq!(get(&r, "member_id").as_deref(), Some("M1"));
        assert_eq!(get(&r, "ndc").as_deref(), Some("00002-1433-80"));
        assert_eq!(get(&r, "quantity_prescribed").as_deref(), Some("60.00"));
        assert_eq!(get(&r, "refills_authorized").as_deref(), Some("0"));
        assert_eq!(get(&r, "daw_code").as_deref(), Some("0"));
        assert_eq!(get(&r, "source_system").as_deref(), Some("rxmembersim"));
    }

    /// Trial subjects take `id` from id else subject_id; visit numbers are decimals.
    #[test]
    fn trial_mapping() {
        let subject = row(
            "subject",
            json!({"subject_id": "S-001", "usubjid": "STUDY1-S-001", "study_id": "STUDY1", "site_id": "SITE1",
                   "given_name": "A", "family_name": "B", "birth_date": "1960-01-01", "gender": "M",
                   "informed_consent_date": "2024-01-01", "status": "enrolled", "treatment_arm": "placebo"}),
        )
        .unwrap();
        assert_eq!(get(&subject, "id").as_deref(), Some("S-001"));
        assert_eq!(get(&subject, "subject_id").as_deref(), Some("S-001"));
        assert_eq!(get(&subject, "source_system").as_deref(), Some("trialsim"));
        let visit = row(
            "trial_visits",
            json!({"visit_id": "V1", "usubjid": "STUDY1-S-001", "visit_num": 1.5, "visit_date": "2024-02-01"}),
        )
        .unwrap();
        assert_eq!(get(&visit, "id").as_deref(), Some("V1"));
        assert_eq!(get(&visit, "visit_num").as_deref(), Some("1.5"));
        assert_eq!(get(&visit, "window_deviation_days").as_deref(), Some("0"));
    }

    /// Entity ids: specific key, then `id`, else none (the caller generates a UUID).
    #[test]
    fn entity_id_resolution() {
        let patients = table_for_entity_type("patients");
        let with_specific = json!({"patient_id": "A", "id": "B"});
        assert_eq!(entity_id(patients, with_specific.as_object().unwrap()).as_deref(), Some("A"));
        let with_id = json!({"patient_id": "", "id": 7});
        assert_eq!(entity_id(patients, with_id.as_object().unwrap()).as_deref(), Some("7"));
        assert_eq!(entity_id(None, json!({"x": 1}).as_object().unwrap()), None);
    }
}
