//! Alias lists of the field mapping: the entity keys (dotted paths into nested objects)
//! a canonical column is read from, first non-empty wins, for columns HealthSim's
//! generators, skills, saved cohorts and FHIR-ish documents spell differently.

/// Alias lists (first non-empty wins) for columns that generators spell differently.
pub fn aliases(table: &str, column: &str) -> Option<&'static [&'static str]> {
    let person = matches!(table, "patients" | "members" | "subjects");
    Some(match (table, column) {
        // `name.given_name`: HealthSim's own Person model (generators, skills); camelCase
        // (834-style enrollments), `demographics`/`person` objects, SDTM's DM domain.
        (_, "given_name") if person => &[
            "given_name",
            "first_name",
            "firstName",
            "name.given_name",
            "name.given",
            "name.first",
            "demographics.first_name",
            "demographics.given_name",
            "demographics.name.given",
            "person.first_name",
            "person.given_name",
            "person.name.given_name",
            "patient_first_name",
        ],
        (_, "family_name") if person => &[
            "family_name",
            "last_name",
            "lastName",
            "name.family_name",
            "name.family",
            "name.last",
            "demographics.last_name",
            "demographics.family_name",
            "demographics.name.family",
            "person.last_name",
            "person.family_name",
            "person.name.family_name",
            "patient_last_name",
        ],
        (_, "middle_name") if person => &["middle_name", "middleName", "name.middle_name", "name.middle"],
        (_, "prefix") if person => &["prefix", "name.prefix"],
        (_, "suffix") if person => &["suffix", "name.suffix"],
        (_, "birth_date") if person => &[
            "birth_date",
            "birthDate",
            "date_of_birth",
            "dateOfBirth",
            "dob",
            "demographics.date_of_birth",
            "demographics.birth_date",
            "demographics.birthDate",
            "person.date_of_birth",
            "person.birth_date",
            "BRTHDTC",
        ],
        (_, "gender") if person => {
            &["gender", "sex", "demographics.gender", "demographics.sex", "person.gender", "person.sex", "SEX"]
        }
        (_, "ssn") if person => &["ssn", "identifiers.ssn", "person.ssn", "demographics.ssn"],
        (_, "race") if person => &["race", "demographics.race", "person.race", "RACE"],
        (_, "ethnicity") if person => &["ethnicity", "demographics.ethnicity", "person.ethnicity", "ETHNIC"],
        ("patients", "language") => &["language", "demographics.language", "preferred_language"],
        ("patients", "death_date") => &["death_date", "deceasedDateTime"],
        (_, "street_address") if person => &[
            "street_address",
            "address_line1",
            "address.street_address",
            "address.line1",
            "address.street",
            "address.line",
            "address.address_line1",
            "demographics.address_line1",
            "demographics.address.line",
            "demographics.address.street",
            "patient_street_address",
        ],
        (_, "street_address_2") if person => {
            &["street_address_2", "address_line2", "address.street_address_2", "address.line2"]
        }
        (_, "city") if person => {
            &["city", "address.city", "demographics.city", "demographics.address.city", "patient_city"]
        }
        (_, "state") if person => {
            &["state", "address.state", "demographics.state", "demographics.address.state", "patient_state"]
        }
        (_, "country") if person => &["country", "address.country"],
        (_, "postal_code") if person => &[
            "postal_code",
            "zip",
            "zip_code",
            "address.postalCode",
            "address.postal_code",
            "address.zip",
            "address.zipCode",
            "address.zip_code",
            "demographics.zip_code",
            "demographics.address.postalCode",
            "patient_zip",
        ],
        (_, "phone") if person => &["phone", "contact.phone", "telecom.phone", "demographics.phone"],
        ("patients", "phone_mobile") => &["phone_mobile", "contact.phone_mobile", "telecom.mobile"],
        (_, "email") if person => &["email", "contact.email", "telecom.email"],
        ("encounters", "class_code") => {
            &["class_code", "class", "encounter_class", "patient_class", "encounter_type", "encounterType", "type"]
        }
        ("encounters", "admission_time") => &[
            "admission_time",
            "period.start",
            "start_time",
            "start_datetime",
            "admission_datetime",
            "admit_datetime",
            "arrival_datetime",
            "encounter_date",
            "admission_date",
            "serviceDate",
            "service_date",
            "date",
            "event_time",
        ],
        ("encounters", "discharge_time") => &[
            "discharge_time",
            "period.end",
            "end_datetime",
            "discharge_datetime",
            "end_time",
            "discharge_date",
            "hospital_course.discharge_datetime",
            "discharge.discharge_datetime",
        ],
        ("encounters", "facility") => &["facility.name", "location.facility", "facility", "facility_name"],
        ("encounters", "department") => &["department", "location.department", "location.point_of_care"],
        ("encounters", "room") => &["room", "location.room"],
        ("encounters", "bed") => &["bed", "location.bed"],
        ("encounters", "chief_complaint") => &["chief_complaint", "reasonCode", "reason_for_visit", "reason"],
        ("encounters", "discharge_disposition") => {
            &["discharge_disposition", "discharge_disposition_code", "disposition", "discharge.discharge_disposition"]
        }
        ("encounters", "attending_physician") => &[
            "attending_physician.name",
            "attending_physician",
            "attending_provider.name",
            "attending_provider",
            "provider.name",
            "provider",
        ],
        ("encounters", "admitting_physician") => {
            &["admitting_physician.name", "admitting_physician", "admitting_provider.name"]
        }
        (_, "encounter_id") => &["encounter_id", "encounterId"],
        ("diagnoses", "code") => &["code", "icd10", "icd10_code", "icd_10", "code.coding.code", "diagnosis_code"],
        ("diagnoses", "description") => &["description", "display", "code.coding.display", "name"],
        ("diagnoses", "type") => &["type", "diagnosis_type"],
        ("diagnoses", "diagnosed_date") => {
            &["diagnosed_date", "onsetDateTime", "onset_date", "onset", "recorded_date", "diagnosis_date", "date"]
        }
        ("diagnoses", "resolved_date") => &["resolved_date", "abatementDateTime"],
        // The PatientSim skills' examples.
        ("lab_results", "test_name") => &["test_name", "test", "name", "LBTEST", "display"],
        ("lab_results", "loinc_code") => &["loinc_code", "loinc", "code", "LBLOINC"],
        ("lab_results", "value") => &["value", "result", "result_value", "LBORRES"],
        ("lab_results", "unit") => &["unit", "units", "LBORRESU"],
        ("lab_results", "reference_range") => &["reference_range", "range", "reference", "normal_range"],
        ("lab_results", "abnormal_flag") => &["abnormal_flag", "flag", "interpretation", "LBNRIND"],
        ("lab_results", "collected_time") => &[
            "collected_time",
            "collected_date",
            "collected_datetime",
            "collection_datetime",
            "datetime",
            "date",
            "result_date",
            "LBDTC",
        ],
        ("lab_results", "resulted_time") => &["resulted_time", "result_date", "resulted_datetime"],
        ("lab_results", "performing_lab") => &["performing_lab.name", "performing_lab"],
        ("lab_results", "ordering_provider") => &["ordering_provider.name", "ordering_provider"],
        ("vital_signs", "observation_time") => {
            &["observation_time", "datetime", "recorded_datetime", "date", "measured_at", "VSDTC"]
        }
        ("vital_signs", "temperature") => &["temperature", "temperature.value", "temp", "temperature_c"],
        ("vital_signs", "heart_rate") => &["heart_rate", "heart_rate.value", "pulse", "hr"],
        ("vital_signs", "respiratory_rate") => &["respiratory_rate", "respiratory_rate.value", "rr"],
        ("vital_signs", "systolic_bp") => &["systolic_bp", "blood_pressure.systolic", "bp_systolic", "systolic"],
        ("vital_signs", "diastolic_bp") => &["diastolic_bp", "blood_pressure.diastolic", "bp_diastolic", "diastolic"],
        ("vital_signs", "spo2") => &["spo2", "oxygen_saturation", "oxygen_saturation.value", "o2_sat"],
        ("vital_signs", "height_cm") => &["height_cm", "height.value", "height"],
        ("vital_signs", "weight_kg") => &["weight_kg", "weight", "weight.value"],
        ("medications", "name") => &[
            "name",
            "drug_name",
            "medication_name",
            "medication",
            "medication.name",
            "medicationCodeableConcept.coding.display",
            "description",
            "drug",
        ],
        ("medications", "code") => {
            &["code", "rxnorm_code", "rxnorm", "medication.rxnorm", "medicationCodeableConcept.coding.code", "ndc"]
        }
        ("medications", "dose") => &["dose", "medication.dose", "dosage", "strength"],
        ("medications", "route") => &["route", "medication.route"],
        ("medications", "frequency") => &["frequency", "medication.frequency"],
        ("medications", "start_date") => {
            &["start_date", "order_date", "ordered_datetime", "started", "authoredOn", "administered_datetime"]
        }
        ("medications", "prescriber") => &["prescriber.name", "prescriber", "prescriber_name"],
        ("medications", "indication") => &["indication", "medication.indication", "reason"],
        ("orders", "order_type") => &["order_type", "type", "category"],
        ("orders", "code") => &["code", "loinc", "procedure_code", "cpt", "medication.rxnorm"],
        ("orders", "description") => &["description", "test_name", "test", "name", "order", "procedure"],
        ("orders", "ordered_datetime") => &["ordered_datetime", "order_date", "ordered_date", "order_datetime", "date"],
        ("orders", "ordering_provider_npi") => {
            &["ordering_provider_npi", "ordering_provider.npi", "prescriber_npi", "prescriber.npi"]
        }
        ("orders", "ordering_provider_name") => &[
            "ordering_provider_name",
            "ordering_provider.name",
            "ordering_provider",
            "prescriber_name",
            "prescriber.name",
        ],
        ("orders", "clinical_indication") => &["clinical_indication", "indication", "reason"],
        // PatientSim's ClinicalNote model.
        ("clinical_notes", "note_datetime") => &["note_datetime", "note_time", "date", "datetime"],
        ("clinical_notes", "note_type") => &["note_type", "type", "service"],
        ("clinical_notes", "content") => &["content", "text", "note", "notes", "summary"],
        ("members", "subscriber_id") => &["subscriber_id", "subscriberId", "patient_id"],
        ("members", "coverage_start") => &[
            "coverage_start",
            "enrollment_start_date",
            "effective_date",
            "start_date",
            "coverage_effective_date",
            "effectiveDate",
            "enrollment.effective_date",
            "coverage.coverage_start",
        ],
        ("members", "coverage_end") => &[
            "coverage_end",
            "enrollment_end_date",
            "termination_date",
            "end_date",
            "coverage_termination_date",
            "last_coverage_date",
            "term_date",
            "enrollment.term_date",
            "coverage_termination.last_coverage_date",
        ],
        ("members", "group_id") => &[
            "group_id",
            "group_number",
            "contract_id",
            "groupNumber",
            "group.group_id",
            "rx_plan.group_number",
            "rx_plan.cms_contract_id",
        ],
        ("members", "plan_code") => &[
            "plan_code",
            "plan_id",
            "planId",
            "rx_plan_code",
            "enrollment.plan.plan_id",
            "rx_plan.rx_plan_code",
            "pbp_id",
            "rx_plan.pbp_id",
        ],
        ("members", "pcp_npi") => &["pcp_npi", "primaryCareProvider.npi", "pcp.npi"],
        // The pharmacy claim documents of HealthSim's Rx skills nest member, pharmacy,
        // prescription and adjudication response; NCPDP documents name their segments.
        ("pharmacy_claims", "transaction_code") => {
            &["transaction_code", "transaction_header.transaction_code", "header.transaction_code"]
        }
        ("pharmacy_claims", "service_date") => &[
            "service_date",
            "fill_date",
            "date_of_service",
            "claim_summary.service_date",
            "transaction_header.date_of_service",
            "header.date_of_service",
        ],
        ("pharmacy_claims", "pharmacy_npi") => &[
            "pharmacy_npi",
            "pharmacy.npi",
            "specialty_pharmacy.npi",
            "pharmacy_info.pharmacy_npi",
            "transaction_header.service_provider_id",
            "pharmacy.service_provider_id",
        ],
        ("pharmacy_claims", "ndc") => &[
            "ndc",
            "medication.ndc",
            "prescription.ndc",
            "drug.ndc",
            "product_service_id",
            "claim_segment.product_service_id",
            "drug_info.ndc",
        ],
        ("pharmacy_claims", "quantity_dispensed") => &[
            "quantity_dispensed",
            "quantity",
            "medication.quantity",
            "prescription.quantity_dispensed",
            "prescription.quantity",
            "claim_segment.quantity_dispensed",
        ],
        ("pharmacy_claims", "days_supply") => {
            &["days_supply", "medication.days_supply", "prescription.days_supply", "claim_segment.days_supply"]
        }
        ("pharmacy_claims", "ingredient_cost_submitted") => &[
            "ingredient_cost_submitted",
            "ingredient_cost",
            "pricing.ingredient_cost",
            "pricing.ingredient_cost_submitted",
            "claim_summary.charges.ingredient_cost",
            "pricing_segment.ingredient_cost_submitted",
        ],
        ("pharmacy_claims", "dispensing_fee_submitted") => &[
            "dispensing_fee_submitted",
            "dispensing_fee",
            "pricing.dispensing_fee",
            "pricing.dispensing_fee_submitted",
            "claim_summary.charges.dispensing_fee",
            "pricing_segment.dispensing_fee_submitted",
        ],
        ("pharmacy_claims", "gross_amount_due") => &[
            "gross_amount_due",
            "pricing.gross_amount_due",
            "claim_summary.charges.gross_amount_due",
            "pricing_segment.gross_amount_due",
        ],
        ("pharmacy_claims", "usual_customary_charge") => &[
            "usual_customary_charge",
            "usual_and_customary_charge",
            "pricing.usual_and_customary",
            "pricing.usual_and_customary_charge",
            "claim_summary.charges.usual_and_customary",
            "pricing_segment.usual_and_customary_charge",
        ],
        ("pharmacy_claims", "pharmacy_ncpdp") => &["pharmacy_ncpdp", "pharmacy.ncpdp", "pharmacy_info.pharmacy_ncpdp"],
        ("pharmacy_claims", "cardholder_id") => {
            &["cardholder_id", "member.cardholder_id", "insurance.cardholder_id", "insurance_segment.cardholder_id"]
        }
        ("pharmacy_claims", "person_code") => {
            &["person_code", "member.person_code", "insurance.person_code", "insurance_segment.person_code"]
        }
        ("pharmacy_claims", "bin") => &["bin", "member.bin", "header.bin", "transaction_header.bin"],
        ("pharmacy_claims", "pcn") => &["pcn", "member.pcn", "header.pcn", "transaction_header.pcn"],
        ("pharmacy_claims", "group_number") => {
            &["group_number", "member.group_number", "insurance.group_number", "insurance_segment.group_id", "group"]
        }
        ("pharmacy_claims", "prescription_number") => &[
            "prescription_number",
            "prescription.prescription_number",
            "claim_segment.rx_service_reference_number",
            "prescription_reference_number",
            "rx_id",
        ],
        ("pharmacy_claims", "fill_number") => &["fill_number", "claim_segment.fill_number"],
        ("pharmacy_claims", "daw_code") => &["daw_code", "claim_segment.daw_code"],
        ("pharmacy_claims", "prescriber_npi") => &[
            "prescriber_npi",
            "prescriber.npi",
            "prescription.prescriber_npi",
            "prescriber_segment.prescriber_id",
            "prescriber.prescriber_id",
        ],
        ("pharmacy_claims", "patient_pay_amount") => &[
            "patient_pay_amount",
            "response.patient_pay_amount",
            "adjudication.patient_pay",
            "response.patient_pay",
            "primary_response.patient_pay_amount",
            "response.pricing.patient_pay_amount",
            "pricing.patient_pay_amount",
            "claim_summary.adjudication.patient_pay",
        ],
        ("claims", "provider_npi") => &[
            "provider_npi",
            "rendering_provider_npi",
            "billing_provider_npi",
            "provider.npi",
            "claim.rendering_provider_npi",
            "attending_provider.npi",
            "attending_npi",
        ],
        ("claims", "facility_npi") => &["facility_npi", "facility.npi"],
        ("claims", "service_date") => &[
            "service_date",
            "serviceDate",
            "service_dates.admission",
            "service_date_from",
            "admission_date",
            "admit_date",
            "statement_from",
            "fill_date",
        ],
        ("claims", "admission_date") => &["admission_date", "admit_date", "service_dates.admission"],
        ("claims", "discharge_date") => &["discharge_date", "service_dates.discharge"],
        ("claims", "place_of_service") => &["place_of_service", "place_of_service_code", "facility.place_of_service"],
        ("claims", "authorization_number") => {
            &["authorization_number", "prior_auth.auth_number", "prior_auth_number", "authorization.number"]
        }
        ("claims", "total_charge") => &[
            "total_charge",
            "total_billed",
            "total_charges",
            "claim.total_billed",
            "totals.total_charges",
            "totals.chargedAmount",
            "amounts.billed",
            "billed_amount",
        ],
        ("claims", "total_allowed") => &[
            "total_allowed",
            "adjudication.allowed_amount",
            "adjudication.total_allowed",
            "totals.allowedAmount",
            "amounts.allowed",
            "allowed_amount",
        ],
        ("claims", "total_paid") => &[
            "total_paid",
            "adjudication.paid_amount",
            "adjudication.total_paid",
            "adjudication.total_medicare_payment",
            "totals.planPaid",
            "amounts.paid",
            "paid_amount",
        ],
        ("claims", "other_diagnoses") => &["other_diagnoses", "secondary_diagnoses"],
        ("claims", "member_responsibility") => &[
            "member_responsibility",
            "patient_responsibility",
            "total_patient_resp",
            "claim.total_patient_resp",
            "adjudication.patient_responsibility",
            "adjudication.total_patient_responsibility",
            "adjudication.patient_responsibility_final",
            "totals.memberResponsibility",
            "amounts.patient_responsibility",
        ],
        ("claims", "principal_diagnosis") => {
            &["principal_diagnosis", "diagnosis_codes", "principal_diagnosis_code", "diagnoses.code"]
        }
        ("claim_lines", "line_number") => &["line_number", "line", "lineNumber", "line_no"],
        ("claim_lines", "procedure_code") => {
            &["procedure_code", "cpt", "cpt_code", "hcpcs", "hcpcs_code", "procedureCode", "code"]
        }
        ("claim_lines", "charge_amount") => &["charge_amount", "billed_amount", "charge", "chargedAmount", "charges"],
        ("claim_lines", "allowed_amount") => &["allowed_amount", "allowedAmount", "allowed"],
        ("claim_lines", "paid_amount") => &["paid_amount", "planPaid", "paid"],
        ("claim_lines", "units") => &["units", "quantity", "service_units"],
        ("claim_lines", "place_of_service") => &["place_of_service", "placeOfService"],
        ("claim_lines", "revenue_code") => &["revenue_code", "revenueCode", "rev_code"],
        ("claim_lines", "service_date") => &["service_date", "serviceDate", "date_of_service"],
        ("claim_lines", "procedure_modifiers") => &["procedure_modifiers", "modifiers", "modifier"],
        ("members", "relationship_code") => &["relationship_code", "relationshipCode"],
        ("prescriptions", "ndc") => &["ndc", "drug_ndc", "product_service_id", "medication.ndc"],
        ("prescriptions", "drug_name") => &["drug_name", "name", "medication.name", "medication_name", "drug"],
        ("prescriptions", "quantity_prescribed") => {
            &["quantity_prescribed", "quantity", "quantity_written", "dispense_quantity"]
        }
        ("prescriptions", "refills_authorized") => &["refills_authorized", "refills", "number_of_refills_authorized"],
        ("prescriptions", "prescriber_npi") => &["prescriber_npi", "prescriber.npi", "prescriber_id"],
        ("prescriptions", "prescriber_name") => &["prescriber_name", "prescriber.name"],
        ("prescriptions", "written_date") => {
            &["written_date", "date_prescription_written", "date_written", "prescribed_date", "order_date"]
        }
        ("prescriptions", "directions") => &["directions", "sig", "instructions"],
        ("prescriptions", "daw_code") => &["daw_code", "daw"],
        ("subjects", "study_id") => &["study_id", "protocol_id", "STUDYID", "studyid"],
        ("subjects", "site_id") => &["site_id", "SITEID", "siteid"],
        ("subjects", "patient_ref") => &["patient_ref", "patient_id", "mrn"],
        ("subjects", "screening_date") => &["screening_date", "enrollment_status.screened_date", "RFICDTC"],
        ("subjects", "informed_consent_date") => &[
            "informed_consent_date",
            "consent_date",
            "enrollment.consent_date",
            "enrollment_status.consent_date",
            "RFICDTC",
        ],
        ("subjects", "randomization_date") => {
            &["randomization_date", "enrollment.randomization_date", "enrollment_status.randomization_date", "RFSTDTC"]
        }
        ("subjects", "treatment_arm") => &[
            "treatment_arm",
            "arm",
            "ARM",
            "randomization_arm",
            "enrollment.randomization_arm",
            "enrollment_status.arm",
        ],
        ("subjects", "status") => &["status", "screen_status", "enrollment_status.status"],
        ("trial_visits" | "adverse_events" | "exposures", "usubjid") => &["usubjid", "USUBJID"],
        ("trial_visits", "visit_num") => &["visit_num", "visit_number", "VISITNUM"],
        ("trial_visits", "visit_name") => &["visit_name", "VISIT", "name"],
        ("trial_visits", "visit_date") => {
            &["visit_date", "actual_date", "planned_date", "date", "SVSTDTC", "VSDTC", "LBDTC", "EXSTDTC", "DSSTDTC"]
        }
        ("trial_visits", "visit_status") => &["visit_status", "status"],
        ("adverse_events", "aeseq") => &["aeseq", "AESEQ"],
        ("adverse_events", "aeterm") => &["aeterm", "ae_term", "AETERM", "term", "event"],
        ("adverse_events", "aedecod") => &["aedecod", "meddra_pt", "AEDECOD", "preferred_term"],
        ("adverse_events", "aebodsys") => &["aebodsys", "system_organ_class", "meddra_soc", "AEBODSYS"],
        ("adverse_events", "aestdtc") => &["aestdtc", "onset_date", "start_date", "AESTDTC"],
        ("adverse_events", "aeendtc") => &["aeendtc", "resolution_date", "end_date", "AEENDTC"],
        ("adverse_events", "aesev") => &["aesev", "severity", "AESEV"],
        ("adverse_events", "aetoxgr") => &["aetoxgr", "ctcae_grade", "grade", "AETOXGR"],
        ("adverse_events", "aeser") => &["aeser", "serious", "is_serious", "AESER"],
        ("adverse_events", "aerel") => &["aerel", "causality", "relationship", "relatedness", "AEREL"],
        ("adverse_events", "aeacn") => &["aeacn", "action_taken", "AEACN"],
        ("adverse_events", "aeout") => &["aeout", "outcome", "AEOUT"],
        ("exposures", "exseq") => &["exseq", "EXSEQ"],
        ("exposures", "extrt") => &["extrt", "drug_name", "treatment", "EXTRT"],
        ("exposures", "exdose") => &["exdose", "dose", "EXDOSE"],
        ("exposures", "exdosu") => &["exdosu", "dose_unit", "EXDOSU"],
        ("exposures", "exdosfrq") => &["exdosfrq", "frequency", "EXDOSFRQ"],
        ("exposures", "exroute") => &["exroute", "route", "EXROUTE"],
        ("exposures", "exstdtc") => &["exstdtc", "start_date", "EXSTDTC"],
        ("exposures", "exendtc") => &["exendtc", "end_date", "EXENDTC"],
        ("exposures", "exadj") => &["exadj", "EXADJ"],
        ("procedures", "code") => &["code", "cpt", "cpt_code", "procedure_code", "icd10pcs", "hcpcs"],
        ("procedures", "code_system") => &["code_system", "coding_system", "system"],
        ("procedures", "description") => &["description", "name", "procedure", "display"],
        ("procedures", "performed_datetime") => &[
            "performed_datetime",
            "performed_date",
            "procedure_datetime",
            "procedure_date",
            "performed",
            "date",
            "datetime",
        ],
        ("procedures", "performer") => &["performer.name", "performer", "surgeon", "provider.name"],
        ("allergies", "substance") => &["substance", "allergen", "name", "agent"],
        ("allergies", "code") => &["code", "substance_code", "allergen_code"],
        ("allergies", "onset_date") => &["onset_date", "onset", "noted_date"],
        ("immunizations", "cvx_code") => &["cvx_code", "cvx", "code"],
        ("immunizations", "vaccine") => &["vaccine", "vaccine_name", "name", "description"],
        ("immunizations", "administered_date") => &["administered_date", "date", "administration_date", "given_date"],
        _ => return None,
    })
}
