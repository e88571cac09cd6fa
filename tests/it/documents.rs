//! HealthSim's own document shapes (`fixtures/healthsim_documents`: our values, the
//! structure of every JSON document HealthSim publishes: saved cohorts, skills, tutorials,
//! generators) saved as users save them, a folder at a time: the share of the entities of
//! canonical types that become rows, and of those rows, the share carrying their link and
//! their date. Printed per table.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::util::{Server, temp_db};

/// Resolves a manifest selector (`file:path`, see the manifest's `path_syntax`).
fn select(root: &Path, selector: &str) -> Vec<Value> {
    select_dated(root, selector).into_iter().map(|(value, _)| value).collect()
}

/// Whether an object holds a date of its own (a text value starting YYYY-MM-DD, or an
/// 8-digit YYYYMMDD under a date key).
fn has_date(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        o.iter().any(|(k, v)| {
            v.as_str().is_some_and(|t| {
                let b = t.as_bytes();
                (b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit))
                    || (k.to_ascii_lowercase().contains("date") && b.len() == 8 && b.iter().all(u8::is_ascii_digit))
            })
        })
    })
}

/// [`select`], with whether each selected object or one of the objects holding it has a
/// date (what a row of it can carry: its own or its parent's).
fn select_dated(root: &Path, selector: &str) -> Vec<(Value, bool)> {
    let (file, path) = selector.split_once(':').expect("file:path");
    let document: Value = serde_json::from_str(&std::fs::read_to_string(root.join(file)).unwrap()).unwrap();
    let mut current = vec![(document, false)];
    // Segments are separated by dots outside brackets (`entry[?resource.resourceType=X]`).
    let mut segments = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                segments.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    segments.push(&path[start..]);
    for segment in segments.into_iter().filter(|s| !s.is_empty()) {
        let (key, rest) = match segment.find('[') {
            Some(at) => (&segment[..at], Some(&segment[at..])),
            None => (segment, None),
        };
        let mut next = Vec::new();
        for (value, dated) in current {
            let dated = dated || has_date(&value);
            let inner = if key.is_empty() { Some(value) } else { value.get(key).cloned() };
            let Some(inner) = inner else { continue };
            match rest {
                None => next.push((inner, dated)),
                Some(filter) => {
                    let items = inner.as_array().cloned().unwrap_or_default();
                    let condition = filter.trim_start_matches('[').trim_end_matches(']').strip_prefix('?');
                    for item in items {
                        let keep = match condition {
                            None => true,
                            Some(cond) => match cond.split_once('=') {
                                Some((k, v)) => dotted(&item, k).is_some_and(|x| x.as_str() == Some(v)),
                                None => dotted(&item, cond).is_some_and(|x| !x.is_null()),
                            },
                        };
                        if keep {
                            next.push((item, dated));
                        }
                    }
                }
            }
        }
        current = next;
    }
    current
        .into_iter()
        .map(|(value, dated)| {
            let dated = dated || has_date(&value);
            (value, dated)
        })
        .collect()
}

fn dotted<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, k| v.get(k))
}

/// Every save of the manifest lands; ≥ 95% of the canonical-typed entities become rows,
/// ≥ 90% of those rows carry their link, and ≥ 90% of the rows whose document holds their
/// date (on the entity or on an object holding it) carry it.
#[tokio::test(flavor = "multi_thread")]
async fn healthsim_document_shapes_become_linked_rows() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthsim_documents");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap()).unwrap();
    let mut objects: BTreeMap<String, u64> = BTreeMap::new();
    // Objects per table with a date on them or on an object holding them.
    let mut dated_objects: BTreeMap<String, u64> = BTreeMap::new();
    for save in manifest["saves"].as_array().unwrap() {
        let name = save["name"].as_str().unwrap();
        let mut entities = serde_json::Map::new();
        for (type_key, selectors) in save["assemble"].as_object().unwrap() {
            let items: Vec<Value> =
                selectors.as_array().unwrap().iter().flat_map(|s| select(&root, s.as_str().unwrap())).collect();
            assert!(!items.is_empty(), "{name}: {type_key} selects nothing");
            entities.insert(type_key.clone(), Value::Array(items));
        }
        let saved = server.ok("healthsim_save_scenario", json!({"name": name, "entities": entities})).await;
        assert!(saved["scenario_id"].is_string(), "{name}: {saved}");
        if std::env::var_os("HEALTHSIM_DOCUMENTS_DEBUG").is_some() {
            for (table, n) in save["objects_per_table"].as_object().unwrap() {
                let made = saved["canonical_rows"][table].as_u64().unwrap_or(0);
                if made < n.as_u64().unwrap() {
                    eprintln!("  {name}: {table} {made} rows of {n}; warnings {}", saved["warnings"]);
                }
            }
        }
        for (table, n) in save["objects_per_table"].as_object().unwrap() {
            *objects.entry(table.clone()).or_default() += n.as_u64().unwrap();
        }
        for (table, selectors) in save["rows"].as_object().unwrap() {
            let dated = selectors
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| select_dated(&root, s.as_str().unwrap()))
                .filter(|(_, dated)| *dated)
                .count();
            *dated_objects.entry(table.clone()).or_default() += dated as u64;
        }
    }
    // The new tables are seen by the summary (samples) and by user SQL.
    let summary =
        server.ok("healthsim_get_summary", json!({"scenario_id_or_name": "patientsim_allergies_immunizations"})).await;
    for table in ["allergies", "immunizations", "procedures"] {
        assert!(summary["samples"].get(table).is_some_and(|s| !s.is_null()), "{table} sampled: {summary}");
    }
    let tables = server.ok("healthsim_tables", json!({})).await;
    let known: Vec<String> = tables.to_string().split('"').map(str::to_owned).collect();
    let (mut all_objects, mut all_rows, mut all_linked, mut all_dated, mut all_datable) = (0, 0, 0, 0, 0);
    for (table, expected) in &objects {
        if !known.contains(table) {
            eprintln!("{table}: {expected} objects, no canonical table");
            continue;
        }
        let spec = healthsim_mcp::model::table_for_entity_type(table).unwrap();
        let link = spec.link_column.unwrap_or(spec.id_column);
        let date = spec.date_column.unwrap_or(spec.id_column);
        let counted = server
            .ok(
                "healthsim_query",
                json!({"sql": format!(
                    "SELECT count(*) AS n, count({link}) AS linked, count({date}) AS dated FROM {table}"
                )}),
            )
            .await;
        if std::env::var_os("HEALTHSIM_DOCUMENTS_DEBUG").is_some() {
            let missing = server
                .ok(
                    "healthsim_query",
                    json!({"sql": format!(
                        "SELECT s.name, t.{} AS id, t.{link} AS link, t.{date} AS date FROM {table} t JOIN scenarios s USING (scenario_id) WHERE t.{link} IS NULL OR t.{date} IS NULL",
                        spec.id_column
                    ), "limit": 100}),
                )
                .await;
            for row in missing["rows"].as_array().unwrap() {
                eprintln!("  {table} missing: {row}");
            }
        }
        let rows = counted["rows"][0]["n"].as_u64().unwrap();
        let linked = counted["rows"][0]["linked"].as_u64().unwrap();
        let dated = counted["rows"][0]["dated"].as_u64().unwrap();
        // Tables without a link or date column count every row as carrying it.
        let datable = if spec.date_column.is_some() { dated_objects.get(table).copied().unwrap_or(0) } else { rows };
        eprintln!(
            "{table}: {rows} rows of {expected} entities; {linked} with {link}; {dated} with {date} (the documents date {datable})"
        );
        all_objects += expected;
        all_rows += rows.min(*expected);
        all_linked += linked.min(*expected);
        all_dated += dated.min(datable);
        all_datable += datable;
    }
    let share = |a: u64, b: u64| 100.0 * a as f64 / b.max(1) as f64;
    eprintln!(
        "all canonical types: {all_rows} rows of {all_objects} entities ({:.1}%); {all_linked} of those rows linked ({:.1}%); \
         {all_dated} of the {all_datable} whose document dates them dated ({:.1}%)",
        share(all_rows, all_objects),
        share(all_linked, all_rows),
        share(all_dated, all_datable)
    );
    assert!(all_rows * 100 >= all_objects * 95, "{all_rows} of {all_objects} entities became rows");
    assert!(all_linked * 100 >= all_rows * 90, "{all_linked} of {all_rows} rows carry their link");
    assert!(
        all_dated * 100 >= all_datable * 90,
        "{all_dated} of {all_datable} rows carry the date their document holds"
    );
}
