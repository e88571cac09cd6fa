//! Alias lists of the field mapping: the entity keys (dotted paths into nested objects)
//! a canonical column is read from, first non-empty wins, for columns HealthSim's
//! generators, skills, saved cohorts and FHIR-ish documents spell differently.

/// Alias lists (first non-empty wins) for columns that generators spell differently.
pub fn aliases(table: &str, column: &str) -> Option<&'static [&'static str]> {
    let person = matches!(table, "patients" | "members" | "subjects");
    Some(match (table, column) {
        // `name.given_name`: HealthSim's own Person model (generators, skills).
        (_, "given_name") if person => &["given_name", "first_name", "name.given_name", "name.given"],
        (_, "family_name") if person => &["family_name", "last_name", "name.family_name", "name.family"],
        (_, "middle_name") if person => &["middle_name", "name.middle_name", "name.middle"],
        (_, "prefix") if person => &["prefix", "name.prefix"],
        (_, "suffix") if person => &["suffix", "name.suffix"],
        (_, "birth_date") if person => &["birth_date", "birthDate", "date_of_birth"],
        (_, "gender") if person => &["gender", "sex"],
        ("patients", "death_date") => &["death_date", "deceasedDateTime"],
        (_, "street_address") if person => &[
            "street_address",
            "address_line1",
            "address.street_address",
            "address.line1",
            "address.street",
            "address.line",
        ],
        (_, "street_address_2") if person => {
            &["street_address_2", "address_line2", "address.street_address_2", "address.line2"]
        }
        (_, "city") if person => &["city", "address.city"],
        (_, "state") if person => &["state", "address.state"],
        (_, "country") if person => &["country", "address.country"],
        (_, "postal_code") if person => {
            &["postal_code", "zip", "zip_code", "address.postalCode", "address.postal_code", "address.zip"]
        }
        (_, "phone") if person => &["phone", "contact.phone", "telecom.phone"],
        ("patients", "phone_mobile") => &["phone_mobile", "contact.phone_mobile", "telecom.mobile"],
        (_, "email") if person => &["email", "contact.email", "telecom.email"],
        ("encounters", "class_code") => &["class_code", "class"],
        ("encounters", "admission_time") => &["admission_time", "period.start", "start_time"],
        ("encounters", "discharge_time") => &["discharge_time", "period.end"],
        ("encounters", "chief_complaint") => &["chief_complaint", "reasonCode"],
        ("diagnoses", "description") => &["description", "display"],
        // The PatientSim skills' examples.
        ("lab_results", "test_name") => &["test_name", "test"],
        ("lab_results", "loinc_code") => &["loinc_code", "loinc"],
        ("lab_results", "abnormal_flag") => &["abnormal_flag", "flag"],
        ("lab_results", "collected_time") => &["collected_time", "collected_date", "datetime"],
        ("vital_signs", "observation_time") => &["observation_time", "datetime"],
        ("vital_signs", "spo2") => &["spo2", "oxygen_saturation"],
        ("vital_signs", "weight_kg") => &["weight_kg", "weight"],
        ("medications", "code") => &["code", "rxnorm_code"],
        // PatientSim's ClinicalNote model.
        ("clinical_notes", "note_datetime") => &["note_datetime", "note_time"],
        ("clinical_notes", "content") => &["content", "text"],
        ("diagnoses", "diagnosed_date") => &["diagnosed_date", "onsetDateTime"],
        ("diagnoses", "resolved_date") => &["resolved_date", "abatementDateTime"],
        ("members", "subscriber_id") => &["subscriber_id", "patient_id"],
        ("members", "coverage_start") => &["coverage_start", "enrollment_start_date", "effective_date", "start_date"],
        ("members", "coverage_end") => &["coverage_end", "enrollment_end_date", "termination_date", "end_date"],
        ("members", "group_id") => &["group_id", "group_number", "contract_id"],
        // The pharmacy claim documents of HealthSim's Rx skills nest member, pharmacy,
        // prescription and adjudication response.
        ("pharmacy_claims", "pharmacy_npi") => &["pharmacy_npi", "pharmacy.npi"],
        ("pharmacy_claims", "ndc") => &["ndc", "medication.ndc", "prescription.ndc", "drug.ndc"],
        ("pharmacy_claims", "quantity_dispensed") => {
            &["quantity_dispensed", "quantity", "medication.quantity", "prescription.quantity_dispensed"]
        }
        ("pharmacy_claims", "days_supply") => &["days_supply", "medication.days_supply", "prescription.days_supply"],
        ("pharmacy_claims", "ingredient_cost_submitted") => &["ingredient_cost_submitted", "pricing.ingredient_cost"],
        ("pharmacy_claims", "dispensing_fee_submitted") => &["dispensing_fee_submitted", "pricing.dispensing_fee"],
        ("pharmacy_claims", "gross_amount_due") => &["gross_amount_due", "pricing.gross_amount_due"],
        ("pharmacy_claims", "usual_customary_charge") => &["usual_customary_charge", "pricing.usual_and_customary"],
        ("pharmacy_claims", "pharmacy_ncpdp") => &["pharmacy_ncpdp", "pharmacy.ncpdp"],
        ("pharmacy_claims", "cardholder_id") => &["cardholder_id", "member.cardholder_id"],
        ("pharmacy_claims", "person_code") => &["person_code", "member.person_code"],
        ("pharmacy_claims", "bin") => &["bin", "member.bin"],
        ("pharmacy_claims", "pcn") => &["pcn", "member.pcn"],
        ("pharmacy_claims", "group_number") => &["group_number", "member.group_number"],
        ("pharmacy_claims", "prescription_number") => &["prescription_number", "prescription.prescription_number"],
        ("pharmacy_claims", "prescriber_npi") => &["prescriber_npi", "prescriber.npi", "prescription.prescriber_npi"],
        ("pharmacy_claims", "patient_pay_amount") => {
            &["patient_pay_amount", "response.patient_pay_amount", "adjudication.patient_pay"]
        }
        ("claims", "provider_npi") => &[
            "provider_npi",
            "rendering_provider_npi",
            "billing_provider_npi",
            "provider.npi",
            "claim.rendering_provider_npi",
        ],
        ("claims", "place_of_service") => &["place_of_service", "place_of_service_code"],
        ("claim_lines", "charge_amount") => &["charge_amount", "billed_amount"],
        ("claim_lines", "procedure_modifiers") => &["procedure_modifiers", "modifiers"],
        ("members", "plan_code") => &["plan_code", "plan_id"],
        ("claims", "total_charge") => &["total_charge", "total_billed", "total_charges", "claim.total_billed"],
        ("claims", "other_diagnoses") => &["other_diagnoses", "secondary_diagnoses"],
        ("claims", "member_responsibility") => {
            &["member_responsibility", "patient_responsibility", "total_patient_resp", "claim.total_patient_resp"]
        }
        ("claims", "principal_diagnosis") => &["principal_diagnosis", "diagnosis_codes"],
        ("prescriptions", "ndc") => &["ndc", "drug_ndc"],
        ("prescriptions", "quantity_prescribed") => &["quantity_prescribed", "quantity"],
        _ => return None,
    })
}
