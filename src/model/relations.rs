//! Who a child entity belongs to, when it does not say so in the key our layout names.
//!
//! HealthSim's generators and skills link clinical rows to their patient by `patient_id`
//! (the patient entity's id), nest the patient or member in the document, or leave the
//! link out where a document is about one person. A row takes its patient (member) from
//! its own keys, else from the patient (member) nested in it, else from the save's only
//! patient (member); `patient_id` resolves to that patient's MRN. Nothing is guessed when
//! the save has several and the row names none.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::coerce::{is_empty, text_of};

/// The patients and members of one save, for resolving links.
#[derive(Debug, Default)]
pub struct Relations {
    /// Patient entity id → its MRN (as the patient row gets it, generated ones included).
    mrn_by_id: HashMap<String, String>,
    only_mrn: Option<String>,
    /// Member entity id → its member_id.
    member_by_id: HashMap<String, String>,
    only_member: Option<String>,
}

impl Relations {
    /// From the save's patients `(entity id, MRN)` and members `(entity id, member_id)`.
    pub fn new(patients: Vec<(String, String)>, members: Vec<(String, String)>) -> Relations {
        let only_mrn = (patients.len() == 1).then(|| patients[0].1.clone());
        let only_member = (members.len() == 1).then(|| members[0].1.clone());
        Relations {
            mrn_by_id: patients.into_iter().collect(),
            only_mrn,
            member_by_id: members.into_iter().collect(),
            only_member,
        }
    }

    /// The MRN a patient entity's row gets, if the pre-pass fixed it.
    pub fn mrn_of(&self, patient_id: &str) -> Option<&str> {
        self.mrn_by_id.get(patient_id).map(String::as_str)
    }

    /// `patient_mrn` of a child row.
    pub fn patient_mrn(&self, entity: &Map<String, Value>) -> Option<String> {
        if let Some(mrn) = text(entity, &["patient_mrn"]) {
            return Some(mrn);
        }
        let nested = entity.get("patient").and_then(Value::as_object);
        if let Some(mrn) = nested.and_then(|p| text(p, &["mrn", "medical_record_number"])) {
            return Some(mrn);
        }
        let id = text(entity, &["patient_id", "patient_ref"])
            .or_else(|| nested.and_then(|p| text(p, &["id", "patient_id"])));
        match id {
            Some(id) => Some(match self.mrn_by_id.get(&id) {
                Some(mrn) => mrn.clone(),
                // An MRN given as patient_id, or a patient saved elsewhere: as given.
                None => id,
            }),
            None => self.only_mrn.clone(),
        }
    }

    /// `member_id` of a claim, pharmacy claim or prescription.
    pub fn member_id(&self, entity: &Map<String, Value>) -> Option<String> {
        if let Some(id) = text(entity, &["member_id", "rx_member_id"]) {
            return Some(self.member_by_id.get(&id).cloned().unwrap_or(id));
        }
        // The member (or the patient, in pharmacy claim documents) nested in the document.
        let nested = ["member", "patient", "claim"].iter().find_map(|k| {
            let inner = entity.get(*k).and_then(Value::as_object)?;
            text(inner, if *k == "member" { &["member_id", "id"] } else { &["member_id"] })
        });
        if let Some(id) = nested {
            return Some(self.member_by_id.get(&id).cloned().unwrap_or(id));
        }
        self.only_member.clone()
    }
}

fn text(entity: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| entity.get(*k).filter(|v| !is_empty(v) && !v.is_object() && !v.is_array())).map(text_of)
}
