//! One patient at a time, from its own seed (the master seed and its index: a larger count
//! keeps every patient of a smaller one): demographics, conditions, and over the care
//! window the visits, vital signs, labs and medications that follow from them; with
//! `membersim` a member and a claim per visit, with `rxmembersim` prescriptions and
//! pharmacy claims. Entities use the canonical field names, so a save maps them to rows
//! without guessing.

use chrono::{Duration, NaiveDate};
use serde_json::{Map, Value, json};

use super::clinical::{self, CONDITIONS, Condition};
use super::distribution::{Distribution, Sample};
use super::rules::{Atom, Context};
use super::spec::{ConditionSpec, Geography, Product, Profile};
use crate::synth::names;

/// What every patient is drawn from: the profile, resolved against the clinical table and
/// the place's reference data.
pub struct Plan<'a> {
    pub profile: &'a Profile,
    pub seed: u64,
    /// Last day of the care window (a year long).
    pub as_of: NaiveDate,
    /// Conditions drawn independently, in order: the profile's, or PLACES' for the place.
    pub conditions: Vec<Drawn>,
}

/// A condition to draw: what the profile (or PLACES) asked for and its table entry.
pub struct Drawn {
    pub code: String,
    pub description: String,
    pub prevalence: f64,
    pub table: Option<&'static Condition>,
    pub primary: bool,
    /// From PLACES, whose prevalences are of adults: never drawn below 18.
    pub adults_only: bool,
}

impl Drawn {
    pub fn from_spec(spec: &ConditionSpec, primary: bool) -> Drawn {
        let table = clinical::find(&spec.code);
        // A category (E11) is written as the table's billable code; a full code as given.
        let code = match table {
            Some(t) if t.categories.contains(&spec.code.to_ascii_uppercase().as_str()) => t.icd10.to_owned(),
            _ => spec.code.to_ascii_uppercase(),
        };
        let description = spec.description.clone().or(table.map(|t| t.description.to_owned())).unwrap_or_default();
        Drawn { code, description, prevalence: spec.prevalence, table, primary, adults_only: false }
    }
}

/// One generated patient: its entities by type, and what the statistics need.
pub struct Patient {
    pub entities: Vec<(&'static str, Value)>,
    pub age: u32,
    pub gender: String,
    /// Index into `Plan::conditions` of each condition the patient has.
    pub conditions: Vec<usize>,
    pub plan: Option<String>,
}

/// The patient's own random stream: the master seed and its index, mixed (SplitMix64).
fn patient_seed(master: u64, index: u64) -> u64 {
    let mut z = master ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn draw_label(d: Option<&Distribution>, rng: &mut fastrand::Rng, context: &Context) -> Option<String> {
    d.and_then(|d| d.sample(rng, context)).map(|s| s.label())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn money(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn uniform(rng: &mut fastrand::Rng, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * rng.f64()
}

/// Lab names HealthSim profiles use, as LOINC codes of the clinical table.
fn lab_loinc(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
        "a1c" | "hba1c" | "hemoglobin_a1c" => "4548-4",
        "egfr" => "62238-1",
        "bnp" => "30934-4",
        "ldl" | "ldl_cholesterol" => "13457-7",
        "glucose" | "fasting_glucose" => "2345-7",
        "creatinine" => "2160-0",
        "uacr" => "9318-7",
        "phq9" | "phq_9" => "44261-6",
        _ => return None,
    })
}

pub fn generate(plan: &Plan<'_>, index: u64) -> Patient {
    let profile = plan.profile;
    let mut rng = fastrand::Rng::with_seed(patient_seed(plan.seed, index));
    let mut context = Context::default();
    let age = profile
        .age
        .as_ref()
        .and_then(|d| d.sample(&mut rng, &context))
        .and_then(|s| s.as_number())
        .map_or_else(|| rng.u32(18..=90), |a| a.round().clamp(0.0, 120.0) as u32);
    context.values.insert("age".into(), Atom::Number(f64::from(age)));
    let gender = draw_label(profile.gender.as_ref(), &mut rng, &context)
        .unwrap_or_else(|| if rng.bool() { "F" } else { "M" }.to_owned());
    context.values.insert("gender".into(), Atom::Text(gender.clone()));
    let race = draw_label(profile.race.as_ref(), &mut rng, &context);
    let ethnicity = draw_label(profile.ethnicity.as_ref(), &mut rng, &context);
    // Conditions, each drawn independently (one draw per condition, in order, always: the
    // stream stays aligned whatever the outcome).
    let mut has = Vec::new();
    for (i, condition) in plan.conditions.iter().enumerate() {
        if rng.f64() < condition.prevalence && !(condition.adults_only && age < 18) {
            has.push(i);
            context.conditions.push(condition.code.clone());
        }
    }
    if let Some(severity) = profile.clinical.as_ref().and_then(|c| c.severity.as_ref())
        && let Some(value) = severity.sample(&mut rng, &context)
    {
        context.values.insert("severity".into(), Atom::Text(value.label()));
    }
    let plan_name = draw_label(profile.plans.as_ref(), &mut rng, &context);
    let mut out = Vec::new();
    let as_of = plan.as_of;
    let birth = as_of - Duration::days(i64::from(age) * 365 + i64::from(rng.u32(1..365)) + i64::from(age / 4));
    let mrn = format!("MRN{:07}", index + 1);
    let (given, family) = names::person(&mut rng, &gender);
    let (state, county) = match &profile.geography {
        Some(Geography::State(state)) => (state.clone(), None),
        Some(Geography::States(states)) => (states[rng.usize(..states.len())].clone(), None),
        Some(Geography::County { fips, state }) => (state.clone(), Some(fips.clone())),
        None => (crate::model::STATE_COUNTIES[rng.usize(..crate::model::STATE_COUNTIES.len())].0.to_owned(), None),
    };
    let (street, city, zip) = names::address(&mut rng, &state);
    let mut patient = json!({
        "id": format!("P{:07}", index + 1), "mrn": mrn, "given_name": given, "family_name": family,
        "birth_date": birth.to_string(), "gender": gender, "street_address": street, "city": city,
        "state": state, "postal_code": zip, "country": "US",
    });
    for (key, value) in [("race", &race), ("ethnicity", &ethnicity), ("county_fips", &county)] {
        if let Some(value) = value {
            patient[key] = json!(value);
        }
    }
    let member_id = format!("M{:07}", index + 1);
    let wants = |p: Product| profile.products.contains(&p);
    if wants(Product::MemberSim) || wants(Product::RxMemberSim) {
        patient["member_id"] = json!(member_id);
    }
    out.push(("patients", patient));
    let tables: Vec<&Condition> = has.iter().filter_map(|&i| plan.conditions[i].table).collect();
    // Visits: an annual one, and the follow-ups the conditions call for, spread over the year.
    let follow_ups = tables.iter().map(|c| c.follow_ups).max().unwrap_or(0);
    let visits = 1 + follow_ups as i64;
    let first = as_of - Duration::days(364) + Duration::days(i64::from(rng.u32(0..(365 / visits as u32).max(1))));
    let dates: Vec<NaiveDate> =
        (0..visits).map(|v| first + Duration::days(v * 365 / visits)).filter(|d| *d <= as_of).collect();
    let encounter_id = |v: usize| format!("E{:07}-{}", index + 1, v + 1);
    for (n, &i) in has.iter().enumerate() {
        let c = &plan.conditions[i];
        out.push((
            "diagnoses",
            json!({
                "id": format!("D{:07}-{}", index + 1, n + 1), "patient_mrn": mrn, "encounter_id": encounter_id(0),
                "code": c.code, "description": c.description, "type": if n == 0 { "primary" } else { "secondary" },
                "diagnosed_date": dates[0].to_string(),
            }),
        ));
    }
    let codes: Vec<&str> = has.iter().map(|&i| plan.conditions[i].code.as_str()).collect();
    let vitals = clinical::vitals_for(&tables);
    let height = if gender == "F" { uniform(&mut rng, (152.0, 175.0)) } else { uniform(&mut rng, (163.0, 190.0)) };
    let bmi = uniform(&mut rng, vitals.bmi);
    let (visit_cpt, visit_amount) = clinical::visit_cpt(tables.len());
    let factor = plan_factor(profile.coverage_type.as_deref(), plan_name.as_deref());
    for (v, date) in dates.iter().enumerate() {
        let id = encounter_id(v);
        let (hour, minute) = (8 + rng.u32(0..9), 15 * rng.u32(0..4));
        let time = format!("{date}T{hour:02}:{minute:02}:00");
        out.push(("encounters", json!({
            "encounter_id": id, "patient_mrn": mrn, "class_code": "AMB", "status": "finished",
            "admission_time": time, "discharge_time": format!("{date}T{:02}:{minute:02}:00", hour + 1),
            "chief_complaint": if v == 0 { "Annual visit" } else { "Follow-up of chronic conditions" },
            "admitting_diagnosis": codes.first().copied().unwrap_or("Z00.00"), "facility": format!("{city} Family Medicine"),
        })));
        out.push(("vital_signs", json!({
            "id": format!("V{:07}-{}", index + 1, v + 1), "patient_mrn": mrn, "encounter_id": id, "observation_time": time,
            "systolic_bp": uniform(&mut rng, vitals.systolic).round(), "diastolic_bp": uniform(&mut rng, vitals.diastolic).round(),
            "heart_rate": uniform(&mut rng, vitals.heart_rate).round(), "respiratory_rate": f64::from(rng.u32(12..=20)),
            "spo2": uniform(&mut rng, vitals.spo2).round(), "temperature": round1(uniform(&mut rng, (36.3, 37.4))),
            "height_cm": round1(height), "weight_kg": round1(bmi * (height / 100.0).powi(2)),
        })));
        let mut lab_cpts: Vec<&str> = Vec::new();
        let mut seen = Vec::new();
        for lab in tables.iter().flat_map(|c| c.labs.iter()) {
            if seen.contains(&lab.loinc) {
                continue;
            }
            seen.push(lab.loinc);
            let asked = profile
                .clinical
                .iter()
                .flat_map(|c| c.lab_values.iter())
                .find(|(name, _)| lab_loinc(name) == Some(lab.loinc));
            let value = asked
                .and_then(|(_, d)| d.sample(&mut rng, &context))
                .and_then(|s| s.as_number())
                .unwrap_or_else(|| uniform(&mut rng, (lab.low, lab.high)));
            let value = if value.abs() >= 20.0 { value.round() } else { round1(value) };
            out.push((
                "lab_results",
                json!({
                    "id": format!("L{:07}-{}-{}", index + 1, v + 1, seen.len()), "patient_mrn": mrn, "encounter_id": id,
                    "test_name": lab.name, "loinc_code": lab.loinc, "value": value.to_string(), "unit": lab.unit,
                    "abnormal_flag": if value > lab.normal_high { "H" } else { "N" },
                    "collected_time": time, "resulted_time": format!("{date}T18:00:00"),
                }),
            ));
            if !lab_cpts.contains(&lab.cpt) {
                lab_cpts.push(lab.cpt);
            }
        }
        if wants(Product::MemberSim) {
            let claim_id = format!("C{:07}-{}", index + 1, v + 1);
            let mut lines = vec![(visit_cpt, visit_amount)];
            lines.extend(lab_cpts.iter().map(|cpt| (*cpt, clinical::lab_amount(cpt))));
            let mut total = 0.0;
            for (n, (cpt, amount)) in lines.iter().enumerate() {
                let allowed = money(amount * factor);
                total += allowed;
                out.push(("claim_lines", json!({
                    "id": format!("{claim_id}-{}", n + 1), "claim_id": claim_id, "line_number": n + 1, "procedure_code": cpt,
                    "service_date": date.to_string(), "units": 1, "charge_amount": money(allowed * 2.0),
                    "allowed_amount": allowed, "paid_amount": money(allowed * 0.8), "place_of_service": "11",
                })));
            }
            out.push(("claims", json!({
                "claim_id": claim_id, "claim_type": "PROFESSIONAL", "member_id": member_id, "service_date": date.to_string(),
                "place_of_service": "11", "principal_diagnosis": codes.first().copied().unwrap_or("Z00.00"),
                "other_diagnoses": codes.iter().skip(1).copied().collect::<Vec<_>>(),
                "total_charge": money(total * 2.0), "total_allowed": money(total), "total_paid": money(total * 0.8),
                "member_responsibility": money(total * 0.2),
            })));
        }
    }
    // First-line medications, started at the first visit (one per drug).
    let mut drugs: Vec<(&clinical::Drug, &str)> = Vec::new();
    for &i in &has {
        if let Some(drug) = plan.conditions[i].table.and_then(|t| t.drug.as_ref())
            && !drugs.iter().any(|(d, _)| d.name == drug.name)
        {
            drugs.push((drug, plan.conditions[i].code.as_str()));
        }
    }
    for (n, (drug, indication)) in drugs.iter().enumerate() {
        let start = dates[0];
        if wants(Product::PatientSim) {
            out.push(("medications", json!({
                "id": format!("RX{:07}-{}", index + 1, n + 1), "patient_mrn": mrn, "encounter_id": encounter_id(0),
                "name": drug.name, "code": drug.rxnorm, "dose": drug.dose, "route": drug.route, "frequency": drug.frequency,
                "start_date": start.to_string(), "status": "active", "indication": indication,
            })));
        }
        if wants(Product::RxMemberSim) {
            let number = format!("RX{:07}{:02}", index + 1, n + 1);
            out.push(("prescriptions", json!({
                "prescription_number": number, "patient_mrn": mrn, "member_id": member_id, "ndc": drug.ndc,
                "drug_name": drug.name, "quantity_prescribed": drug.quantity_30 * 3, "days_supply": 90, "refills_authorized": 3,
                "written_date": start.to_string(), "directions": format!("{} {} {}", drug.dose, drug.route, drug.frequency),
            })));
            let mut fill = start;
            let mut fill_number = 0;
            while fill <= as_of && fill_number < 4 {
                let cost = money(f64::from(drug.quantity_30 * 3) * 0.35);
                out.push(("pharmacy_claims", json!({
                    "claim_id": format!("PC{number}-{fill_number}"), "transaction_code": "B1", "service_date": fill.to_string(),
                    "member_id": member_id, "cardholder_id": member_id, "prescription_number": number, "fill_number": fill_number,
                    "ndc": drug.ndc, "quantity_dispensed": drug.quantity_30 * 3, "days_supply": 90,
                    "ingredient_cost_submitted": cost, "dispensing_fee_submitted": 2.5, "gross_amount_due": money(cost + 2.5),
                    "patient_pay_amount": 10.0,
                })));
                fill += Duration::days(90);
                fill_number += 1;
            }
        }
    }
    if wants(Product::MemberSim) || wants(Product::RxMemberSim) {
        let p = &out[0].1;
        out.push(("members", json!({
            "id": member_id, "member_id": member_id, "subscriber_id": member_id, "relationship_code": "18",
            "given_name": p["given_name"], "family_name": p["family_name"], "birth_date": p["birth_date"], "gender": gender,
            "street_address": p["street_address"], "city": p["city"], "state": p["state"], "postal_code": p["postal_code"],
            "group_id": profile.coverage_type.clone().unwrap_or_else(|| "GENERAL".into()).to_ascii_uppercase().replace(' ', "_"),
            "plan_code": plan_name.clone().unwrap_or_else(|| "STANDARD".into()),
            "coverage_start": format!("{}-01-01", as_of.format("%Y")), "coverage_end": format!("{}-12-31", as_of.format("%Y")),
        })));
    }
    if !wants(Product::PatientSim) {
        // Member products alone: the patient's clinical rows are not part of them.
        out.retain(|(kind, _)| {
            !matches!(*kind, "patients" | "diagnoses" | "encounters" | "vital_signs" | "lab_results")
        });
    }
    Patient { entities: out, age, gender, conditions: has, plan: plan_name }
}

/// Allowed amounts relative to Medicare's, by coverage (HealthSim's fee schedule: 120 %).
fn plan_factor(coverage: Option<&str>, plan: Option<&str>) -> f64 {
    let text = format!("{} {}", coverage.unwrap_or_default(), plan.unwrap_or_default()).to_ascii_lowercase();
    if text.contains("medicaid") {
        0.8
    } else if text.contains("medicare") {
        1.0
    } else {
        1.2
    }
}

/// The conditions a profile draws: its own, or (without a clinical section) PLACES'.
pub fn conditions_of(profile: &Profile, places: Option<&[(String, f64)]>) -> Vec<Drawn> {
    match &profile.clinical {
        Some(clinical) => clinical
            .primary
            .iter()
            .map(|c| Drawn::from_spec(c, true))
            .chain(clinical.comorbidities.iter().map(|c| Drawn::from_spec(c, false)))
            .collect(),
        None => places
            .into_iter()
            .flatten()
            .filter_map(|(column, prevalence)| {
                let table = CONDITIONS.iter().find(|c| c.places_column == Some(column.as_str()))?;
                Some(Drawn {
                    code: table.icd10.to_owned(),
                    description: table.description.to_owned(),
                    prevalence: *prevalence,
                    table: Some(table),
                    primary: false,
                    adults_only: true,
                })
            })
            .collect(),
    }
}

/// A sample as a JSON value (numbers stay numbers).
pub fn sample_json(sample: &Sample) -> Value {
    match sample {
        Sample::Number(n) => json!(n),
        Sample::Label(s) => json!(s),
    }
}

/// Entities grouped by type, in the order types first appear.
pub fn group(patients: impl IntoIterator<Item = Vec<(&'static str, Value)>>) -> Map<String, Value> {
    let mut map = Map::new();
    for entities in patients {
        for (kind, value) in entities {
            match map.entry(kind).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items.push(value),
                _ => unreachable!("only arrays are inserted"),
            }
        }
    }
    map
}
