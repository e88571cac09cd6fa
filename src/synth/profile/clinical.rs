//! The clinical content of generated cohorts, in one table a clinician can review: for
//! each condition (the eight CDC PLACES measures HealthSim maps, plus hyperlipidemia and
//! chronic kidney disease), the ICD-10-CM code written, the labs followed (LOINC, unit,
//! a plausible range for a treated adult), a first-line medication (RxNorm, an example
//! NDC) and the visit's CPT codes. Facts only, from `docs/research/clinical-facts.md`
//! (which marks what a clinician should still check); no values are computed here.

/// A lab followed for a condition.
pub struct Lab {
    pub loinc: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    /// Plausible range for a treated adult with the condition.
    pub low: f64,
    pub high: f64,
    /// Reference interval's upper end, for the abnormal flag.
    pub normal_high: f64,
    /// CPT of the test (claim lines).
    pub cpt: &'static str,
}

/// A first-line medication.
pub struct Drug {
    pub name: &'static str,
    pub rxnorm: &'static str,
    pub ndc: &'static str,
    pub dose: &'static str,
    pub route: &'static str,
    pub frequency: &'static str,
    /// Units dispensed for 30 days.
    pub quantity_30: u32,
}

pub struct Condition {
    /// What profiles and PLACES call it (`diabetes`), and the category codes that select it.
    pub key: &'static str,
    pub categories: &'static [&'static str],
    /// The billable ICD-10-CM code written when a profile gives only a category.
    pub icd10: &'static str,
    pub description: &'static str,
    /// `population.places_county` column of its crude prevalence (percent).
    pub places_column: Option<&'static str>,
    pub labs: &'static [Lab],
    pub drug: Option<Drug>,
    /// Follow-up visits in a year beyond the annual one.
    pub follow_ups: u32,
}

const HBA1C: Lab =
    Lab { loinc: "4548-4", name: "Hemoglobin A1c", unit: "%", low: 6.0, high: 10.5, normal_high: 5.6, cpt: "83036" };
const GLUCOSE: Lab =
    Lab { loinc: "2345-7", name: "Glucose", unit: "mg/dL", low: 90.0, high: 250.0, normal_high: 99.0, cpt: "82947" };
const LDL: Lab = Lab {
    loinc: "13457-7",
    name: "LDL cholesterol (calculated)",
    unit: "mg/dL",
    low: 60.0,
    high: 190.0,
    normal_high: 99.0,
    cpt: "80061",
};
const TOTAL_CHOLESTEROL: Lab = Lab {
    loinc: "2093-3",
    name: "Cholesterol, total",
    unit: "mg/dL",
    low: 140.0,
    high: 300.0,
    normal_high: 199.0,
    cpt: "80061",
};
const HDL: Lab = Lab {
    loinc: "2085-9",
    name: "HDL cholesterol",
    unit: "mg/dL",
    low: 30.0,
    high: 70.0,
    normal_high: 100.0,
    cpt: "80061",
};
const TRIGLYCERIDES: Lab = Lab {
    loinc: "2571-8",
    name: "Triglycerides",
    unit: "mg/dL",
    low: 80.0,
    high: 400.0,
    normal_high: 149.0,
    cpt: "80061",
};
const CREATININE: Lab =
    Lab { loinc: "2160-0", name: "Creatinine", unit: "mg/dL", low: 0.7, high: 2.2, normal_high: 1.3, cpt: "82565" };
const EGFR: Lab = Lab {
    loinc: "62238-1",
    name: "eGFR (CKD-EPI)",
    unit: "mL/min/{1.73_m2}",
    low: 30.0,
    high: 59.0,
    normal_high: 200.0,
    cpt: "82565",
};
const UACR: Lab = Lab {
    loinc: "9318-7",
    name: "Albumin/creatinine ratio, urine",
    unit: "mg/g",
    low: 5.0,
    high: 300.0,
    normal_high: 29.0,
    cpt: "82043",
};
const POTASSIUM: Lab =
    Lab { loinc: "2823-3", name: "Potassium", unit: "mmol/L", low: 3.5, high: 5.3, normal_high: 5.0, cpt: "80048" };
const ALT: Lab =
    Lab { loinc: "1742-6", name: "ALT", unit: "U/L", low: 10.0, high: 60.0, normal_high: 56.0, cpt: "84460" };
const HEMOGLOBIN: Lab =
    Lab { loinc: "718-7", name: "Hemoglobin", unit: "g/dL", low: 11.0, high: 16.5, normal_high: 17.5, cpt: "85025" };
const EOSINOPHILS: Lab = Lab {
    loinc: "711-2",
    name: "Eosinophils, absolute",
    unit: "10*3/uL",
    low: 0.1,
    high: 0.8,
    normal_high: 0.5,
    cpt: "85025",
};
const BNP: Lab =
    Lab { loinc: "30934-4", name: "BNP", unit: "pg/mL", low: 20.0, high: 300.0, normal_high: 99.0, cpt: "83880" };
const CEA: Lab =
    Lab { loinc: "2039-6", name: "CEA", unit: "ng/mL", low: 0.5, high: 10.0, normal_high: 3.0, cpt: "82378" };
const PHQ9: Lab = Lab {
    loinc: "44261-6",
    name: "PHQ-9 total score",
    unit: "{score}",
    low: 5.0,
    high: 22.0,
    normal_high: 4.0,
    cpt: "96127",
};
const TSH: Lab =
    Lab { loinc: "3016-3", name: "TSH", unit: "m[IU]/L", low: 0.5, high: 4.5, normal_high: 4.0, cpt: "84443" };

#[rustfmt::skip]
pub const CONDITIONS: &[Condition] = &[
    Condition { key: "diabetes", categories: &["E11", "E10", "E13"], icd10: "E11.9", description: "Type 2 diabetes mellitus without complications",
        places_column: Some("diabetes_crudeprev"), labs: &[HBA1C, GLUCOSE], follow_ups: 3,
        drug: Some(Drug { name: "Metformin 500 MG Oral Tablet", rxnorm: "861007", ndc: "00093104801", dose: "500 mg", route: "oral", frequency: "twice daily", quantity_30: 60 }) },
    Condition { key: "obesity", categories: &["E66"], icd10: "E66.9", description: "Obesity, unspecified",
        places_column: Some("obesity_crudeprev"), labs: &[GLUCOSE, ALT], follow_ups: 1, drug: None },
    Condition { key: "hypertension", categories: &["I10", "I11", "I12", "I13", "I15", "I16"], icd10: "I10", description: "Essential (primary) hypertension",
        places_column: Some("bphigh_crudeprev"), labs: &[CREATININE, POTASSIUM], follow_ups: 2,
        drug: Some(Drug { name: "Lisinopril 10 MG Oral Tablet", rxnorm: "314076", ndc: "68180051301", dose: "10 mg", route: "oral", frequency: "once daily", quantity_30: 30 }) },
    Condition { key: "asthma", categories: &["J45"], icd10: "J45.909", description: "Unspecified asthma, uncomplicated",
        places_column: Some("casthma_crudeprev"), labs: &[EOSINOPHILS], follow_ups: 1,
        drug: Some(Drug { name: "Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", rxnorm: "745679", ndc: "00173068220", dose: "2 puffs", route: "inhalation", frequency: "every 4-6 hours as needed", quantity_30: 1 }) },
    Condition { key: "coronary heart disease", categories: &["I25", "I20", "I21", "I22"], icd10: "I25.10", description: "Atherosclerotic heart disease of native coronary artery without angina pectoris",
        places_column: Some("chd_crudeprev"), labs: &[LDL, BNP], follow_ups: 2,
        drug: Some(Drug { name: "Atorvastatin 80 MG Oral Tablet", rxnorm: "259255", ndc: "00071015823", dose: "80 mg", route: "oral", frequency: "once daily", quantity_30: 30 }) },
    Condition { key: "copd", categories: &["J44", "J43"], icd10: "J44.9", description: "Chronic obstructive pulmonary disease, unspecified",
        places_column: Some("copd_crudeprev"), labs: &[HEMOGLOBIN], follow_ups: 2,
        drug: Some(Drug { name: "Tiotropium 18 MCG Inhalation Capsule", rxnorm: "", ndc: "00597007541", dose: "18 mcg", route: "inhalation", frequency: "once daily", quantity_30: 30 }) },
    Condition { key: "cancer", categories: &["C"], icd10: "C80.1", description: "Malignant (primary) neoplasm, unspecified",
        places_column: Some("cancer_crudeprev"), labs: &[CEA, HEMOGLOBIN], follow_ups: 2, drug: None },
    Condition { key: "depression", categories: &["F32", "F33", "F34"], icd10: "F32.A", description: "Depression, unspecified",
        places_column: Some("depression_crudeprev"), labs: &[PHQ9, TSH], follow_ups: 2,
        drug: Some(Drug { name: "Sertraline 50 MG Oral Tablet", rxnorm: "312940", ndc: "00049490066", dose: "50 mg", route: "oral", frequency: "once daily", quantity_30: 30 }) },
    Condition { key: "hyperlipidemia", categories: &["E78"], icd10: "E78.5", description: "Hyperlipidemia, unspecified",
        places_column: Some("highchol_crudeprev"), labs: &[TOTAL_CHOLESTEROL, LDL, HDL, TRIGLYCERIDES], follow_ups: 1,
        drug: Some(Drug { name: "Simvastatin 20 MG Oral Tablet", rxnorm: "312961", ndc: "00006074031", dose: "20 mg", route: "oral", frequency: "at bedtime", quantity_30: 30 }) },
    Condition { key: "chronic kidney disease", categories: &["N18"], icd10: "N18.30", description: "Chronic kidney disease, stage 3 unspecified",
        places_column: Some("kidney_crudeprev"), labs: &[EGFR, CREATININE, UACR], follow_ups: 2,
        drug: Some(Drug { name: "Lisinopril 10 MG Oral Tablet", rxnorm: "314076", ndc: "68180051301", dose: "10 mg", route: "oral", frequency: "once daily", quantity_30: 30 }) },
];

/// Vital-sign ranges for an adult (`clinical-facts.md` §1.1), with a condition's shift.
pub struct Vitals {
    pub systolic: (f64, f64),
    pub diastolic: (f64, f64),
    pub heart_rate: (f64, f64),
    pub spo2: (f64, f64),
    pub bmi: (f64, f64),
}

pub fn vitals_for(codes: &[&Condition]) -> Vitals {
    let has = |key: &str| codes.iter().any(|c| c.key == key);
    Vitals {
        systolic: if has("hypertension") { (125.0, 175.0) } else { (105.0, 135.0) },
        diastolic: if has("hypertension") { (75.0, 105.0) } else { (62.0, 85.0) },
        heart_rate: (58.0, 96.0),
        spo2: if has("copd") { (88.0, 96.0) } else { (95.0, 100.0) },
        bmi: if has("obesity") { (30.0, 45.0) } else { (19.0, 29.9) },
    }
}

/// The office visit (established patient) and its allowed amount in dollars, by how many
/// conditions are managed; and each lab CPT's amount.
pub fn visit_cpt(conditions: usize) -> (&'static str, f64) {
    match conditions {
        0 => ("99213", 92.0),
        1 | 2 => ("99214", 134.0),
        _ => ("99215", 181.0),
    }
}

#[rustfmt::skip]
pub fn lab_amount(cpt: &str) -> f64 {
    match cpt {
        "83036" => 10.0, "82947" => 4.0, "80061" => 13.0, "82565" => 5.0, "82043" => 6.0, "80048" => 8.5,
        "84460" => 7.0, "85025" => 8.0, "83880" => 35.0, "82378" => 18.0, "96127" => 5.0, "84443" => 17.0,
        _ => 10.0,
    }
}

/// The condition a profile's code or name selects: an exact key, a category prefix
/// (`E11`, `E11.9`), or the PLACES measure name.
pub fn find(code_or_name: &str) -> Option<&'static Condition> {
    let wanted = code_or_name.trim();
    let lower = wanted.to_ascii_lowercase();
    let key = match lower.as_str() {
        "high blood pressure" | "htn" | "bphigh" => "hypertension",
        "chd" | "cad" => "coronary heart disease",
        "ckd" | "kidney" => "chronic kidney disease",
        "high cholesterol" | "highchol" => "hyperlipidemia",
        "casthma" => "asthma",
        other => other,
    };
    if let Some(found) = CONDITIONS.iter().find(|c| c.key == key) {
        return Some(found);
    }
    // An ICD-10-CM code: a letter, then digits.
    let upper = wanted.to_ascii_uppercase();
    if !upper.chars().nth(1).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    CONDITIONS.iter().find(|c| c.categories.iter().any(|cat| upper.starts_with(cat)))
}
