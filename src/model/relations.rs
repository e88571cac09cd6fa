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
    /// `person` entities of the save by `person_id` (and id): the names and demographics a
    /// patient, member or subject naming its `person_id` lacks.
    persons: HashMap<String, Map<String, Value>>,
    /// The member id of the save's only patient (its `insurance.member_id`), for claims
    /// saved beside a patient document.
    only_patient_member: Option<String>,
    /// Subject id → USUBJID, for trial rows naming their subject by `subject_id`.
    usubjid_by_subject: HashMap<String, String>,
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
            persons: HashMap::new(),
            only_patient_member: None,
            usubjid_by_subject: HashMap::new(),
        }
    }

    /// With the member id of the save's only patient (see [`Relations::member_id`]).
    pub fn with_patient_member(mut self, member: Option<String>) -> Relations {
        self.only_patient_member = member;
        self
    }

    /// With the save's subjects: subject id → USUBJID.
    pub fn with_subjects(mut self, subjects: impl IntoIterator<Item = (String, String)>) -> Relations {
        self.usubjid_by_subject.extend(subjects);
        self
    }

    /// The USUBJID of the subject a trial row names by `subject_id`.
    pub fn usubjid_of(&self, entity: &Map<String, Value>) -> Option<String> {
        let id = text(entity, &["subject_id", "subjectId", "SUBJID"])?;
        self.usubjid_by_subject.get(&id).cloned()
    }

    /// With the save's `person` entities (objects with a `person_id` or `id`).
    pub fn with_persons(mut self, persons: impl IntoIterator<Item = Map<String, Value>>) -> Relations {
        for person in persons {
            for key in ["person_id", "id"] {
                if let Some(id) = person.get(key).filter(|v| !is_empty(v)).map(text_of) {
                    self.persons.entry(id).or_insert_with(|| person.clone());
                }
            }
        }
        self
    }

    /// The person an entity names by `person_id`, when the save holds it.
    pub fn person_of(&self, entity: &Map<String, Value>) -> Option<&Map<String, Value>> {
        if self.persons.is_empty() {
            return None;
        }
        let id = text(entity, &["person_id"])?;
        self.persons.get(&id)
    }

    /// The MRN a patient entity's row gets, if the pre-pass fixed it.
    pub fn mrn_of(&self, patient_id: &str) -> Option<&str> {
        self.mrn_by_id.get(patient_id).map(String::as_str)
    }

    /// `patient_mrn` of a child row: its own, else `inherited` (the patient of the
    /// document part holding it), else the save's only patient.
    pub fn patient_mrn(&self, entity: &Map<String, Value>, inherited: Option<&str>) -> Option<String> {
        if let Some(mrn) = text(entity, &["patient_mrn"]) {
            return Some(mrn);
        }
        let nested = entity.get("patient").and_then(Value::as_object);
        if let Some(mrn) = nested.and_then(|p| text(p, &["mrn", "medical_record_number"])) {
            return Some(mrn);
        }
        let id = text(entity, &["patient_id", "patientId", "patient_ref"])
            .or_else(|| nested.and_then(|p| text(p, &["id", "patient_id"])))
            .or_else(|| fhir_reference(entity));
        match id {
            Some(id) => Some(match self.mrn_by_id.get(&id) {
                Some(mrn) => mrn.clone(),
                // An MRN given as patient_id, or a patient saved elsewhere: as given.
                None => id,
            }),
            None => inherited.map(str::to_owned).or_else(|| self.only_mrn.clone()).or_else(|| {
                // A save without patients whose clinical rows name their member (an
                // enrollment's encounters): the member is the person.
                self.mrn_by_id.is_empty().then(|| text(entity, &["member_id", "memberId"])).flatten()
            }),
        }
    }

    /// `member_id` of a claim, pharmacy claim or prescription: its own, else the member
    /// nested in it, else `inherited`, else the save's only member (or the member id of its
    /// only patient).
    pub fn member_id(&self, entity: &Map<String, Value>, inherited: Option<&str>) -> Option<String> {
        if let Some(id) = text(entity, &["member_id", "memberId", "rx_member_id"]) {
            return Some(self.member_by_id.get(&id).cloned().unwrap_or(id));
        }
        // The member (or the patient, in pharmacy claim documents) nested in the document.
        let nested = ["member", "patient", "claim", "member_profile", "subscriber"].iter().find_map(|k| {
            let inner = entity.get(*k).and_then(Value::as_object)?;
            text(inner, if *k == "member" { &["member_id", "id"] } else { &["member_id"] })
        });
        if let Some(id) = nested {
            return Some(self.member_by_id.get(&id).cloned().unwrap_or(id));
        }
        inherited
            .map(str::to_owned)
            .or_else(|| self.only_member.clone())
            .or_else(|| self.only_patient_member.clone())
            .or_else(|| text(entity, &["cardholder_id"]))
    }
}

/// The id in a FHIR reference to a patient (`subject: {reference: "Patient/p1"}`).
fn fhir_reference(entity: &Map<String, Value>) -> Option<String> {
    let reference = ["subject", "patient"].iter().find_map(|k| entity.get(*k)?.get("reference")?.as_str())?;
    reference.strip_prefix("Patient/").map(str::to_owned)
}

fn text(entity: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| entity.get(*k).filter(|v| !is_empty(v) && !v.is_object() && !v.is_array())).map(text_of)
}
