//! Documents become rows: what is nested in them, and what it inherits.

use serde_json::{Value, json};

use crate::model::{SavePlan, canonical_tables, plan_save};

fn plan(entities: Value) -> SavePlan {
    let mut n = 0;
    plan_save(entities.as_object().unwrap().clone(), move || {
        n += 1;
        format!("gen-{n}")
    })
}

/// `table.column` of every row of the plan, in order.
fn column(plan: &SavePlan, table: &str, column: &str) -> Vec<Option<String>> {
    let spec = canonical_tables().iter().find(|t| t.name == table).unwrap();
    let index = spec.columns.iter().position(|c| c.name == column).unwrap();
    plan.rows.get(table).map_or(Vec::new(), |rows| rows.iter().map(|r| r.get(index).map(str::to_owned)).collect())
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

/// A skill's clinical summary (`{patient, encounter, diagnoses, labs, vitals}`): the patient
/// through its container, the children with its MRN, the single encounter's id and date.
#[test]
fn a_patient_document_holds_its_encounter_and_what_belongs_to_it() {
    let plan = plan(json!({"patients": [
        {"patient": {"mrn": "M-1", "name": {"given_name": "Ana", "family_name": "Ruiz"}, "birth_date": "1960-02-03"},
         "encounter": {"class_code": "O", "admission_time": "2025-05-06T08:40:00"},
         "diagnoses": [{"code": "E11.9"}, {"code": "I10", "diagnosed_date": "2010-01-02"}],
         "labs": [{"test_name": "HbA1c", "loinc_code": "4548-4", "value": "8.1"}],
         "vitals": {"systolic_bp": 150, "diastolic_bp": 90}}
    ]}));
    assert_eq!(plan.entities.len(), 1, "the document is one entity");
    assert_eq!(column(&plan, "patients", "mrn"), some(&["M-1"]));
    assert_eq!(column(&plan, "patients", "given_name"), some(&["Ana"]));
    let encounter = column(&plan, "encounters", "encounter_id");
    assert_eq!(column(&plan, "diagnoses", "encounter_id"), vec![encounter[0].clone(), encounter[0].clone()]);
    assert_eq!(column(&plan, "diagnoses", "patient_mrn"), some(&["M-1", "M-1"]));
    // Its own date wins; the other takes the encounter's.
    assert_eq!(column(&plan, "diagnoses", "diagnosed_date"), some(&["2025-05-06", "2010-01-02"]));
    assert_eq!(column(&plan, "lab_results", "collected_time"), some(&["2025-05-06 08:40:00"]));
    assert_eq!(column(&plan, "vital_signs", "patient_mrn"), some(&["M-1"]));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

/// A claim document's lines take the claim's id and service date; the member nested in the
/// document is the claim's; a claim naming nothing is still a row, warned.
#[test]
fn claim_lines_inherit_from_their_claim() {
    let plan = plan(json!({"claims": [
        {"member": {"member_id": "MB-1"},
         "claim": {"claim_id": "C-1", "service_date": "2025-03-04",
                   "claim_lines": [{"procedure_code": "99213", "charge_amount": 120}, {"procedure_code": "83036", "charge_amount": 30}]},
         "adjudication": {"paid_amount": 95.5}},
        {"claim_id": "C-2"}
    ]}));
    assert_eq!(column(&plan, "claims", "member_id"), vec![Some("MB-1".into()), None]);
    assert_eq!(column(&plan, "claims", "total_paid"), vec![Some("95.50".into()), None]);
    assert_eq!(column(&plan, "claim_lines", "claim_id"), some(&["C-1", "C-1"]));
    assert_eq!(column(&plan, "claim_lines", "service_date"), some(&["2025-03-04", "2025-03-04"]));
    assert_eq!(column(&plan, "members", "member_id"), some(&["MB-1"]), "the nested member is a row");
    assert!(plan.warnings.iter().any(|w| w.starts_with("claims 'C-2': member_id unknown")), "{:?}", plan.warnings);
}

/// In a pharmacy claim document the drug is a reference, not a medication; the prescription
/// is a row of its own with the claim's member; a member given whole wins over the same
/// member nested in a document, silently.
#[test]
fn pharmacy_documents_keep_references_and_prefer_whole_entities() {
    let plan = plan(json!({
        "members": [{"member_id": "MB-7", "given_name": "Lee", "family_name": "Park"}],
        "pharmacy_claims": [
            {"member": {"member_id": "MB-7"}, "medication": {"ndc": "00093-1048-01"},
             "prescription": {"prescription_number": "RX-1", "ndc": "00093-1048-01", "drug_name": "Metformin"},
             "claim": {"claim_id": "PC-1", "service_date": "2025-06-02"}}
        ]
    }));
    assert!(!plan.rows.contains_key("medications"));
    assert_eq!(column(&plan, "pharmacy_claims", "ndc"), some(&["00093-1048-01"]));
    assert_eq!(column(&plan, "prescriptions", "member_id"), some(&["MB-7"]));
    assert_eq!(column(&plan, "members", "given_name"), some(&["Lee"]), "the whole member stays");
    assert!(plan.warnings.iter().all(|w| !w.contains("more than once")), "{:?}", plan.warnings);
}

/// A member with its own id that lists its dependents is a row beside them; an enrollment
/// without an id of its own holds its subscriber and dependents, each a row.
#[test]
fn a_member_listing_dependents_is_a_member() {
    let plan = plan(json!({"members": [
        {"member_id": "M-1", "given_name": "Sam", "dependents": [{"member_id": "M-2", "relationship": "child"}]},
        {"enrollment": {"subscriber": {"member_id": "M-3"}, "dependents": [{"member_id": "M-4"}]}}
    ]}));
    assert_eq!(column(&plan, "members", "member_id"), some(&["M-1", "M-2", "M-3", "M-4"]));
    assert_eq!(column(&plan, "members", "relationship_code")[1].as_deref(), Some("19"));
}

/// SDTM domains: records land by domain with their upper-case CDISC names, and the visits
/// they were made at become trial visits, one per subject and visit.
#[test]
fn sdtm_domains_land_by_domain_with_their_visits() {
    let plan = plan(json!({
        "subjects": [{"domain": "DM", "records": [{"STUDYID": "S1", "USUBJID": "S1-01-001", "SUBJID": "001", "SITEID": "01", "SEX": "F"}]}],
        "exposures": [{"domain": "EX", "records": [
            {"USUBJID": "S1-01-001", "EXTRT": "Drug A", "EXSTDTC": "2025-01-10", "VISITNUM": 2, "VISIT": "Week 1"},
            {"USUBJID": "S1-01-001", "EXTRT": "Drug A", "EXSTDTC": "2025-01-11", "VISITNUM": 2, "VISIT": "Week 1"}
        ]}]
    }));
    assert_eq!(column(&plan, "subjects", "usubjid"), some(&["S1-01-001"]));
    assert_eq!(column(&plan, "subjects", "gender"), some(&["F"]));
    assert_eq!(column(&plan, "exposures", "extrt"), some(&["Drug A", "Drug A"]));
    assert_eq!(column(&plan, "trial_visits", "usubjid"), some(&["S1-01-001"]), "one visit");
    assert_eq!(column(&plan, "trial_visits", "visit_date"), some(&["2025-01-10"]));
}

/// A patient naming its person takes the person's names; a FHIR reference is a link, not
/// an entity; the same encounter under two type keys: the later row wins and the earlier
/// fills what it leaves out.
#[test]
fn persons_references_and_repeated_entities() {
    let plan = plan(json!({
        "persons": [{"person_id": "PER-1", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1971-07-08"}],
        "patients": [{"patient": {"patient_id": "P-1", "person_id": "PER-1", "mrn": "M-9"}}],
        "diagnoses": [{"id": "D-1", "code": "J45.20", "subject": {"reference": "Patient/P-1"}}],
        "encounter": [{"encounter_id": "E-1", "patient_id": "P-1", "admission_time": "2025-02-02T10:00:00"}],
        "encounters": [{"encounter_id": "E-1", "patient_id": "P-1", "discharge_time": "2025-02-05T12:00:00"}]
    }));
    assert_eq!(column(&plan, "patients", "given_name"), some(&["Rosa"]));
    assert_eq!(column(&plan, "patients", "birth_date"), some(&["1971-07-08"]));
    assert!(!plan.rows.contains_key("subjects"), "a reference is not a subject");
    assert_eq!(column(&plan, "diagnoses", "patient_mrn"), some(&["M-9"]));
    assert_eq!(column(&plan, "encounters", "admission_time"), some(&["2025-02-02 10:00:00"]));
    assert_eq!(column(&plan, "encounters", "discharge_time"), some(&["2025-02-05 12:00:00"]));
}
