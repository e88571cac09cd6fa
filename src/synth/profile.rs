//! Cohorts generated from HealthSim profiles (`healthsim_execute_profile`): the profile
//! read from either dialect (`spec`), its distributions and rules (`distribution`,
//! `rules`), the clinical table (`clinical`), one patient at a time (`cohort`), and here
//! the run: patients in chunks straight into a save plan, and the realised statistics
//! beside the requested ones.

pub mod clinical;
pub mod cohort;
pub mod distribution;
mod reader;
pub mod rules;
pub mod spec;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use crate::model::{SavePlan, plan_save};
pub use spec::{Profile, SpecError};

/// Patients mapped into the plan at a time (their JSON trees are freed chunk by chunk).
pub const CHUNK: u64 = 1_000;

/// A run: the profile, its seed and count (overrides applied), and the care window's end.
pub struct Run {
    pub profile: Profile,
    pub seed: u64,
    pub count: u64,
    pub as_of: NaiveDate,
    /// `(places column, prevalence 0..1)` for the profile's place, when the profile has
    /// no clinical section and the population reference tables are present.
    pub places: Option<Vec<(String, f64)>>,
}

/// What the answer reports: the realised statistics beside the requested ones.
#[derive(Debug, Default)]
pub struct Tally {
    ages: Vec<u32>,
    genders: std::collections::BTreeMap<String, u64>,
    conditions: Vec<u64>,
    plans: std::collections::BTreeMap<String, u64>,
}

impl Run {
    fn conditions(&self) -> Vec<cohort::Drawn> {
        cohort::conditions_of(&self.profile, self.places.as_deref())
    }

    /// The first `n` patients with all their entities, in the save tool's `entities` shape.
    pub fn preview(&self, n: u64) -> (Map<String, Value>, Tally) {
        let plan =
            cohort::Plan { profile: &self.profile, seed: self.seed, as_of: self.as_of, conditions: self.conditions() };
        let mut tally = Tally { conditions: vec![0; plan.conditions.len()], ..Tally::default() };
        let patients: Vec<_> = (0..n.min(self.count)).map(|i| tally.add(cohort::generate(&plan, i))).collect();
        (cohort::group(patients), tally)
    }

    /// The save plan of patients `start..` (one chunk), counted into `tally`; `None` past
    /// the last patient.
    pub fn chunk(&self, start: u64, tally: &mut Tally, new_id: impl FnMut() -> String) -> Option<SavePlan> {
        if start >= self.count {
            return None;
        }
        let plan =
            cohort::Plan { profile: &self.profile, seed: self.seed, as_of: self.as_of, conditions: self.conditions() };
        if tally.conditions.is_empty() {
            tally.conditions = vec![0; plan.conditions.len()];
        }
        let end = (start + CHUNK).min(self.count);
        let patients: Vec<_> = (start..end).map(|i| tally.add(cohort::generate(&plan, i))).collect();
        Some(plan_save(cohort::group(patients), new_id))
    }

    /// Every patient, mapped into one save plan chunk by chunk; `new_id` as for a save.
    /// `go_on` hears how many patients are done after each chunk; `false` stops the run
    /// (a cancelled call: nothing is saved).
    pub fn plan(
        &self,
        mut new_id: impl FnMut() -> String,
        mut go_on: impl FnMut(u64) -> bool,
    ) -> Option<(SavePlan, Tally)> {
        let mut tally = Tally::default();
        let mut whole = SavePlan::default();
        let mut start = 0;
        while let Some(part) = self.chunk(start, &mut tally, &mut new_id) {
            whole.absorb(part);
            start = (start + CHUNK).min(self.count);
            if !go_on(start) {
                return None;
            }
        }
        Some((whole, tally))
    }

    /// The realised statistics beside the requested ones (small: a few hundred characters).
    pub fn statistics(&self, tally: &Tally) -> Value {
        let n = tally.ages.len().max(1) as f64;
        let mean = tally.ages.iter().map(|a| f64::from(*a)).sum::<f64>() / n;
        let shares = |counts: &std::collections::BTreeMap<String, u64>| -> Map<String, Value> {
            counts.iter().map(|(k, v)| (k.clone(), json!(round3(*v as f64 / n)))).collect()
        };
        let requested = |d: Option<&distribution::Distribution>| {
            d.and_then(|d| d.shares()).map(|s| s.into_iter().map(|(k, v)| (k, json!(round3(v)))).collect::<Map<_, _>>())
        };
        let age = self.profile.age.as_ref();
        let conditions: Vec<Value> = self
            .conditions()
            .iter()
            .zip(&tally.conditions)
            .map(|(c, k)| json!({"code": c.code, "description": c.description, "requested": round3(c.prevalence), "realised": round3(*k as f64 / n)}))
            .collect();
        json!({
            "age": {
                "mean": round3(mean), "min": tally.ages.iter().min(), "max": tally.ages.iter().max(),
                "requested_mean": age.and_then(|a| a.stated_mean()),
                "requested_bounds": age.map(|a| a.bounds()).map(|(lo, hi)| json!([lo, hi])),
            },
            "gender": {"realised": shares(&tally.genders), "requested": requested(self.profile.gender.as_ref())},
            "conditions": conditions,
            "plans": {"realised": shares(&tally.plans), "requested": requested(self.profile.plans.as_ref())},
        })
    }
}

impl Tally {
    /// Counts the patient; hands back its entities.
    fn add(&mut self, patient: cohort::Patient) -> Vec<(&'static str, Value)> {
        self.ages.push(patient.age);
        *self.genders.entry(patient.gender).or_default() += 1;
        for c in &patient.conditions {
            self.conditions[*c] += 1;
        }
        if let Some(name) = patient.plan {
            *self.plans.entry(name).or_default() += 1;
        }
        patient.entities
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
