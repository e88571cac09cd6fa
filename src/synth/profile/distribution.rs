//! The seven distribution types of HealthSim profiles (`categorical`, `normal`,
//! `log_normal`, `uniform`, `age_bands`, `explicit`, `conditional`, plus the schema's
//! `fixed`), read strictly: a bad field is a one-line error naming its path. Bounded
//! normal values are resampled within `min`/`max`, never clamped (clamping piles patients
//! on the bound). Conditional rules are parsed into a small expression tree (`rules.rs`),
//! never evaluated as code.

use serde_json::{Map, Value};

use super::reader::{Reader, SpecError};
use super::rules::{Context, Expr};

/// A sampled value: a number or a label.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Number(f64),
    Label(String),
}

impl Sample {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Sample::Number(n) => Some(*n),
            Sample::Label(text) => text.trim().parse().ok(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Sample::Number(n) if n.fract() == 0.0 => format!("{n:.0}"),
            Sample::Number(n) => n.to_string(),
            Sample::Label(text) => text.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Distribution {
    /// Labels with weights summing to 1 (within 0.01).
    Categorical(Vec<(String, f64)>),
    Normal {
        mean: f64,
        std_dev: f64,
        min: Option<f64>,
        max: Option<f64>,
    },
    /// `mean` and `std_dev` of the values themselves (HealthSim's method of moments).
    LogNormal {
        mean: f64,
        std_dev: f64,
        min: Option<f64>,
        max: Option<f64>,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    /// Age bands `A-B`, `A+` (to 95) or `A`, with relative weights.
    AgeBands(Vec<(u32, u32, f64)>),
    /// Values with relative weights.
    Explicit(Vec<(Sample, f64)>),
    Conditional {
        rules: Vec<(Expr, Distribution)>,
        default: Option<Box<Distribution>>,
    },
    Fixed(Sample),
}

/// Oldest age an open band (`65+`) reaches.
const OPEN_BAND_MAX: u32 = 95;
/// Draws of a bounded normal before it is refused as unreachable (a bound 20 SD away).
const MAX_DRAWS: usize = 10_000;

impl Distribution {
    /// Reads the distribution at `path` (e.g. `demographics.age`).
    pub fn read(value: &Value, path: &str, r: &mut Reader) -> Result<Distribution, SpecError> {
        let Value::Object(object) = value else {
            // A bare number or label is a fixed value.
            return match value {
                Value::Number(n) => Ok(Distribution::Fixed(Sample::Number(n.as_f64().unwrap_or(0.0)))),
                Value::String(s) => Ok(Distribution::Fixed(Sample::Label(s.clone()))),
                _ => Err(SpecError::at(path, "must be a distribution object like {\"type\": \"normal\", ...}")),
            };
        };
        let Some(kind) = object.get("type").and_then(Value::as_str) else {
            // HealthSim's tutorials write a bare map of weights: {"M": 0.48, "F": 0.52}.
            if !object.is_empty() && object.values().all(Value::is_number) {
                return categorical(object, path);
            }
            return Err(SpecError::at(
                path,
                "needs a \"type\" (categorical, normal, log_normal, uniform, age_bands, explicit, conditional, fixed)",
            ));
        };
        let number = |key: &str| -> Result<Option<f64>, SpecError> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => {
                    v.as_f64().map(Some).ok_or_else(|| SpecError::at(&format!("{path}.{key}"), "must be a number"))
                }
            }
        };
        let known: &[&str] = match kind.to_ascii_lowercase().as_str() {
            "categorical" => &["type", "weights"],
            "normal" | "gaussian" => &["type", "mean", "std_dev", "std", "sd", "min", "max"],
            "log_normal" | "lognormal" => &["type", "mean", "std_dev", "std", "sd", "min", "max"],
            "uniform" => &["type", "min", "max"],
            "age_bands" => &["type", "bands"],
            "explicit" => &["type", "values"],
            "conditional" => &["type", "rules", "default"],
            "fixed" => &["type", "value"],
            other => {
                return Err(SpecError::at(
                    &format!("{path}.type"),
                    &format!(
                        "'{other}' is not a distribution type (categorical, normal, log_normal, uniform, age_bands, explicit, conditional, fixed)"
                    ),
                ));
            }
        };
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            r.unknown(&format!("{path}.{key}"));
        }
        let bounds = |min: Option<f64>, max: Option<f64>| -> Result<(), SpecError> {
            match (min, max) {
                (Some(lo), Some(hi)) if lo > hi => {
                    Err(SpecError::at(&format!("{path}.min"), &format!("{lo} is greater than max {hi}")))
                }
                _ => Ok(()),
            }
        };
        let spread = || -> Result<f64, SpecError> {
            // HealthSim's documents write `std` as often as `std_dev`.
            let value = number("std_dev")?.or(number("std")?).or(number("sd")?).unwrap_or(1.0);
            if value < 0.0 {
                return Err(SpecError::at(&format!("{path}.std_dev"), &format!("must not be negative (got {value})")));
            }
            Ok(value)
        };
        Ok(match kind.to_ascii_lowercase().as_str() {
            "categorical" => match object.get("weights") {
                Some(Value::Object(weights)) => categorical(weights, &format!("{path}.weights"))?,
                _ => return Err(SpecError::at(&format!("{path}.weights"), "must be an object of label: weight")),
            },
            "normal" | "gaussian" => {
                let (min, max) = (number("min")?, number("max")?);
                bounds(min, max)?;
                Distribution::Normal { mean: number("mean")?.unwrap_or(0.0), std_dev: spread()?, min, max }
            }
            "log_normal" | "lognormal" => {
                let (min, max) = (number("min")?, number("max")?);
                bounds(min, max)?;
                let mean = number("mean")?.unwrap_or(100.0);
                if mean <= 0.0 {
                    return Err(SpecError::at(&format!("{path}.mean"), "must be positive for a log_normal"));
                }
                Distribution::LogNormal { mean, std_dev: spread()?, min, max }
            }
            "uniform" => {
                let (min, max) = (number("min")?.unwrap_or(0.0), number("max")?.unwrap_or(1.0));
                bounds(Some(min), Some(max))?;
                Distribution::Uniform { min, max }
            }
            "age_bands" => {
                let Some(Value::Object(bands)) = object.get("bands") else {
                    return Err(SpecError::at(&format!("{path}.bands"), "must be an object of \"A-B\": weight"));
                };
                let mut out = Vec::new();
                for (label, weight) in bands {
                    let at = format!("{path}.bands.{label}");
                    let weight = weight_of(weight, &at)?;
                    let (lo, hi) = band(label)
                        .ok_or_else(|| SpecError::at(&at, "is not an age band (write \"18-34\", \"65+\" or \"40\")"))?;
                    out.push((lo, hi, weight));
                }
                positive_total(out.iter().map(|b| b.2), &format!("{path}.bands"))?;
                Distribution::AgeBands(out)
            }
            "explicit" => {
                let Some(Value::Array(values)) = object.get("values") else {
                    return Err(SpecError::at(
                        &format!("{path}.values"),
                        "must be an array of {\"value\": v, \"weight\": w}",
                    ));
                };
                let mut out = Vec::new();
                for (i, item) in values.iter().enumerate() {
                    let at = format!("{path}.values[{i}]");
                    let (value, weight) = match item {
                        Value::Object(o) => (
                            o.get("value").cloned().unwrap_or(Value::Null),
                            o.get("weight").map_or(Ok(1.0), |w| weight_of(w, &format!("{at}.weight")))?,
                        ),
                        other => (other.clone(), 1.0),
                    };
                    let sample = match value {
                        Value::Number(n) => Sample::Number(n.as_f64().unwrap_or(0.0)),
                        Value::String(s) => Sample::Label(s),
                        _ => return Err(SpecError::at(&format!("{at}.value"), "must be a number or a string")),
                    };
                    out.push((sample, weight));
                }
                positive_total(out.iter().map(|v| v.1), &format!("{path}.values"))?;
                Distribution::Explicit(out)
            }
            "conditional" => {
                let rules_value = object.get("rules").and_then(Value::as_array);
                let mut rules = Vec::new();
                let mut default = match object.get("default") {
                    Some(d) if !d.is_null() => Some(Box::new(Distribution::read(d, &format!("{path}.default"), r)?)),
                    _ => None,
                };
                for (i, rule) in rules_value.into_iter().flatten().enumerate() {
                    let at = format!("{path}.rules[{i}]");
                    let Some(dist) = rule.get("distribution") else {
                        return Err(SpecError::at(&format!("{at}.distribution"), "is missing"));
                    };
                    let dist = Distribution::read(dist, &format!("{at}.distribution"), r)?;
                    if rule.get("else") == Some(&Value::Bool(true)) {
                        default.get_or_insert(Box::new(dist));
                        continue;
                    }
                    let text =
                        rule.get("condition").or_else(|| rule.get("if")).and_then(Value::as_str).ok_or_else(|| {
                            SpecError::at(
                                &format!("{at}.condition"),
                                "is missing (write \"condition\": \"severity == 'controlled'\")",
                            )
                        })?;
                    let expr = Expr::parse(text).map_err(|why| SpecError::at(&format!("{at}.condition"), &why))?;
                    rules.push((expr, dist));
                }
                if rules.is_empty() {
                    return Err(SpecError::at(
                        &format!("{path}.rules"),
                        "needs at least one rule (\"condition\": \"severity == 'controlled'\")",
                    ));
                }
                Distribution::Conditional { rules, default }
            }
            _ => match object.get("value") {
                Some(Value::Number(n)) => Distribution::Fixed(Sample::Number(n.as_f64().unwrap_or(0.0))),
                Some(Value::String(s)) => Distribution::Fixed(Sample::Label(s.clone())),
                _ => return Err(SpecError::at(&format!("{path}.value"), "must be a number or a string")),
            },
        })
    }

    /// Draws one value; `None` when a conditional has no matching rule and no default.
    pub fn sample(&self, rng: &mut fastrand::Rng, context: &Context) -> Option<Sample> {
        Some(match self {
            Distribution::Categorical(weights) => {
                Sample::Label(weighted(rng, weights.iter().map(|(l, w)| (l, *w)))?.clone())
            }
            Distribution::Normal { mean, std_dev, min, max } => {
                Sample::Number(bounded(rng, *min, *max, |rng| mean + std_dev * gaussian(rng)))
            }
            Distribution::LogNormal { mean, std_dev, min, max } => {
                let sigma2 = (1.0 + (std_dev * std_dev) / (mean * mean)).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                Sample::Number(bounded(rng, *min, *max, |rng| (mu + sigma2.sqrt() * gaussian(rng)).exp()))
            }
            Distribution::Uniform { min, max } => Sample::Number(min + (max - min) * rng.f64()),
            Distribution::AgeBands(bands) => {
                let (lo, hi, _) = weighted(rng, bands.iter().map(|b| (b, b.2)))?;
                Sample::Number(f64::from(rng.u32(*lo..=*hi)))
            }
            Distribution::Explicit(values) => weighted(rng, values.iter().map(|(v, w)| (v, *w)))?.clone(),
            Distribution::Conditional { rules, default } => {
                let chosen =
                    rules.iter().find(|(expr, _)| expr.holds(context)).map(|(_, d)| d).or(default.as_deref())?;
                return chosen.sample(rng, context);
            }
            Distribution::Fixed(value) => value.clone(),
        })
    }

    /// The requested mean where the type states one (for the realised-statistics report).
    pub fn stated_mean(&self) -> Option<f64> {
        match self {
            Distribution::Normal { mean, min: None, max: None, .. }
            | Distribution::LogNormal { mean, min: None, max: None, .. } => Some(*mean),
            Distribution::Uniform { min, max } => Some((min + max) / 2.0),
            Distribution::Fixed(value) => value.as_number(),
            _ => None,
        }
    }

    /// Requested shares of each label (categorical, explicit), normalised.
    pub fn shares(&self) -> Option<Vec<(String, f64)>> {
        let pairs: Vec<(String, f64)> = match self {
            Distribution::Categorical(weights) => weights.clone(),
            Distribution::Explicit(values) => values.iter().map(|(v, w)| (v.label(), *w)).collect(),
            Distribution::Fixed(value) => vec![(value.label(), 1.0)],
            _ => return None,
        };
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        Some(pairs.into_iter().map(|(l, w)| (l, w / total)).collect())
    }

    /// Bounds every draw respects (age checks).
    pub fn bounds(&self) -> (Option<f64>, Option<f64>) {
        match self {
            Distribution::Normal { min, max, .. } | Distribution::LogNormal { min, max, .. } => (*min, *max),
            Distribution::Uniform { min, max } => (Some(*min), Some(*max)),
            Distribution::AgeBands(bands) => (
                bands.iter().map(|b| f64::from(b.0)).reduce(f64::min),
                bands.iter().map(|b| f64::from(b.1)).reduce(f64::max),
            ),
            _ => (None, None),
        }
    }
}

fn categorical(weights: &Map<String, Value>, path: &str) -> Result<Distribution, SpecError> {
    let mut out = Vec::new();
    for (label, weight) in weights {
        out.push((label.clone(), weight_of(weight, &format!("{path}.{label}"))?));
    }
    let total: f64 = out.iter().map(|w| w.1).sum();
    if (total - 1.0).abs() > 0.01 {
        return Err(SpecError::at(path, &format!("weights sum to {total:.3}, not 1")));
    }
    Ok(Distribution::Categorical(out))
}

fn weight_of(value: &Value, path: &str) -> Result<f64, SpecError> {
    match value.as_f64() {
        Some(w) if (0.0..=f64::MAX).contains(&w) => Ok(w),
        _ => Err(SpecError::at(path, "must be a number of at least 0")),
    }
}

fn positive_total(weights: impl Iterator<Item = f64>, path: &str) -> Result<(), SpecError> {
    if weights.sum::<f64>() > 0.0 { Ok(()) } else { Err(SpecError::at(path, "needs at least one positive weight")) }
}

/// `"18-34"` → (18, 34); `"65+"` → (65, 95); `"40"` → (40, 40).
fn band(label: &str) -> Option<(u32, u32)> {
    let label = label.trim();
    if let Some(lo) = label.strip_suffix('+') {
        let lo: u32 = lo.trim().parse().ok()?;
        return Some((lo, OPEN_BAND_MAX.max(lo)));
    }
    if let Some((lo, hi)) = label.split_once('-') {
        let (lo, hi): (u32, u32) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
        return (lo <= hi).then_some((lo, hi));
    }
    let age: u32 = label.parse().ok()?;
    Some((age, age))
}

/// One item by relative weight.
fn weighted<T>(rng: &mut fastrand::Rng, items: impl Iterator<Item = (T, f64)> + Clone) -> Option<T> {
    let total: f64 = items.clone().map(|(_, w)| w).sum();
    let mut point = rng.f64() * total;
    let mut last = None;
    for (item, weight) in items {
        if weight <= 0.0 {
            continue;
        }
        if point < weight {
            return Some(item);
        }
        point -= weight;
        last = Some(item);
    }
    last
}

/// A standard normal draw (Box-Muller).
pub fn gaussian(rng: &mut fastrand::Rng) -> f64 {
    let u1 = 1.0 - rng.f64();
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Draws until the value is within the bounds (resampled, not clamped); a bound too far
/// to reach in `MAX_DRAWS` draws yields the nearest bound.
fn bounded(
    rng: &mut fastrand::Rng,
    min: Option<f64>,
    max: Option<f64>,
    mut draw: impl FnMut(&mut fastrand::Rng) -> f64,
) -> f64 {
    let mut value = draw(rng);
    for _ in 0..MAX_DRAWS {
        if min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m) {
            return value;
        }
        value = draw(rng);
    }
    value.clamp(min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX))
}
