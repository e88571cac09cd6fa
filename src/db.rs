//! HealthSim's data: [`Db`], a cheap handle whose typed methods are the operations the
//! tools make in HealthSim's terms (list, load, save, add, delete, summary, reference
//! data, providers, user SQL). It finds the file's layout (ours or the Python tooling's)
//! and writes the SQL of each operation; the engine (`crate::engine`) runs it: reads on
//! the pooled read-only instance, every mutation through the write dispatcher, or on a
//! database on a server. Nothing above this layer sees DuckDB.

mod layout;
mod migrate;
mod providers;
mod reads;
mod reference;
mod remote;
mod scenarios;
mod schema;
mod summary;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

pub use crate::engine::{DbError, QueryError, QueryResult, Sql, library_version as engine_version};
pub use layout::{Detected, Family, Layout, detect};
pub use migrate::{Converted, convert_file};
pub use providers::{
    ProviderKind, ProviderResult, ProviderSearch, TAXONOMIES, Taxonomy, specialty_keywords, specialty_prefixes,
};
pub use reference::{Area, ReferenceResult, ReferenceTable, State, TableInventory, parse_state, states};
pub use scenarios::{
    AddOutcome, AddRequest, AddTarget, Execution, ListFilter, More, Progress, Removed, Resolution, SaveOutcome,
    SaveRequest, ScenarioListing, ScenarioRow,
};
pub use schema::OUR_LABEL;
pub use summary::summarize;

use crate::engine::{Access, Committed, query};
use reads::{LayoutMemo, ListingMemo, known_layout};

/// What [`Db::open`] needs: the engine's settings and whether writes are refused; `config`
/// builds it from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub engine: crate::engine::Settings,
    /// The server never opens the file read-write (`--read-only`).
    pub read_only: bool,
}

/// Handle to the database; clone freely.
#[derive(Clone)]
pub struct Db {
    access: Access,
    /// `Some(reason)` when writes are refused (read-only mode, unsupported layout).
    writes_disabled: Arc<RwLock<Option<String>>>,
    /// Becomes true once the startup layout preparation is over; operations wait for it.
    ready: tokio::sync::watch::Receiver<bool>,
    /// Recent scenario listings of the open read instance.
    listings: Arc<std::sync::Mutex<ListingMemo>>,
    /// The layout the read instances and writes found, and the catalog text it was found
    /// from (see `reads.rs::known_layout`).
    layout: Arc<std::sync::Mutex<LayoutMemo>>,
    /// For a database on a server (`--db quack:...`): the connection once made, or why it
    /// could not be, and the server's layout (see `remote.rs`).
    remote: Option<Arc<remote::Server>>,
}

/// A scenario as `healthsim_load_scenario` reads it.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    pub scenario: ScenarioRow,
    pub tags: Vec<String>,
    /// Type key as saved → entities (their stored JSON text) in submission order; `None`
    /// when not requested.
    pub entities: Option<BTreeMap<String, Vec<String>>>,
    pub entity_count: u64,
}

/// The parts of a scenario summary.
#[derive(Debug, Clone)]
pub struct Summary {
    pub scenario: ScenarioRow,
    pub entity_counts: Map<String, Value>,
    pub statistics: Map<String, Value>,
    pub samples: Map<String, Value>,
    /// Sorted ascending.
    pub tags: Vec<String>,
}

impl Db {
    /// Opens the database per `config` and returns at once; the layout is prepared in the
    /// background (bootstrap a new file, migrate an old layout, or, for a layout we do not
    /// understand, serve reads only), so a client's `initialize` and `tools/list` never
    /// wait for the file, even while another process holds it. Every operation waits for
    /// that preparation first. Waiting for the write lock is bounded by the write timeout;
    /// if it times out the server still serves and the first write migrates.
    pub async fn open(settings: impl Into<Settings>) -> anyhow::Result<Db> {
        let Settings { engine, read_only } = settings.into();
        let path = engine.file.path.clone();
        let mut file = engine.file.clone();
        if engine.remote.is_none() && file.dialect.is_empty() {
            file.dialect = tokio::task::block_in_place(|| engine.extensions.dialect());
        }
        let access = Access::new(file);
        let (prepared, ready) = tokio::sync::watch::channel(false);
        let db = Db {
            access,
            writes_disabled: Arc::new(RwLock::new(None)),
            ready,
            listings: Arc::default(),
            layout: Arc::default(),
            remote: engine.remote.as_ref().map(|_| Arc::default()),
        };
        if read_only {
            db.disable_writes(format!(
                "server is read-only (--read-only); restart it without --read-only to save or delete scenarios in {}",
                path.display()
            ));
            if engine.remote.is_none() {
                let _ = prepared.send(true);
                return Ok(db);
            }
        }
        let preparing = db.clone();
        let remote = engine.remote.clone().map(|r| (r, engine.extensions.clone(), engine.file.write_timeout));
        tokio::spawn(async move {
            match remote {
                Some((remote, extensions, timeout)) => preparing.connect_remote(remote, extensions, timeout).await,
                None => preparing.prepare_layout(&path).await,
            }
            let _ = prepared.send(true);
        });
        Ok(db)
    }

    /// The startup preparation itself; it uses `self.access` directly (the other methods
    /// wait for it through `reader`). A new file gets our layout; a file in one of the
    /// tooling's layouts is served as it is (nothing to prepare).
    async fn prepare_layout(&self, path: &std::path::Path) {
        let detected = if path.exists() {
            match self.access.read(|conn| layout::detect(&Sql::local(conn.conn()))).await {
                Ok(detected) => detected,
                Err(err) => {
                    tracing::warn!("cannot inspect the database layout yet: {err}");
                    return;
                }
            }
        } else {
            Detected::Empty
        };
        match detected {
            Detected::Known(layout) if layout.family != Family::Ours => {
                tracing::info!(path = %path.display(), layout = %layout.description, "serving the file in its own layout");
            }
            Detected::Unknown(reason) => tracing::warn!("scenario tools will refuse this file: {reason}"),
            Detected::Known(layout) if layout.complete() => {
                tracing::info!(path = %path.display(), "database layout is current");
            }
            Detected::Empty | Detected::Known(_) => {
                match self.access.write(|conn| schema::prepare_ours(&Sql::local(conn))).await {
                    Ok(steps) if steps.is_empty() => {
                        tracing::info!(path = %path.display(), "database layout is current")
                    }
                    Ok(steps) => tracing::info!(?steps, "database layout prepared"),
                    Err(err) => tracing::warn!("cannot prepare the database layout yet ({err}); the first write will"),
                }
            }
        }
    }

    /// The access layer, once the startup preparation of the layout has finished (or
    /// given up): every operation goes through here (or through [`writer`](Self::writer)).
    async fn reader(&self) -> &Access {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|done| *done).await;
        &self.access
    }

    /// The access layer for a write: after the startup preparation, if writes are enabled.
    async fn writer(&self) -> Result<&Access, DbError> {
        let access = self.reader().await;
        self.check_writable()?;
        Ok(access)
    }

    /// Refuses what works on a local file only.
    /// Whether the database is on a server (Quack, DuckLake, MotherDuck) rather than a file.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    fn local_only(&self, what: &str) -> Result<(), DbError> {
        match &self.remote {
            Some(_) => Err(DbError::Other(anyhow::anyhow!(
                "{what} works on a local database file; run it with --db PATH and copy the tables to the server"
            ))),
            None => Ok(()),
        }
    }

    fn disable_writes(&self, reason: String) {
        *self.writes_disabled.write().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }

    fn check_writable(&self) -> Result<(), DbError> {
        match self.writes_disabled.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(reason) => Err(DbError::ReadOnly(reason.clone())),
            None => Ok(()),
        }
    }

    /// Whether write tools work; `Err` carries the reason.
    pub async fn writes_enabled(&self) -> Result<(), String> {
        self.writer().await.map(|_| ()).map_err(|e| e.to_string())
    }

    pub async fn load_scenario(
        &self,
        input: String,
        include_entities: bool,
    ) -> Result<Option<LoadedScenario>, DbError> {
        self.scenario_read(move |conn, layout| {
            let Some(layout) = layout else { return Ok(None) };
            let Some(scenario) = scenarios::resolve(conn, layout, &input, Resolution::NameOrId)? else {
                return Ok(None);
            };
            let tags = scenarios::tags(conn, layout, &scenario.scenario_id)?;
            let (entities, entity_count) = if include_entities {
                let entities = scenarios::entities(conn, layout, &scenario.scenario_id)?;
                let count = entities.values().map(|v| v.len() as u64).sum();
                (Some(entities), count)
            } else {
                let counts = scenarios::entity_counts(conn, layout, &scenario.scenario_id)?;
                (None, counts.iter().map(|(_, n)| n).sum())
            };
            Ok(Some(LoadedScenario { scenario, tags, entities, entity_count }))
        })
        .await
    }

    /// A page of scenario names and descriptions starting with `prefix` (case-insensitive),
    /// by name, and how many match in all (for resource listings and completion).
    pub async fn scenario_names(
        &self,
        prefix: String,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<scenarios::NameAndDescription>, u64), DbError> {
        self.scenario_read(move |conn, layout| match layout {
            Some(layout) => scenarios::names(conn, layout, &prefix, limit, offset),
            None => Ok((Vec::new(), 0)),
        })
        .await
    }

    /// The summary of a scenario, with samples reduced until it fits the size budget.
    pub async fn summary(
        &self,
        input: String,
        include_samples: bool,
        per_type: usize,
    ) -> Result<Option<Summary>, DbError> {
        self.scenario_read(move |conn, layout| match layout {
            Some(layout) => summary::summarize(conn, layout, &input, include_samples, per_type),
            None => Ok(None),
        })
        .await
    }

    /// Runs user SQL on the read path; the outer error is infrastructure (busy, timeout,
    /// cancelled), the inner one is about the SQL itself.
    pub async fn query(
        &self,
        sql: String,
        limit: usize,
        max_chars: usize,
        cancel: CancellationToken,
    ) -> Result<Result<QueryResult, QueryError>, DbError> {
        if let Some(remote) = self.remote_access().await {
            return Ok(remote?.query(sql, limit, max_chars).await);
        }
        self.reader()
            .await
            .read_cancellable(cancel, move |conn| match query::run(conn, &sql, limit, max_chars) {
                // An interrupt is the timeout or a cancellation, not a problem with the SQL:
                // the access layer names which.
                Err(QueryError::Failed(message)) if message.contains("INTERRUPT Error") => {
                    Err(anyhow::anyhow!(message))
                }
                outcome => Ok(outcome),
            })
            .await
    }

    pub async fn query_reference(
        &self,
        table: ReferenceTable,
        state: Option<State>,
        county: Option<String>,
        limit: u32,
    ) -> Result<Option<ReferenceResult>, DbError> {
        self.plain_read(move |conn| reference::query(conn, table, state, county.as_deref(), limit)).await
    }

    /// Searches `network.providers`; `Ok(None)` when the database has no such table.
    pub async fn search_providers(&self, search: ProviderSearch) -> Result<Option<ProviderResult>, DbError> {
        self.plain_read(move |conn| providers::search(conn, &search)).await
    }

    /// The shares of people under 18 and 65 or over in `area` (SVI); `None` without
    /// the reference data.
    pub async fn svi_age_shares(&self, area: Area) -> Result<Option<(f64, f64)>, DbError> {
        self.plain_read(move |conn| reference::svi_age_shares(conn, &area)).await
    }

    /// PLACES prevalences (0..1) of `columns` in `area`; empty without the reference data.
    pub async fn places_prevalence(
        &self,
        area: Area,
        columns: Vec<&'static str>,
    ) -> Result<Vec<(String, f64)>, DbError> {
        self.plain_read(move |conn| reference::places_prevalence(conn, &area, &columns)).await
    }

    pub async fn tables(&self) -> Result<TableInventory, DbError> {
        self.plain_read(reference::inventory).await
    }

    /// A write of the scenario aggregate: `work` runs in one transaction in the file's
    /// layout (prepared first, see [`layout_for_write`]); `check` says, after a commit that
    /// reported an error, whether the file holds the write (see `Access::write_checked`).
    async fn scenario_write<T, F, C>(&self, work: F, check: C) -> Result<Committed<T>, DbError>
    where
        T: Send + 'static,
        F: FnMut(&Sql<'_>, &Layout) -> anyhow::Result<T> + Send + 'static,
        C: FnOnce(&Sql<'_>, &T) -> anyhow::Result<bool> + Send + 'static,
    {
        if let Some(remote) = self.remote_access().await {
            self.check_writable()?;
            let value = self.remote_scenario_write(&remote?, work).await?;
            return Ok(Committed { value, disk_warning: None });
        }
        let mut work = work;
        let layouts = Arc::clone(&self.layout);
        let work = move |conn: &duckdb::Connection| {
            let conn = &Sql::local(conn);
            work(conn, &*layout_for_write(conn, Some(&layouts))?)
        };
        let check = move |conn: &duckdb::Connection, value: &T| check(&Sql::local(conn), value);
        let committed = self.writer().await?.write_checked(work, check).await?;
        self.warm_up().await;
        Ok(committed)
    }

    /// Finds the layout of the read instance the write reopened (see
    /// `Access::reopen_after_write`) before the answer goes to the client, so the read a
    /// client makes next neither waits for it nor competes with it (on an unchanged
    /// catalog this is one catalog query: the layout carries over, see `known_layout`).
    async fn warm_up(&self) {
        let layouts = Arc::clone(&self.layout);
        if let Some(Err(err)) = self.access.warm(move |conn| known_layout(&layouts, conn)).await {
            tracing::debug!("no layout for the reopened read instance: {err:#}");
        }
    }

    /// Saves a scenario in one transaction (migrating the layout first if needed).
    pub async fn save(&self, request: SaveRequest) -> Result<SaveOutcome, DbError> {
        self.save_when_ready(move || Some(request)).await
    }

    /// Like [`save`](Self::save), for a request still being prepared: the write starts at
    /// once (drain reads, open the file read-write, check the layout) and then calls
    /// `request`, which blocks until the request is ready, so preparing it and opening the
    /// file overlap. `None` (the preparation failed) rolls back: nothing is written.
    pub async fn save_when_ready(
        &self,
        request: impl FnOnce() -> Option<SaveRequest> + Send + 'static,
    ) -> Result<SaveOutcome, DbError> {
        let committed = self
            .scenario_write(
                {
                    // Prepared once; a write run again (a conflict on a server) saves it again.
                    let (mut request, mut prepared) = (Some(request), None);
                    move |conn, layout| {
                        if prepared.is_none() {
                            let request = request.take().expect("prepared on the first run");
                            prepared = Some(request().context("the save could not be prepared; nothing was written")?);
                        }
                        scenarios::save(conn, layout, prepared.as_mut().expect("prepared above"))
                    }
                },
                |conn, outcome| match outcome {
                    SaveOutcome::Saved { scenario_id, updated_at, .. } => {
                        holds_scenario(conn, scenario_id, Some(updated_at))
                    }
                    SaveOutcome::NameTaken => Ok(false),
                },
            )
            .await?;
        let Committed { mut value, disk_warning } = committed;
        if let SaveOutcome::Saved { warnings, .. } = &mut value {
            warnings.extend(disk_warning);
        }
        Ok(value)
    }

    /// Adds entities to a scenario in one transaction (see `scenarios::add`), with the same
    /// guarantees as a save: one write at a time, lock waits, a failed commit checked.
    pub async fn add_entities(&self, request: AddRequest) -> Result<AddOutcome, DbError> {
        let committed = self
            .scenario_write(
                {
                    let mut request = request;
                    move |conn, layout| scenarios::add(conn, layout, &mut request)
                },
                |conn, outcome| match outcome {
                    AddOutcome::Added { scenario_id, updated_at, .. } => {
                        holds_scenario(conn, scenario_id, Some(updated_at))
                    }
                    AddOutcome::NotFound(_) => Ok(false),
                },
            )
            .await?;
        let Committed { mut value, disk_warning } = committed;
        if let AddOutcome::Added { warnings, .. } = &mut value {
            warnings.extend(disk_warning);
        }
        Ok(value)
    }

    /// Deletes a scenario in one transaction; `None` when nothing matches.
    pub async fn delete(&self, input: String) -> Result<Option<(ScenarioRow, Removed)>, DbError> {
        let committed = self
            .scenario_write(
                move |conn, layout| scenarios::delete(conn, layout, &input),
                |conn, deleted| match deleted {
                    Some((scenario, _)) => holds_scenario(conn, &scenario.scenario_id, None).map(|held| !held),
                    None => Ok(false),
                },
            )
            .await?;
        Ok(committed.value.map(|(scenario, mut removed)| {
            removed.warning = committed.disk_warning;
            (scenario, removed)
        }))
    }

    /// Runs `work` as one write of tables beside the scenario aggregate (the reference
    /// data and provider registry `demo` makes, see `crate::synth`): one transaction
    /// through the write dispatcher, on a local file only (`what` names the command in
    /// the refusal).
    pub async fn write_tables<T, F>(&self, what: &str, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Sql<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        self.local_only(what)?;
        self.writer().await?.write(move |conn| work(&Sql::local(conn))).await
    }

    /// Finishes a write in progress (up to `grace`) and closes the file.
    pub async fn shutdown(&self, grace: Duration) {
        self.access.shutdown(grace).await;
    }

    /// Records client activity (see [`Access::note_activity`]).
    pub fn note_activity(&self) {
        self.access.note_activity();
    }

    /// Whether this process has the file open right now.
    pub fn is_open(&self) -> bool {
        self.access.is_open()
    }
}

/// Whether the file holds scenario `scenario_id` (last written at `updated_at`, when given):
/// how a write whose commit reported an error finds out whether it happened.
fn holds_scenario(conn: &Sql<'_>, scenario_id: &str, updated_at: Option<&String>) -> anyhow::Result<bool> {
    let Detected::Known(layout) = layout::detect(conn)? else { return Ok(false) };
    let n: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM {} WHERE {} = ? AND (CAST(? AS VARCHAR) IS NULL OR updated_at = CAST(? AS TIMESTAMP))",
            schema::quote(layout.scenarios),
            layout.key
        ),
        duckdb::params![scenario_id, updated_at, updated_at],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// The layout a write works in, prepared: a new file (or one of ours missing something)
/// gets our layout; a file of the tooling's is written in its own terms, after finishing
/// any deletion left half done; an unknown one is refused in one line. With `memo` (a
/// file), the layout found before carries over while the catalog text is unchanged.
fn layout_for_write(conn: &Sql<'_>, memo: Option<&std::sync::Mutex<LayoutMemo>>) -> anyhow::Result<Arc<Layout>> {
    let started = std::time::Instant::now();
    let detected = match memo {
        Some(memo) => reads::detect_remembered(memo, conn)?,
        None => layout::detect(conn)?,
    };
    tracing::debug!(detect_ms = started.elapsed().as_secs_f64() * 1e3, "write layout found");
    let layout = match detected {
        Detected::Unknown(reason) => anyhow::bail!("{reason}"),
        Detected::Known(layout) if layout.family != Family::Ours => {
            if let Some(reason) = &layout.read_only_reason {
                anyhow::bail!("{reason}");
            }
            scenarios::finish_deletions(conn, &layout)?;
            return Ok(layout);
        }
        Detected::Known(layout) => {
            if layout.complete() || schema::prepare_ours(conn)?.is_empty() {
                return Ok(layout);
            }
            layout::detect(conn)?
        }
        Detected::Empty => {
            schema::prepare_ours(conn)?;
            layout::detect(conn)?
        }
    };
    match layout {
        Detected::Known(layout) => Ok(layout),
        _ => anyhow::bail!("the healthsim-mcp layout could not be prepared in this file"),
    }
}

#[cfg(test)]
mod tests;
