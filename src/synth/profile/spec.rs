//! A HealthSim profile read from either dialect HealthSim uses: the flat
//! `ProfileSpecification` of its core package, and the `{"template": {...}, "profile":
//! {...}}` wrapper of its skills' templates (`labs` for `lab_values`, the severity on the
//! primary condition, `if`/`else` rules). Every key is known or named in a warning; an
//! invalid value is a one-line error naming its path.

use serde_json::{Map, Value};

use super::distribution::Distribution;
pub use super::reader::{Reader, SpecError};

/// Most patients one profile generates (HealthSim's own bound).
pub const MAX_COUNT: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    PatientSim,
    MemberSim,
    RxMemberSim,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Geography {
    State(String),
    /// Several states (`"values": ["CO", "UT"]`), one drawn per patient.
    States(Vec<String>),
    /// A 5-digit county FIPS code and the state it lies in.
    County {
        fips: String,
        state: String,
    },
}

#[derive(Debug, Clone)]
pub struct ConditionSpec {
    pub code: String,
    pub description: Option<String>,
    pub prevalence: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Clinical {
    pub primary: Option<ConditionSpec>,
    pub comorbidities: Vec<ConditionSpec>,
    pub severity: Option<Distribution>,
    /// Lab name (`a1c`, `egfr`) → distribution.
    pub lab_values: Vec<(String, Distribution)>,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub count: u64,
    pub seed: Option<u64>,
    pub products: Vec<Product>,
    pub age: Option<Distribution>,
    pub gender: Option<Distribution>,
    pub race: Option<Distribution>,
    pub ethnicity: Option<Distribution>,
    pub geography: Option<Geography>,
    pub clinical: Option<Clinical>,
    pub coverage_type: Option<String>,
    pub plans: Option<Distribution>,
    /// Warnings found while reading (unknown keys, parts not generated).
    pub warnings: Vec<String>,
}

const TOP: &[&str] = &[
    "id",
    "name",
    "version",
    "description",
    "created",
    "updated",
    "generation",
    "demographics",
    "clinical",
    "coverage",
    "outputs",
    "journey",
    "custom",
];

impl Profile {
    pub fn read(value: &Value) -> Result<Profile, SpecError> {
        let Value::Object(top) = value else {
            return Err(SpecError("profile must be a JSON object (a HealthSim profile specification)".to_owned()));
        };
        let mut r = Reader::default();
        // The wrapper: `profile` holds the specification, `template` its id and name.
        let (spec, template) = match top.get("profile") {
            Some(Value::Object(inner)) => {
                r.check_keys(
                    top,
                    "",
                    &["template", "profile", "customizable", "quality_measures", "journey_integration", "journey"],
                );
                (inner, top.get("template").and_then(Value::as_object))
            }
            Some(_) => return Err(SpecError::at("profile", "must be an object")),
            None => (top, None),
        };
        let text = |key: &str| -> Option<String> {
            spec.get(key).or_else(|| template.and_then(|t| t.get(key))).and_then(Value::as_str).map(str::to_owned)
        };
        let wrapped = template.is_some() || top.contains_key("profile");
        r.check_keys(spec, "", &[TOP, &["medications", "utilization", "sdoh", "care_management"]].concat());
        for extra in ["medications", "utilization", "sdoh", "care_management", "outputs", "custom"] {
            if spec.contains_key(extra) && !matches!(extra, "outputs" | "custom") {
                r.warnings.push(format!("profile.{extra} is not generated yet; the cohort follows the clinical table's first-line medications"));
            }
        }
        let name = match text("name") {
            Some(name) if !name.trim().is_empty() => name,
            _ if wrapped => text("id").unwrap_or_else(|| "profile".to_owned()),
            _ => return Err(SpecError::at("name", "is required (a name for the profile)")),
        };
        let id = text("id").unwrap_or_else(|| name.to_ascii_lowercase().replace(' ', "-"));
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(SpecError::at("id", &format!("'{id}' may hold only letters, digits, '-' and '_'")));
        }
        let object = |key: &str| -> Result<Option<&Map<String, Value>>, SpecError> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(o)) => Ok(Some(o)),
                Some(_) => Err(SpecError::at(key, "must be an object")),
            }
        };
        let empty = Map::new();
        let generation = object("generation")?;
        if wrapped && generation.is_none() {
            return Err(SpecError::at("generation", "is required in a template's profile (count and products)"));
        }
        let generation = generation.unwrap_or(&empty);
        r.check_keys(generation, "generation", &["count", "seed", "products", "validation"]);
        let count = match generation.get("count") {
            None => 100,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_COUNT).contains(&n) => n,
                _ => {
                    return Err(SpecError::at(
                        "generation.count",
                        &format!("must be a whole number from 1 to {MAX_COUNT} (got {v})"),
                    ));
                }
            },
        };
        let seed = match generation.get("seed") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                SpecError::at("generation.seed", &format!("must be a whole number of at least 0 (got {v})"))
            })?),
        };
        let products = read_products(generation.get("products"))?;
        let demographics = object("demographics")?.unwrap_or(&empty);
        r.check_keys(
            demographics,
            "demographics",
            &["age", "gender", "race", "ethnicity", "geography", "source", "reference"],
        );
        let dist = |key: &str, r: &mut Reader| -> Result<Option<Distribution>, SpecError> {
            demographics
                .get(key)
                .filter(|v| !v.is_null())
                .map(|v| Distribution::read(v, &format!("demographics.{key}"), r))
                .transpose()
        };
        let age = dist("age", &mut r)?;
        if let Some(age) = &age
            && let (Some(lo), _) = age.bounds()
            && lo < 0.0
        {
            return Err(SpecError::at("demographics.age", "has a negative bound; ages start at 0"));
        }
        let gender = dist("gender", &mut r)?;
        let race = dist("race", &mut r)?;
        let ethnicity = dist("ethnicity", &mut r)?;
        let geography = demographics
            .get("geography")
            .or_else(|| demographics.get("reference"))
            .filter(|v| !v.is_null())
            .map(|g| read_geography(g, &mut r))
            .transpose()?
            .flatten();
        let clinical = object("clinical")?.map(|c| read_clinical(c, &mut r)).transpose()?;
        let (coverage_type, plans) = match object("coverage")? {
            None => (None, None),
            Some(coverage) => {
                r.check_keys(coverage, "coverage", &["type", "plan_distribution", "plan_type"]);
                let kind = coverage.get("type").and_then(Value::as_str).map(str::to_owned);
                let plans = match (coverage.get("plan_distribution"), coverage.get("plan_type")) {
                    (Some(Value::Object(weights)), _) => {
                        let categorical = serde_json::json!({"type": "categorical", "weights": weights});
                        Some(
                            Distribution::read(&categorical, "coverage.plan_distribution", &mut r)
                                .map_err(|e| SpecError(e.0.replace(".weights", "")))?,
                        )
                    }
                    (Some(_), _) => {
                        return Err(SpecError::at("coverage.plan_distribution", "must be an object of plan: share"));
                    }
                    (None, Some(d)) => Some(Distribution::read(d, "coverage.plan_type", &mut r)?),
                    (None, None) => None,
                };
                (kind, plans)
            }
        };
        if spec.get("journey").is_some_and(|j| !j.is_null()) || top.get("journey").is_some_and(|j| !j.is_null()) {
            r.warnings.push("profile.journey: journeys (events over time) are not generated yet; the cohort has the care window's visits only".to_owned());
        }
        Ok(Profile {
            id,
            name,
            count,
            seed,
            products,
            age,
            gender,
            race,
            ethnicity,
            geography,
            clinical,
            coverage_type,
            plans,
            warnings: r.warnings,
        })
    }
}

fn read_products(value: Option<&Value>) -> Result<Vec<Product>, SpecError> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(vec![Product::PatientSim]) };
    let Value::Array(items) = value else {
        return Err(SpecError::at("generation.products", "must be an array such as [\"patientsim\", \"membersim\"]"));
    };
    let mut products = Vec::new();
    for item in items {
        let product = match item.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("patientsim") => Product::PatientSim,
            Some("membersim") => Product::MemberSim,
            Some("rxmembersim") => Product::RxMemberSim,
            _ => {
                return Err(SpecError::at(
                    "generation.products",
                    &format!("holds {item}, which this generator does not make (patientsim, membersim, rxmembersim)"),
                ));
            }
        };
        if !products.contains(&product) {
            products.push(product);
        }
    }
    if products.is_empty() {
        return Err(SpecError::at(
            "generation.products",
            "is empty; name at least one of patientsim, membersim, rxmembersim",
        ));
    }
    Ok(products)
}

fn read_geography(value: &Value, r: &mut Reader) -> Result<Option<Geography>, SpecError> {
    let Value::Object(g) = value else {
        return Err(SpecError::at(
            "demographics.geography",
            "must be an object like {\"type\": \"state\", \"state\": \"TX\"}",
        ));
    };
    let kind = g.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    // A code may be written as text or a number, alone or as a list of `values`.
    let as_text = |v: &Value| v.as_str().map(|s| s.trim().to_owned()).or_else(|| v.as_u64().map(|n| format!("{n:05}")));
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| g.get(*k).and_then(as_text))
            .or_else(|| g.get("values")?.as_array()?.first().and_then(as_text))
    };
    match kind.as_str() {
        "state" => {
            let listed: Vec<String> = match g.get("values").and_then(Value::as_array) {
                Some(values) if g.get("state").is_none() => values.iter().filter_map(as_text).collect(),
                _ => text(&["state", "code", "state_code", "value"]).into_iter().collect(),
            };
            if listed.is_empty() {
                return Err(SpecError::at(
                    "demographics.geography.state",
                    "is missing (a US state abbreviation such as TX)",
                ));
            }
            let mut states = Vec::new();
            for state in listed {
                let state = state.to_ascii_uppercase();
                if !crate::model::STATE_COUNTIES.iter().any(|s| s.0 == state) {
                    return Err(SpecError::at(
                        "demographics.geography.state",
                        &format!("'{state}' is not a US state abbreviation (TX, CA, ...)"),
                    ));
                }
                states.push(state);
            }
            Ok(Some(if states.len() == 1 { Geography::State(states.remove(0)) } else { Geography::States(states) }))
        }
        "county" => {
            let fips = text(&["fips", "county_fips", "code", "value"]).unwrap_or_default();
            let state = crate::model::STATE_COUNTIES
                .iter()
                .find(|s| fips.len() == 5 && fips.starts_with(s.1) && fips.chars().all(|c| c.is_ascii_digit()));
            match state {
                Some(state) => Ok(Some(Geography::County { fips, state: state.0.to_owned() })),
                None => Err(SpecError::at(
                    "demographics.geography.fips",
                    &format!("'{fips}' is not a 5-digit county FIPS code of a US state (48201)"),
                )),
            }
        }
        "national" | "" => {
            if !kind.is_empty() {
                r.warnings
                    .push("profile.demographics.geography: national; patients are spread over the states".to_owned());
            }
            Ok(None)
        }
        other => {
            Err(SpecError::at("demographics.geography.type", &format!("'{other}' is not supported (state or county)")))
        }
    }
}

fn read_condition(value: &Value, path: &str, r: &mut Reader) -> Result<ConditionSpec, SpecError> {
    let Value::Object(c) = value else { return Err(SpecError::at(path, "must be an object with code and prevalence")) };
    r.check_keys(c, path, &["code", "description", "prevalence", "severity", "lab_values", "labs"]);
    let code = c.get("code").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let code =
        code.ok_or_else(|| SpecError::at(&format!("{path}.code"), "is required (an ICD-10-CM code such as E11.9)"))?;
    let prevalence = match c.get("prevalence") {
        None => 1.0,
        Some(v) => match v.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => p,
            _ => {
                return Err(SpecError::at(
                    &format!("{path}.prevalence"),
                    &format!("must be between 0 and 1 (got {v})"),
                ));
            }
        },
    };
    Ok(ConditionSpec {
        code: code.to_owned(),
        description: c.get("description").and_then(Value::as_str).map(str::to_owned),
        prevalence,
    })
}

fn read_clinical(c: &Map<String, Value>, r: &mut Reader) -> Result<Clinical, SpecError> {
    r.check_keys(
        c,
        "clinical",
        &["primary_condition", "comorbidities", "severity", "lab_values", "labs", "conditions"],
    );
    let mut clinical = Clinical::default();
    if let Some(primary) = c.get("primary_condition").filter(|v| !v.is_null()) {
        clinical.primary = Some(read_condition(primary, "clinical.primary_condition", r)?);
        // The wrapper puts the severity on the primary condition.
        if let Some(severity) = primary.get("severity").filter(|v| !v.is_null()) {
            clinical.severity = Some(Distribution::read(severity, "clinical.primary_condition.severity", r)?);
        }
    }
    for key in ["comorbidities", "conditions"] {
        match c.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    clinical.comorbidities.push(read_condition(item, &format!("clinical.{key}[{i}]"), r)?);
                }
            }
            Some(_) => return Err(SpecError::at(&format!("clinical.{key}"), "must be an array of conditions")),
        }
    }
    if let Some(severity) = c.get("severity").filter(|v| !v.is_null()) {
        clinical.severity = Some(Distribution::read(severity, "clinical.severity", r)?);
    }
    for key in ["lab_values", "labs"] {
        match c.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(labs)) => {
                for (name, d) in labs {
                    clinical
                        .lab_values
                        .push((name.clone(), Distribution::read(d, &format!("clinical.{key}.{name}"), r)?));
                }
            }
            Some(_) => {
                return Err(SpecError::at(&format!("clinical.{key}"), "must be an object of lab name: distribution"));
            }
        }
    }
    Ok(clinical)
}
