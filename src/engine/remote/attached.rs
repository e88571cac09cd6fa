//! Quack reads in one round trip: the server's database ATTACHed read-only in the local
//! engine, so a read's statements run here and only their scans go to the server, each in
//! one round trip on a session held open, instead of each statement opening a session of its
//! own through `quack_query`.
//!
//! DuckDB 1.5.5 attaches a Quack database only when none of its columns has a function
//! default (`nextval`, `current_timestamp`): otherwise the ATTACH returns without error and
//! the catalog is missing. Our layout on a Quack server has none; the tooling's layouts and
//! ours made by an earlier build have them, and their reads stay on `quack_query` (checked
//! again now and then: a migrated database becomes attachable). An attached catalog sees
//! the rows other sessions commit, each statement the latest (as `quack_query` does), but not
//! tables created after the ATTACH: it is used only for reads of a layout found complete
//! before, and given up when the server is lost (the next read attaches again).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use duckdb::Connection;

use super::super::sql::Server;

/// The attached catalog's name in the local engine.
const ATTACHED: &str = "healthsim_quack";

/// How long a database found unattachable is read through `quack_query` before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(300);

/// Whether reads go through the attached catalog.
#[derive(Default)]
pub(super) struct QuackReads {
    state: Mutex<State>,
}

#[derive(Default)]
enum State {
    #[default]
    NotYet,
    Attached,
    /// Unattachable when last tried (function defaults), at that moment.
    Refused(Instant),
}

impl QuackReads {
    /// A connection of the local engine whose default catalog is the attached database,
    /// attaching it first; `None` when reads go through `quack_query` (the database cannot
    /// be attached, or the server could not be reached now: that read says so).
    pub(super) fn connection(&self, engine: &Connection, server: &Server) -> Option<Connection> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            State::Attached => {}
            State::Refused(at) if at.elapsed() < RETRY_AFTER => return None,
            State::NotYet | State::Refused(_) => match attach(engine, server) {
                Ok(true) => {
                    tracing::debug!(server = server.uri, "reads go through the attached database");
                    *state = State::Attached;
                }
                Ok(false) => {
                    tracing::info!(
                        server = server.uri,
                        "the database has function defaults (an older layout): reads go through quack_query"
                    );
                    *state = State::Refused(Instant::now());
                    return None;
                }
                Err(err) => {
                    tracing::debug!(server = server.uri, "cannot attach the database for reads: {err:#}");
                    return None;
                }
            },
        }
        drop(state);
        let conn = engine.try_clone().ok()?;
        conn.execute_batch(&format!("USE {ATTACHED}")).ok()?;
        Some(conn)
    }

    /// Gives the attached catalog up (the server was lost): the next read attaches again.
    pub(super) fn forget(&self, engine: &Connection) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, State::Attached) {
            let _ = engine.execute_batch(&format!("DETACH DATABASE IF EXISTS {ATTACHED}"));
            *state = State::NotYet;
        }
    }
}

/// Attaches the server's database read-only; `Ok(false)` when DuckDB could not make the
/// catalog (a function default: an error naming the missing catalog, or none and no catalog). (Its tables are looked up as statements name them: a
/// Quack catalog lists none in `duckdb_tables()`.)
fn attach(engine: &Connection, server: &Server) -> anyhow::Result<bool> {
    let quoted = |text: &str| format!("'{}'", text.replace('\'', "''"));
    engine
        .execute_batch(&format!(
            "DETACH DATABASE IF EXISTS {ATTACHED}; \
             CREATE OR REPLACE TEMPORARY SECRET healthsim_quack_token (TYPE quack, TOKEN {});",
            quoted(&server.token)
        ))
        .context("cannot keep the Quack token")?;
    if let Err(err) = engine.execute_batch(&format!("ATTACH {} AS {ATTACHED} (READ_ONLY)", quoted(&server.uri))) {
        // What a function default makes of the ATTACH here (Python's returns without error).
        if err.to_string().contains(&format!("Catalog \"{ATTACHED}\" does not exist")) {
            return Ok(false);
        }
        return Err(anyhow::Error::from(err).context("cannot attach the database"));
    }
    let present: bool = engine
        .query_row(
            &format!("SELECT count(*) > 0 FROM duckdb_databases() WHERE database_name = '{ATTACHED}'"),
            [],
            |r| r.get(0),
        )
        .context("cannot list the attached databases")?;
    Ok(present)
}
