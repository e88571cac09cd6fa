//! Properties of generated cohorts, with intervals sized by the sample (99.9 % two-sided
//! binomial or normal intervals), never a fixed tolerance.

use serde_json::{Value, json};

use super::*;

/// z of a two-sided 99.9 % interval.
const Z: f64 = 3.29;

fn run(profile: Value, count: u64, seed: u64) -> Run {
    let profile = Profile::read(&profile).unwrap_or_else(|e| panic!("{e}"));
    Run { profile, seed, count, as_of: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), places: None }
}

fn entities(run: &Run) -> serde_json::Map<String, Value> {
    run.preview(run.count).0
}

fn within(observed: u64, n: u64, p: f64, what: &str) {
    let share = observed as f64 / n as f64;
    let half = Z * (p * (1.0 - p) / n as f64).sqrt();
    assert!((share - p).abs() <= half, "{what}: {share:.4} outside {p} ± {half:.4} (n = {n})");
}

fn base() -> Value {
    json!({
        "id": "test", "name": "Test cohort",
        "generation": {"count": 100, "seed": 1, "products": ["patientsim", "membersim", "rxmembersim"]},
        "demographics": {
            "age": {"type": "normal", "mean": 50, "std_dev": 12, "min": 18, "max": 90},
            "gender": {"type": "categorical", "weights": {"F": 0.6, "M": 0.4}},
            "geography": {"type": "state", "state": "TX"}
        },
        "clinical": {
            "primary_condition": {"code": "E11", "description": "Type 2 diabetes", "prevalence": 0.3},
            "comorbidities": [
                {"code": "I10", "prevalence": 1.0},
                {"code": "E78.5", "prevalence": 0.0},
                {"code": "J45.909", "prevalence": 0.12}
            ]
        },
        "coverage": {"type": "Commercial", "plan_distribution": {"PPO": 0.5, "HMO": 0.35, "HDHP": 0.15}}
    })
}

/// Prevalences, gender and plan shares within the sample's interval; 0 and 1 exact.
#[test]
fn shares_follow_the_profile() {
    let n = 4_000;
    let r = run(base(), n, 42);
    let (_, tally) = r.plan(|| "x".into(), |_| true).unwrap();
    let stats = r.statistics(&tally);
    let conditions = stats["conditions"].as_array().unwrap();
    let realised = |code: &str| conditions.iter().find(|c| c["code"] == code).unwrap()["realised"].as_f64().unwrap();
    within((realised("E11.9") * n as f64).round() as u64, n, 0.3, "diabetes prevalence");
    within((realised("J45.909") * n as f64).round() as u64, n, 0.12, "asthma prevalence");
    assert_eq!(realised("I10"), 1.0, "prevalence 1 is everyone");
    assert_eq!(realised("E78.5"), 0.0, "prevalence 0 is no one");
    within(tally.genders["F"], n, 0.6, "share of women");
    within(tally.plans["HMO"], n, 0.35, "HMO share");
    within(tally.plans["HDHP"], n, 0.15, "HDHP share");
    // Ages stay within the bounds (resampled, not clamped: no pile on 18).
    assert!(tally.ages.iter().all(|a| (18..=90).contains(a)));
    let at_bound = tally.ages.iter().filter(|a| **a == 18).count() as u64;
    assert!(at_bound < n / 100, "{at_bound} patients piled on the lower bound");
}

/// An unbounded normal's mean lands within its interval.
#[test]
fn normal_mean_within_its_interval() {
    let mut profile = base();
    profile["demographics"]["age"] = json!({"type": "normal", "mean": 55, "std": 9});
    let n = 3_000;
    let r = run(profile, n, 7);
    let (_, tally) = r.plan(|| "x".into(), |_| true).unwrap();
    let mean = tally.ages.iter().map(|a| f64::from(*a)).sum::<f64>() / n as f64;
    // Ages are whole years: rounding adds at most 0.5 to the spread.
    let half = Z * (9.0 + 0.5) / (n as f64).sqrt();
    assert!((mean - 55.0).abs() <= half, "mean age {mean} outside 55 ± {half}");
}

/// Same profile and seed: the same cohort; a larger count keeps the smaller cohort.
#[test]
fn deterministic_with_a_stable_prefix() {
    let small = entities(&run(base(), 30, 99));
    let again = entities(&run(base(), 30, 99));
    assert_eq!(small, again);
    let large = entities(&run(base(), 60, 99));
    for (kind, items) in &small {
        let items = items.as_array().unwrap();
        let larger = large[kind].as_array().unwrap();
        assert_eq!(&larger[..items.len()], items.as_slice(), "{kind}: the first patients are kept");
    }
    let other = entities(&run(base(), 30, 100));
    assert_ne!(small["patients"], other["patients"], "another seed, another cohort");
}

/// The clinical links: every diabetic has HbA1c results in range and metformin; every
/// hypertensive patient has blood pressures; each claim matches its visit's date and
/// diagnosis; every row belongs to a patient or member of the cohort.
#[test]
fn clinical_content_follows_conditions() {
    let r = run(base(), 400, 5);
    let all = entities(&r);
    let list = |kind: &str| all.get(kind).and_then(Value::as_array).cloned().unwrap_or_default();
    let patients = list("patients");
    let mrns: std::collections::HashSet<&str> = patients.iter().map(|p| p["mrn"].as_str().unwrap()).collect();
    let diabetics: Vec<String> = list("diagnoses")
        .iter()
        .filter(|d| d["code"] == "E11.9")
        .map(|d| d["patient_mrn"].as_str().unwrap().to_owned())
        .collect();
    assert!(!diabetics.is_empty());
    let labs = list("lab_results");
    for mrn in &diabetics {
        let a1c: Vec<f64> = labs
            .iter()
            .filter(|l| l["patient_mrn"] == mrn.as_str() && l["loinc_code"] == "4548-4")
            .map(|l| l["value"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(!a1c.is_empty(), "{mrn} has no HbA1c");
        assert!(a1c.iter().all(|v| (6.0..=10.5).contains(v)), "{mrn}: {a1c:?}");
        assert!(
            list("medications").iter().any(|m| m["patient_mrn"] == mrn.as_str() && m["code"] == "861007"),
            "{mrn} has no metformin"
        );
    }
    for v in list("vital_signs") {
        let systolic = v["systolic_bp"].as_f64().unwrap();
        assert!((125.0..=175.0).contains(&systolic), "everyone is hypertensive here: {systolic}");
        assert!(v["diastolic_bp"].as_f64().unwrap() < systolic);
    }
    for kind in ["diagnoses", "encounters", "vital_signs", "lab_results", "medications", "prescriptions"] {
        for row in list(kind) {
            assert!(mrns.contains(row["patient_mrn"].as_str().unwrap()), "{kind} row of no patient");
        }
    }
    let encounters = list("encounters");
    let members: std::collections::HashSet<String> =
        list("members").iter().map(|m| m["member_id"].as_str().unwrap().to_owned()).collect();
    let claims = list("claims");
    assert_eq!(claims.len(), encounters.len(), "a claim per visit");
    for (claim, visit) in claims.iter().zip(&encounters) {
        assert!(members.contains(claim["member_id"].as_str().unwrap()));
        assert_eq!(claim["service_date"].as_str().unwrap(), &visit["admission_time"].as_str().unwrap()[..10]);
        assert_eq!(claim["principal_diagnosis"], visit["admitting_diagnosis"]);
    }
    for fill in list("pharmacy_claims") {
        let date = NaiveDate::parse_from_str(fill["service_date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert!(date <= r.as_of && date > r.as_of - chrono::Duration::days(366));
        assert!(fill["ndc"].as_str().unwrap().len() == 11);
    }
    for p in &patients {
        assert_eq!(p["state"], "TX");
        let zip: u32 = p["postal_code"].as_str().unwrap()[..3].parse().unwrap();
        assert!((750..=799).contains(&zip), "a Texas ZIP: {zip}");
    }
}

/// A county places every patient in it (and its state); conditional lab rules use the
/// severity drawn for the patient, including HealthSim's `if`/`else` wrapper form.
#[test]
fn wrapper_dialect_with_conditional_labs_and_a_county() {
    let profile = json!({
        "template": {"id": "harris-diabetic", "name": "Harris County diabetics"},
        "profile": {
            "generation": {"count": 300, "products": ["patientsim"]},
            "demographics": {"age": {"type": "age_bands", "bands": {"40-64": 0.5, "65+": 0.5}}, "gender": {"M": 0.5, "F": 0.5},
                             "geography": {"type": "county", "fips": "48201"}},
            "clinical": {
                "primary_condition": {"code": "E11.9", "prevalence": 1.0,
                    "severity": {"type": "categorical", "weights": {"controlled": 0.5, "uncontrolled": 0.5}}},
                "labs": {"a1c": {"type": "conditional", "rules": [
                    {"if": "severity == 'controlled'", "distribution": {"type": "uniform", "min": 6.0, "max": 6.9}},
                    {"else": true, "distribution": {"type": "uniform", "min": 9.0, "max": 12.0}}]}}
            },
            "sdoh": {"food_insecurity": 0.2}
        }
    });
    let r = run(profile, 300, 3);
    assert_eq!(r.profile.name, "Harris County diabetics");
    assert!(r.profile.warnings.iter().any(|w| w.contains("sdoh")), "{:?}", r.profile.warnings);
    let all = entities(&r);
    for p in all["patients"].as_array().unwrap() {
        assert_eq!((p["state"].as_str(), p["county_fips"].as_str()), (Some("TX"), Some("48201")));
        let born = NaiveDate::parse_from_str(p["birth_date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let age = (r.as_of - born).num_days() / 365;
        assert!((40..=96).contains(&age), "{age}");
    }
    // Each patient is controlled or not as a whole: every result of theirs on one side.
    let mut by_patient: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for lab in all["lab_results"].as_array().unwrap().iter().filter(|l| l["loinc_code"] == "4548-4") {
        by_patient
            .entry(lab["patient_mrn"].as_str().unwrap())
            .or_default()
            .push(lab["value"].as_str().unwrap().parse().unwrap());
    }
    assert_eq!(by_patient.len(), 300, "every diabetic has HbA1c results");
    let mut controlled = 0;
    for (mrn, values) in &by_patient {
        let low = values.iter().all(|v| (6.0..=6.9).contains(v));
        assert!(low || values.iter().all(|v| (9.0..=12.0).contains(v)), "{mrn}: {values:?}");
        controlled += u64::from(low);
    }
    within(controlled, 300, 0.5, "controlled patients");
}

/// Every invalid profile of the fixtures is refused in one line naming its field; an
/// unknown key is warned about, never dropped silently.
#[test]
fn invalid_profiles_name_the_field() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/profiles");
    let mut refused = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Journeys are not generated yet (a warning), so their checks are not made.
        if !name.starts_with("invalid_") || name.starts_with("invalid_journey") {
            continue;
        }
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let err = Profile::read(&value).expect_err(&name).0;
        assert!(err.starts_with("profile.") && !err.contains('\n'), "{name}: {err}");
        refused += 1;
    }
    assert!(refused >= 12, "{refused}");
    let mut profile = base();
    profile["demographics"]["shoe_size"] = json!(9);
    let read = Profile::read(&profile).unwrap();
    assert!(read.warnings.iter().any(|w| w.contains("demographics.shoe_size")), "{:?}", read.warnings);
}

/// Without a clinical section, PLACES' prevalences for the place are the conditions (and
/// children get none of them).
#[test]
fn places_prevalences_fill_an_open_clinical_section() {
    let mut profile = base();
    profile.as_object_mut().unwrap().remove("clinical");
    profile["demographics"]["age"] = json!({"type": "uniform", "min": 5, "max": 80});
    let mut r = run(profile, 2_000, 11);
    r.places = Some(vec![("diabetes_crudeprev".into(), 0.12), ("casthma_crudeprev".into(), 0.1)]);
    let (_, tally) = r.plan(|| "x".into(), |_| true).unwrap();
    let adults = tally.ages.iter().filter(|a| **a >= 18).count() as u64;
    let stats = r.statistics(&tally);
    let diabetes = stats["conditions"].as_array().unwrap().iter().find(|c| c["code"] == "E11.9").unwrap().clone();
    let diabetics = (diabetes["realised"].as_f64().unwrap() * 2_000.0).round() as u64;
    within(diabetics, adults, 0.12, "PLACES diabetes among adults");
}
