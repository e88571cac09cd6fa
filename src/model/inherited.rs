//! What an entity held in a document inherits from the parts holding it (see
//! `documents.rs`): its patient, member, encounter, claim, subject and study, and its
//! date, read from the rows the parents became.

use serde_json::{Map, Value};

use super::coerce::{is_empty, text_of};
use super::fields::lookup;
use super::row::CanonicalRow;
use super::tables::TableSpec;

/// The member id a patient document carries for its claims (`insurance.member_id`,
/// `insurance.primary.member_id`, `member_id`).
pub fn member_of_patient(object: &Map<String, Value>) -> Option<String> {
    ["member_id", "insurance", "coverage"].iter().find_map(|key| match object.get(*key)? {
        Value::Object(inner) => inner
            .get("member_id")
            .or_else(|| inner.get("primary").and_then(|p| p.get("member_id")))
            .filter(|v| !is_empty(v))
            .map(text_of),
        other if !is_empty(other) && *key == "member_id" => Some(text_of(other)),
        _ => None,
    })
}

/// What a part's children inherit: the links and the date of the parts that hold them.
#[derive(Debug, Clone, Default)]
pub struct Inherited {
    pub patient_mrn: Option<String>,
    pub member_id: Option<String>,
    pub encounter_id: Option<String>,
    pub claim_id: Option<String>,
    pub usubjid: Option<String>,
    pub study_id: Option<String>,
    pub subscriber_id: Option<String>,
    /// The parent's date (an encounter's admission, a claim's service date, an order's
    /// time), for children whose table takes it.
    pub date: Option<String>,
}

impl Inherited {
    /// What the children of a part of `table` (mapped to `row`, from `object`) inherit,
    /// over what the part itself inherited.
    pub fn of(
        table: &TableSpec,
        object: &Map<String, Value>,
        row: Option<&CanonicalRow>,
        from: &Inherited,
    ) -> Inherited {
        let mut next = from.clone();
        let value = |column: &str| {
            let row = row?;
            let index = table.columns.iter().position(|c| c.name == column)?;
            row.get(index).map(str::to_owned)
        };
        let set = |slot: &mut Option<String>, found: Option<String>| {
            if found.is_some() {
                *slot = found;
            }
        };
        // What a document (or an entity) says of its study and subject.
        let said = |paths: &[&str]| {
            paths.iter().find_map(|path| lookup(object, path).filter(|v| !v.is_object() && !v.is_array()).map(text_of))
        };
        set(&mut next.study_id, said(&["study_id", "protocol_id", "STUDYID", "study.study_id", "metadata.studyid"]));
        set(&mut next.usubjid, said(&["usubjid", "USUBJID", "metadata.usubjid"]));
        if row.is_none() {
            set(&mut next.member_id, said(&["member_id", "memberId"]));
        }
        match table.name {
            "patients" => {
                set(&mut next.patient_mrn, value("mrn"));
                set(&mut next.member_id, member_of_patient(object));
            }
            "members" => {
                set(&mut next.member_id, value("member_id"));
                if value("relationship_code").as_deref() == Some("18") {
                    next.subscriber_id = value("member_id");
                }
            }
            "subjects" => {
                set(&mut next.usubjid, value("usubjid"));
                set(&mut next.study_id, value("study_id"));
            }
            "encounters" => {
                set(&mut next.encounter_id, value("encounter_id"));
                set(&mut next.patient_mrn, value("patient_mrn"));
                next.date = value("admission_time").or(next.date);
            }
            "claims" | "pharmacy_claims" => {
                set(&mut next.claim_id, value("claim_id"));
                set(&mut next.member_id, value("member_id"));
                next.date = value("service_date").or(next.date);
            }
            "orders" => {
                set(&mut next.patient_mrn, value("patient_mrn"));
                set(&mut next.encounter_id, value("encounter_id"));
                next.date = value("ordered_datetime").or(next.date);
            }
            "prescriptions" => {
                set(&mut next.patient_mrn, value("patient_mrn"));
                set(&mut next.member_id, value("member_id"));
                next.date = value("written_date").or(next.date);
            }
            _ => {
                set(&mut next.patient_mrn, value("patient_mrn"));
            }
        }
        // A section's own date (`labs.collection_datetime`) dates what it holds.
        if let Some(date) = ["collection_datetime", "collection_date", "event_time", "report_date"]
            .iter()
            .find_map(|k| object.get(*k).filter(|v| v.is_string()).map(text_of))
        {
            next.date = Some(date);
        }
        next
    }

    /// The value a row of `table` inherits for `column`, if it is a link or its table's
    /// date.
    pub fn column(&self, table: &TableSpec, column: &str) -> Option<&str> {
        match column {
            "patient_mrn" => self.patient_mrn.as_deref(),
            "member_id" if table.name != "members" => self.member_id.as_deref(),
            "encounter_id" if table.name != "encounters" => self.encounter_id.as_deref(),
            "claim_id" if table.name == "claim_lines" => self.claim_id.as_deref(),
            "usubjid" if table.name != "subjects" => self.usubjid.as_deref(),
            "study_id" if table.name == "subjects" => self.study_id.as_deref(),
            "subscriber_id" if table.name == "members" => self.subscriber_id.as_deref(),
            _ if table.inherits_date && Some(column) == table.date_column => self.date.as_deref(),
            _ => None,
        }
    }
}
