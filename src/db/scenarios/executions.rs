//! The run of a generated cohort, recorded where HealthSim's profile manager records its
//! runs: `profiles` and `profile_executions` beside `cohorts` (the tooling's 1.6 and 1.7
//! layouts). Written inside the save's transaction.

use anyhow::Context;
use duckdb::{OptionalExt, params};

use super::Execution;
use crate::db::layout::Layout;
use crate::engine::Sql;

/// A `profile_executions` row (and the `profiles` row it references) for a generated
/// cohort, in the tooling's layouts that have those tables next to `cohorts`; nothing in
/// others (ours has none).
pub(super) fn record(
    conn: &Sql<'_>,
    layout: &Layout,
    scenario_id: &str,
    execution: &Execution,
    entities: usize,
    now: &str,
) -> anyhow::Result<()> {
    let present: i64 = conn
        .query_row(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' \
             AND table_name IN ('profiles', 'profile_executions')",
            [],
            |r| r.get(0),
        )
        .context("cannot look for profile_executions")?;
    if present != 2 || layout.scenarios != "cohorts" {
        return Ok(());
    }
    let existing: Option<String> = conn
        .query_row(
            "SELECT id FROM profiles WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
            params![execution.profile_id, execution.profile_name, execution.profile_id],
            |r| r.get(0),
        )
        .optional()
        .context("cannot look up the profile")?;
    let profile_id = match existing {
        Some(id) => id,
        None => {
            conn.execute(
                "INSERT INTO profiles (id, name, profile_spec, product, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))",
                params![execution.profile_id, execution.profile_name, execution.spec, execution.products, now, now],
            )
            .context("cannot record the profile")?;
            execution.profile_id.clone()
        }
    };
    let seed = i32::try_from(execution.seed).ok();
    let duration = i32::try_from(execution.started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let metadata = serde_json::json!({"seed": execution.seed, "generated_by": "healthsim-mcp"}).to_string();
    conn.execute(
        "INSERT INTO profile_executions (profile_id, cohort_id, executed_at, seed, count, duration_ms, status, metadata) \
         VALUES (?, ?, CAST(? AS TIMESTAMP), ?, ?, ?, 'completed', ?)",
        params![profile_id, scenario_id, now, seed, i64::try_from(entities).unwrap_or(i64::MAX), duration, metadata],
    )
    .context("cannot record the profile execution")?;
    Ok(())
}
