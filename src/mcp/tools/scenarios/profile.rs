//! `healthsim_execute_profile`: a cohort generated on the server from a HealthSim profile
//! (`synth::profile`) and saved as a scenario in one call, or previewed; the answer is
//! the counts and the realised statistics beside the requested ones.

use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::super::{ArgError, ArgReader, Parameters, db_failure, failure, success};
use super::save::{cap_warnings, progress_channel, without_skipped};
use crate::db::{Area, Execution, SaveOutcome, SaveRequest};
use crate::mcp::server::HealthSim;
use crate::synth::profile::distribution::Distribution;
use crate::synth::profile::{CHUNK, Profile, Run, Tally, spec::Geography};

/// The arguments' schema; they are read through `ArgReader` (envelope, bounds, names).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ProfileArgs {
    /// HealthSim profile: {name, generation, demographics, clinical, coverage} or {template, profile}
    #[schemars(with = "Map<String, Value>")]
    pub profile: Value,
    /// Scenario to save into (default: the profile's name)
    #[serde(default)]
    #[schemars(with = "String", length(max = 200))]
    pub name: Option<String>,
    /// Overrides generation.count (1-100000)
    #[serde(default)]
    pub count: Option<u64>,
    /// Overrides generation.seed (same seed, same cohort)
    #[serde(default)]
    pub seed: Option<u64>,
    /// Return 5 patients, save nothing
    #[serde(default)]
    pub preview: bool,
    /// Replace an existing scenario of that name
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProfileOutput {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario_id: Option<String>,
    pub name: String,
    pub seed: u64,
    pub patients: u64,
    pub entity_counts: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canonical_rows: Option<Map<String, Value>>,
    pub statistics: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entities: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// The arguments as read.
struct Read {
    profile: Value,
    name: Option<String>,
    count: Option<u64>,
    seed: Option<u64>,
    preview: bool,
    overwrite: bool,
}

/// What the chunks of a run added up to, for the answer.
#[derive(Default)]
struct Collected {
    tally: Tally,
    entity_counts: Vec<(String, usize)>,
    canonical: std::collections::BTreeMap<&'static str, usize>,
    /// The first few warnings of the mapping.
    warnings: Vec<String>,
}

impl Collected {
    fn note(&mut self, plan: &crate::model::SavePlan) {
        crate::model::add_counts(&mut self.entity_counts, plan.entity_counts.iter().cloned());
        for (table, n) in plan.canonical_counts() {
            *self.canonical.entry(table).or_default() += n;
        }
        self.warnings.extend(plan.warnings.iter().take(5usize.saturating_sub(self.warnings.len())).cloned());
    }
}

/// Patients a preview shows.
const PREVIEW_PATIENTS: u64 = 5;

#[tool_router(router = profile_tools, vis = "pub(crate)")]
impl HealthSim {
    #[tool(
        name = "healthsim_execute_profile",
        description = "Generate a cohort from a HealthSim profile and save it as a scenario in one call (use it instead of writing many entities): patients, conditions, a year of visits, vitals, labs and medications (patientsim), members and claims (membersim), prescriptions and pharmacy fills (rxmembersim). Answers counts and realised statistics; preview=true returns 5 patients, saving nothing.",
        output_schema = schema_for_output::<ProfileOutput>(),
        annotations(title = "Generate Cohort from Profile", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn healthsim_execute_profile(
        &self,
        args: Parameters<ProfileArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let read = || -> Result<Read, ArgError> {
            let mut a = ArgReader::new::<ProfileArgs>(args.raw)?;
            let profile = a
                .value("profile")
                .ok_or_else(|| ArgError("profile is required (a HealthSim profile object)".into()))?;
            let name = a.optional_string("name", 200)?;
            let count = a.value("count").filter(|v| !v.is_null()).map(|v| {
                v.as_u64()
                    .filter(|n| (1..=crate::synth::profile::spec::MAX_COUNT).contains(n))
                    .ok_or_else(|| ArgError(format!("count must be between 1 and 100000 (got {v})")))
            });
            let seed = a.value("seed").filter(|v| !v.is_null()).map(|v| {
                v.as_u64().ok_or_else(|| ArgError(format!("seed must be a whole number of at least 0 (got {v})")))
            });
            Ok(Read {
                profile,
                name,
                count: count.transpose()?,
                seed: seed.transpose()?,
                preview: a.boolean("preview", false)?,
                overwrite: a.boolean("overwrite", false)?,
            })
        };
        let Read { profile, name, count, seed, preview, overwrite } = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        let started = std::time::Instant::now();
        let spec_text = profile.to_string();
        let mut profile = match Profile::read(&profile) {
            Ok(profile) => profile,
            Err(err) => return failure(format!("{err}; fix the profile and call again"), Map::new()),
        };
        // A seed of our choosing fits the tooling's INTEGER column (profile_executions.seed).
        let seed = seed.or(profile.seed).unwrap_or_else(|| fastrand::u64(1..i32::MAX as u64));
        let count = count.unwrap_or(profile.count);
        let name = name.unwrap_or_else(|| profile.name.clone());
        let places =
            if profile.clinical.is_none() { self.places_prevalence(profile.geography.as_ref()).await } else { None };
        if profile.age.is_none() {
            // As HealthSim's reference profiles do: the place's age structure from SVI.
            profile.age = self.svi_age_bands(profile.geography.as_ref()).await;
        }
        let mut warnings = profile.warnings.clone();
        if profile.clinical.is_none() && places.is_none() {
            warnings.push("the profile has no clinical section and no PLACES data for its place (population.places_county): patients have no conditions".into());
        }
        let run = Run { profile, seed, count, as_of: chrono::Utc::now().date_naive(), places };
        if preview {
            let (entities, tally) = run.preview(PREVIEW_PATIENTS);
            let counts = entities.iter().map(|(k, v)| (k.clone(), json!(v.as_array().map_or(0, Vec::len)))).collect();
            return success(
                &ProfileOutput {
                    status: "preview".into(),
                    scenario_id: None,
                    name,
                    seed,
                    patients: count.min(PREVIEW_PATIENTS),
                    entity_counts: counts,
                    canonical_rows: None,
                    statistics: run.statistics(&tally),
                    entities: Some(entities),
                    warnings: cap_warnings(&warnings),
                },
                true,
            );
        }
        if let Err(reason) = self.db.writes_enabled().await {
            return failure(reason, Map::new());
        }
        // Patients are generated and written chunk by chunk in one transaction (a local
        // file: memory stays that of a chunk); on a server, whose write may run twice, the
        // whole cohort is one plan. Progress counts patients generated and written.
        let (sender, forwarder) = progress_channel(&context, count).map_or((None, None), |(s, f)| (Some(s), Some(f)));
        let streamed = !self.db.is_remote();
        let collected = Arc::new(Mutex::new(Collected::default()));
        let (ready, request) = std::sync::mpsc::sync_channel::<SaveRequest>(1);
        let saving = self.db.save_when_ready(move || request.recv().ok());
        let planning = async {
            let run = Arc::new(run);
            let (first_run, first_collected) = (Arc::clone(&run), Arc::clone(&collected));
            let first = tokio::task::spawn_blocking(move || {
                let mut c = first_collected.lock().unwrap_or_else(|e| e.into_inner());
                let plan = if streamed {
                    first_run.chunk(0, &mut c.tally, crate::model::new_uuid)?
                } else {
                    let (plan, tally) = first_run.plan(crate::model::new_uuid, |_| true)?;
                    c.tally = tally;
                    plan
                };
                c.note(&plan);
                Some(plan)
            })
            .await
            .ok()??;
            if let Some(sender) = &sender {
                let done = if streamed { count.min(CHUNK) } else { count };
                let _ = sender.send((done, format!("generated {done} of {count} patients")));
            }
            let more: Option<crate::db::More> = streamed.then(|| {
                let (run, collected, cancelled, sender) =
                    (Arc::clone(&run), Arc::clone(&collected), context.ct.clone(), sender.clone());
                let mut start = CHUNK;
                Box::new(move || {
                    if cancelled.is_cancelled() {
                        anyhow::bail!("the call was cancelled; nothing was saved");
                    }
                    let mut c = collected.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(plan) = run.chunk(start, &mut c.tally, crate::model::new_uuid) else { return Ok(None) };
                    c.note(&plan);
                    start += CHUNK;
                    if let Some(sender) = &sender {
                        let done = start.min(count);
                        let _ = sender.send((done, format!("generated {done} of {count} patients")));
                    }
                    Ok(Some(plan))
                }) as crate::db::More
            });
            let description =
                Some(format!("Generated from profile '{}' (seed {seed}, {count} patients)", run.profile.name));
            let tags = vec!["generated".to_owned(), format!("profile:{}", run.profile.id)];
            let products: Vec<String> =
                run.profile.products.iter().map(|p| format!("{p:?}").to_ascii_lowercase()).collect();
            let execution = Some(Execution {
                profile_id: run.profile.id.clone(),
                profile_name: run.profile.name.clone(),
                spec: spec_text,
                products: products.join(","),
                seed,
                started,
            });
            let request = SaveRequest {
                name: name.clone(),
                description,
                tags,
                overwrite,
                plan: first,
                progress: None,
                more,
                execution,
            };
            ready.send(request).ok()?;
            Some(run)
        };
        let (outcome, planned) = tokio::join!(saving, planning);
        drop(sender);
        if context.ct.is_cancelled() {
            tracing::warn!(%name, "a profile run was cancelled by the client; it was rolled back unless it had finished");
        }
        let Some(run) = planned else {
            return match outcome {
                Err(err) => db_failure("healthsim_execute_profile", err),
                Ok(_) => failure("internal error while generating the cohort; nothing was written", Map::new()),
            };
        };
        let Collected { tally, entity_counts, canonical, warnings: planned_warnings } =
            std::mem::take(&mut *collected.lock().unwrap_or_else(|e| e.into_inner()));
        let statistics = run.statistics(&tally);
        let entity_counts: Map<String, Value> = entity_counts.into_iter().map(|(t, n)| (t, json!(n))).collect();
        let canonical_rows: Map<String, Value> = canonical.into_iter().map(|(t, n)| (t.to_owned(), json!(n))).collect();
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
        match outcome {
            Ok(SaveOutcome::Saved { scenario_id, warnings: kept_as_json, skipped, .. }) => {
                tracing::info!(%name, %scenario_id, count, seed, "cohort generated");
                warnings.extend(kept_as_json);
                warnings.extend(planned_warnings);
                let output = ProfileOutput {
                    status: "generated".into(),
                    scenario_id: Some(scenario_id),
                    name,
                    seed,
                    patients: count,
                    entity_counts,
                    canonical_rows: Some(without_skipped(canonical_rows, skipped)),
                    statistics,
                    entities: None,
                    warnings: cap_warnings(&warnings),
                };
                success(&output, true)
            }
            Ok(SaveOutcome::NameTaken) => failure(
                format!("scenario '{name}' already exists; pass overwrite=true to replace it, or another name"),
                Map::new(),
            ),
            Err(err) => db_failure("healthsim_execute_profile", err),
        }
    }
}

impl HealthSim {
    pub(crate) fn profile_router() -> ToolRouter<HealthSim> {
        Self::profile_tools()
    }

    /// The place's age bands from SVI (population-weighted over a state's counties);
    /// `None` without reference data or place.
    async fn svi_age_bands(&self, place: Option<&Geography>) -> Option<Distribution> {
        let shares = self.db.svi_age_shares(area(place?)).await;
        let (young, old) =
            shares.inspect_err(|err| tracing::warn!("cannot read SVI's age structure: {err}")).ok()??;
        (young >= 0.0 && old >= 0.0 && young + old < 1.0)
            .then(|| Distribution::AgeBands(vec![(0, 17, young), (18, 64, 1.0 - young - old), (65, 95, old)]))
    }

    /// PLACES crude prevalences (0..1) of the place: its county, or the mean of its
    /// state's counties; `None` without reference data or place.
    async fn places_prevalence(&self, place: Option<&Geography>) -> Option<Vec<(String, f64)>> {
        let columns = crate::synth::profile::clinical::CONDITIONS.iter().filter_map(|c| c.places_column).collect();
        let found = self.db.places_prevalence(area(place?), columns).await;
        let found = found.inspect_err(|err| tracing::warn!("cannot read PLACES prevalences: {err}")).ok()?;
        (!found.is_empty()).then_some(found)
    }
}

/// A profile's place in the reference data's terms.
fn area(place: &Geography) -> Area {
    match place {
        Geography::State(state) => Area::States(vec![state.clone()]),
        Geography::States(states) => Area::States(states.clone()),
        Geography::County { fips, .. } => Area::County(fips.clone()),
    }
}
