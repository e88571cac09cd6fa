//! `healthsim_save_scenario`: argument checks, mapping the entities while the write opens
//! the file, progress notifications, and the answer (or the log line, when the client
//! cancelled the call).

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use serde_json::{Map, Value};

use super::super::{ArgError, ArgReader, Parameters, db_failure, describe, failure, success};
use super::{SaveArgs, SaveOutput};
use crate::db::{SaveOutcome, SaveRequest};
use crate::mcp::server::HealthSim;
use crate::model::MAX_WARNINGS;

impl HealthSim {
    pub(super) async fn save(&self, args: Parameters<SaveArgs>, context: RequestContext<RoleServer>) -> CallToolResult {
        if let Err(reason) = self.db.writes_enabled().await {
            return failure(reason, Map::new());
        }
        let max_entities = self.limits.max_save_entities;
        let read = || -> Result<SaveArgs, ArgError> {
            let mut a = ArgReader::new::<SaveArgs>(args.raw)?;
            Ok(SaveArgs {
                name: a.string("name", 1, 200)?,
                entities: check_entities(a.value("entities"), max_entities)?,
                description: a.optional_string("description", 10_000)?,
                tags: Some(check_tags(a.value("tags"))?),
                overwrite: a.boolean("overwrite", false)?,
            })
        };
        let SaveArgs { name, entities, description, tags, overwrite } = match read() {
            Ok(args) => args,
            Err(err) => return err.into(),
        };
        let tags = tags.unwrap_or_default();
        // A client that cancels (or leaves) drops this call, not the write it started: say so.
        let mut unanswered = Unanswered { name: name.clone(), armed: true };
        // Mapping the entities and opening the file for writing run at the same time: the
        // write starts now and waits for the request inside its transaction. (This keeps
        // the file locked for the mapping time at most, a small part of any save.)
        let (ready, request) = std::sync::mpsc::sync_channel::<SaveRequest>(1);
        let saving = self.db.save_when_ready(move || request.recv().ok());
        let planning = async {
            let started = std::time::Instant::now();
            let planned = tokio::task::spawn_blocking(move || super::plan(entities)).await;
            tracing::debug!(plan_ms = started.elapsed().as_secs_f64() * 1e3, "save planned");
            // On failure `ready` is dropped here, and the write rolls back.
            let plan = planned.ok()?;
            let entity_counts: Map<String, Value> =
                plan.entity_counts.iter().map(|(t, n)| (t.clone(), Value::from(*n))).collect();
            let canonical_rows: Map<String, Value> =
                plan.canonical_counts().into_iter().map(|(t, n)| (t.to_owned(), Value::from(n))).collect();
            let total_entities = plan.total_entities();
            let warnings = plan.warnings.clone();
            let canonical_total: u64 = canonical_rows.values().filter_map(Value::as_u64).sum();
            let (progress, forwarder) = match progress_reporter(&context, total_entities as u64 + canonical_total) {
                Some((progress, forwarder)) => (Some(progress), Some(forwarder)),
                None => (None, None),
            };
            let request = SaveRequest {
                name: name.clone(),
                description,
                tags,
                overwrite,
                plan,
                progress,
                more: None,
                execution: None,
            };
            ready.send(request).ok()?;
            Some((entity_counts, canonical_rows, total_entities, warnings, forwarder))
        };
        let (outcome, planned) = tokio::join!(saving, planning);
        // The write has ended (committed or not); its outcome is answered below, unless the
        // client cancelled the call: a write once started is not stopped (all or nothing),
        // and rmcp sends no answer to a cancelled request, so the log says what happened.
        unanswered.armed = false;
        if context.ct.is_cancelled() {
            let saved = matches!(outcome, Ok(SaveOutcome::Saved { .. }));
            tracing::warn!(%name, saved, "a save was cancelled by the client; it ran to its end (all or nothing) and gets no answer");
        }
        let Some((entity_counts, canonical_rows, total_entities, warnings, forwarder)) = planned else {
            // The write ended first (busy, shutting down...): its error is the one to report.
            return match outcome {
                Err(err) => db_failure("healthsim_save_scenario", err),
                Ok(_) => failure("internal error while preparing the save; nothing was written", Map::new()),
            };
        };
        // The request (and with it the progress sender) is gone: deliver the remaining
        // notifications before the response, so the client sees them all.
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
        match outcome {
            Ok(SaveOutcome::Saved { scenario_id, warnings: kept_as_json, skipped, .. }) => {
                tracing::info!(%name, %scenario_id, total_entities, "scenario saved");
                // Rows the file's layout could not hold are reported first, and not counted.
                let canonical_rows = without_skipped(canonical_rows, skipped);
                let warnings = cap_warnings(&[kept_as_json, warnings].concat());
                success(
                    &SaveOutput {
                        status: "saved".into(),
                        scenario_id,
                        name,
                        entity_counts,
                        total_entities,
                        canonical_rows,
                        warnings,
                    },
                    true,
                )
            }
            Ok(SaveOutcome::NameTaken) => {
                failure(format!("scenario '{name}' already exists; pass overwrite=true to replace it"), Map::new())
            }
            Err(err) => db_failure("healthsim_save_scenario", err),
        }
    }
}

/// Canonical row counts minus the rows the file's layout could not hold.
pub(super) fn without_skipped(
    mut canonical_rows: Map<String, Value>,
    skipped: std::collections::BTreeMap<&'static str, usize>,
) -> Map<String, Value> {
    for (table, n) in skipped {
        let left = canonical_rows.get(table).and_then(Value::as_u64).unwrap_or(0).saturating_sub(n as u64);
        if left == 0 {
            canonical_rows.remove(table);
        } else {
            canonical_rows.insert(table.to_owned(), Value::from(left));
        }
    }
    canonical_rows
}

/// Entity types one save may name: the answer lists a count per type, and must stay small.
pub(super) const MAX_ENTITY_TYPES: usize = 1_000;

/// Checks the shape of `entities`: an object of non-empty keys to arrays of objects,
/// at most `max` entities in all.
pub(super) fn check_entities(value: Option<Value>, max: usize) -> Result<Map<String, Value>, ArgError> {
    let Some(value) = value else {
        return Err(ArgError(
            "entities is required: an object mapping entity type to an array of objects (may be {})".into(),
        ));
    };
    let Value::Object(map) = value else {
        return Err(ArgError(format!(
            "entities must be an object mapping entity type to an array of objects (got {})",
            describe(&value)
        )));
    };
    if map.len() > MAX_ENTITY_TYPES {
        return Err(ArgError(format!(
            "entities must hold at most {MAX_ENTITY_TYPES} entity types in one save (got {}); HealthSim has 20 canonical types: \
             group entities by type, or keep a variable kind in a field of one type",
            map.len()
        )));
    }
    let mut total = 0usize;
    let mut checked = Map::new();
    for (key, items) in map {
        let type_key = key.trim().to_owned();
        if type_key.is_empty() {
            return Err(ArgError("entities has an empty entity-type key; name every type, e.g. \"patients\"".into()));
        }
        let Value::Array(list) = &items else {
            return Err(ArgError(format!(
                "entities['{type_key}'] must be an array of objects (got {})",
                describe(&items)
            )));
        };
        if let Some((index, bad)) = list.iter().enumerate().find(|(_, v)| !v.is_object()) {
            return Err(ArgError(format!("entities['{type_key}'][{index}] must be an object (got {})", describe(bad))));
        }
        total += list.len();
        if checked.insert(type_key.clone(), items).is_some() {
            return Err(ArgError(format!("entities has the type '{type_key}' twice (after trimming); merge them")));
        }
    }
    if total > max {
        return Err(ArgError(format!(
            "entities must hold at most {max} entities in one save (got {total}); split the scenario or raise --max-save-entities"
        )));
    }
    Ok(checked)
}

/// Trims, bounds and de-duplicates tags (case-insensitive, first spelling kept).
pub(super) fn check_tags(value: Option<Value>) -> Result<Vec<String>, ArgError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let Value::Array(items) = value else {
        return Err(ArgError(format!("tags must be an array of strings (got {})", describe(&value))));
    };
    if items.len() > 50 {
        return Err(ArgError(format!("tags must have at most 50 entries (got {})", items.len())));
    }
    let mut tags: Vec<String> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Value::String(text) = item else {
            return Err(ArgError(format!("tags[{index}] must be a string (got {})", describe(item))));
        };
        let tag = text.trim();
        let length = tag.chars().count();
        if !(1..=100).contains(&length) {
            return Err(ArgError(format!("tags[{index}] must be between 1 and 100 characters (got {length})")));
        }
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(tag) || t.to_lowercase() == tag.to_lowercase()) {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

/// The first warnings, plus one entry counting the rest; `None` when there are none.
pub(super) fn cap_warnings(warnings: &[String]) -> Option<Vec<String>> {
    if warnings.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = warnings.iter().take(MAX_WARNINGS).cloned().collect();
    if warnings.len() > MAX_WARNINGS {
        shown.push(format!("... and {} more warnings", warnings.len() - MAX_WARNINGS));
    }
    Some(shown)
}

/// A callback that sends MCP progress notifications (about every 10%) when the client
/// asked for them with a progress token, and the task forwarding them (it ends when the
/// callback is dropped and every notification is sent).
pub(super) fn progress_reporter(
    context: &RequestContext<RoleServer>,
    total: u64,
) -> Option<(crate::db::Progress, tokio::task::JoinHandle<()>)> {
    let (sender, forwarder) = progress_channel(context, total)?;
    let progress: crate::db::Progress = Box::new(move |done, message| {
        let _ = sender.send((done, message.to_owned()));
    });
    Some((progress, forwarder))
}

/// Steps done and what is being done, for [`progress_channel`].
pub(super) type ProgressSender = tokio::sync::mpsc::UnboundedSender<(u64, String)>;

/// Progress notifications of `total` steps, when the client asked for them: what is sent
/// into the channel is forwarded to the client in order.
pub(super) fn progress_channel(
    context: &RequestContext<RoleServer>,
    total: u64,
) -> Option<(ProgressSender, tokio::task::JoinHandle<()>)> {
    let token = context.meta.get_progress_token()?;
    let peer = context.peer.clone();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(u64, String)>();
    let forwarder = tokio::spawn(async move {
        while let Some((done, message)) = receiver.recv().await {
            let param = ProgressNotificationParam::new(token.clone(), done as f64)
                .with_total(total as f64)
                .with_message(message);
            if peer.notify_progress(param).await.is_err() {
                break;
            }
        }
    });
    Some((sender, forwarder))
}

/// Logs a save whose call was dropped before it answered (the client cancelled it or went
/// away). The write it started is not stopped: it commits or rolls back on its own, all or
/// nothing, and the client learns which by listing scenarios.
struct Unanswered {
    name: String,
    armed: bool,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.armed {
            tracing::warn!(
                name = %self.name,
                "a save was cancelled by the client before its answer; the write completes or rolls back on its own \
                 (all or nothing): list scenarios to see whether it landed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Tags are trimmed and de-duplicated case-insensitively, keeping order.
    #[test]
    fn tags_are_deduplicated() {
        let tags = check_tags(Some(json!([" Diabetes ", "diabetes", "Q3", "DIABETES"]))).unwrap();
        assert_eq!(tags, vec!["Diabetes".to_owned(), "Q3".to_owned()]);
        assert_eq!(
            check_tags(Some(json!(["  "]))).unwrap_err().0,
            "tags[0] must be between 1 and 100 characters (got 0)"
        );
        assert!(check_tags(Some(json!("x"))).is_err());
    }

    /// Entity payload shape errors name the exact place.
    #[test]
    fn entity_shape_errors() {
        assert_eq!(
            check_entities(Some(json!({"patients": [{}, 5]})), 10).unwrap_err().0,
            "entities['patients'][1] must be an object (got 5)"
        );
        assert!(check_entities(Some(json!({"patients": [{}, {}]})), 1).unwrap_err().0.contains("at most 1 entities"));
        assert!(check_entities(Some(json!({"": []})), 1).is_err());
        assert!(check_entities(Some(json!({})), 1).unwrap().is_empty());
    }

    /// Warnings are capped at 20 plus a count of the rest.
    #[test]
    fn warnings_are_capped() {
        let many: Vec<String> = (0..25).map(|i| format!("w{i}")).collect();
        let shown = cap_warnings(&many).unwrap();
        assert_eq!(shown.len(), 21);
        assert_eq!(shown[20], "... and 5 more warnings");
        assert!(cap_warnings(&[]).is_none());
    }
}
