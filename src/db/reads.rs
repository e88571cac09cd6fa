//! The read path of [`Db`], either strategy: a file's pooled read instance, with the
//! listing memo and the layout detected once per instance (both rest on invariant 8: the
//! file cannot change while our read instance is open), or a database on a server, read
//! afresh each time (`remote.rs`).

use std::sync::Arc;

use super::layout::{self, Detected, Layout};
use super::scenarios::{self, ListFilter, ScenarioListing};
use super::{Db, DbError, Sql};
use crate::engine;

/// Scenario listings computed on one read instance, by filter. The instance's file cannot
/// change while it is open (see [`engine::Instance::serial`]): our own writes replace the
/// instance, and other processes cannot take the write lock meanwhile. So a listing is
/// reused until the serial changes, and `healthsim_list_scenarios`, the call clients make
/// most, costs no query when nothing was written.
#[derive(Default)]
pub(super) struct ListingMemo {
    serial: u64,
    entries: Vec<(ListFilter, Vec<ScenarioListing>)>,
}

impl ListingMemo {
    /// Different filters kept per instance.
    const CAPACITY: usize = 16;

    fn get(&self, serial: u64, filter: &ListFilter) -> Option<Vec<ScenarioListing>> {
        if self.serial != serial {
            return None;
        }
        self.entries.iter().find(|(f, _)| f == filter).map(|(_, listing)| listing.clone())
    }

    fn put(&mut self, serial: u64, filter: ListFilter, listing: Vec<ScenarioListing>) {
        if self.serial != serial || self.entries.len() >= Self::CAPACITY {
            self.entries.clear();
            self.serial = serial;
        }
        self.entries.push((filter, listing));
    }
}

impl Db {
    pub async fn list_scenarios(&self, filter: ListFilter) -> Result<Vec<ScenarioListing>, DbError> {
        if let Some(remote) = self.remote_access().await {
            // Other servers write at any time: every listing asks the server.
            return self
                .remote_scenario_read(remote?, move |sql, layout| match layout {
                    Some(layout) => scenarios::list(sql, layout, &filter),
                    None => Ok(Vec::new()),
                })
                .await;
        }
        let memo = Arc::clone(&self.listings);
        let layouts = Arc::clone(&self.layout);
        self.reader()
            .await
            .read(move |conn| {
                let serial = conn.instance().serial();
                let lock = || memo.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(listing) = lock().get(serial, &filter) {
                    return Ok(listing);
                }
                let listing = match known_layout(&layouts, conn)? {
                    Some(layout) => scenarios::list(&Sql::local(conn.conn()), &layout, &filter)?,
                    None => Vec::new(),
                };
                lock().put(serial, filter, listing.clone());
                Ok(listing)
            })
            .await
    }

    /// Runs `work` on the read path with the database's layout (`None`: no scenario
    /// tables yet): the pooled read instance of the file, or a read on the server.
    pub(super) async fn scenario_read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Fn(&Sql<'_>, Option<&Layout>) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        if let Some(remote) = self.remote_access().await {
            return self.remote_scenario_read(remote?, work).await;
        }
        let layouts = Arc::clone(&self.layout);
        self.reader()
            .await
            .read(move |handle| {
                let layout = known_layout(&layouts, handle)?;
                work(&Sql::local(handle.conn()), layout.as_deref())
            })
            .await
    }

    /// Runs `work` on the read path (the file's read instance, or the server).
    pub(super) async fn plain_read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Fn(&Sql<'_>) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        match self.remote_access().await {
            Some(remote) => remote?.read(work).await,
            None => self.reader().await.read(move |handle| work(&Sql::local(handle.conn()))).await,
        }
    }
}

/// The layout detected on the read instances, and what it was detected from.
#[derive(Default)]
pub(super) struct LayoutMemo {
    /// The read instance it was last checked on ([`engine::Instance::serial`]).
    serial: u64,
    /// The file's catalog text when it was detected (see [`catalog_text`]).
    catalog: Option<String>,
    detected: Option<Detected>,
}

/// The layout of the file behind a read connection, detected once per read instance
/// (the file cannot change while the instance is open, invariant 8) and carried over to
/// the next instance when the file's catalog text is unchanged (a write of rows changes
/// none of what detection reads: our writes reopen the read instance, and this makes the
/// first read after a write ~5 ms cheaper); `None` for a file without scenario tables, an
/// error (one line) for scenario tables of an unknown shape.
pub(super) fn known_layout(
    memo: &std::sync::Mutex<LayoutMemo>,
    conn: &engine::InstanceConnection,
) -> anyhow::Result<Option<Arc<Layout>>> {
    let serial = conn.instance().serial();
    // Held while detecting: reads of a new instance wait for one detection instead of
    // each running their own.
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    let detected = match memo.detected.clone().filter(|_| memo.serial == serial) {
        Some(detected) => detected,
        None => memo.detect(&Sql::local(conn.conn()), serial)?,
    };
    drop(memo);
    match detected {
        Detected::Empty => Ok(None),
        Detected::Known(layout) => Ok(Some(layout)),
        Detected::Unknown(reason) => Err(anyhow::anyhow!(reason)),
    }
}

/// The layout of the file behind `sql` (a write's connection), through the memo; the
/// next read instance checks the catalog text again (serial 0 is no instance's).
pub(super) fn detect_remembered(memo: &std::sync::Mutex<LayoutMemo>, sql: &Sql<'_>) -> anyhow::Result<Detected> {
    memo.lock().unwrap_or_else(|e| e.into_inner()).detect(sql, 0)
}

impl LayoutMemo {
    /// The layout of the file behind `sql`, seen on instance `serial`: the one remembered
    /// when the catalog text is the one it was detected from, else detected now.
    fn detect(&mut self, sql: &Sql<'_>, serial: u64) -> anyhow::Result<Detected> {
        let catalog = catalog_text(sql)?;
        let detected = match self.detected.clone().filter(|_| self.catalog.as_ref() == Some(&catalog)) {
            Some(detected) => detected,
            None => layout::detect(sql)?,
        };
        *self = LayoutMemo { serial, catalog: Some(catalog), detected: Some(detected.clone()) };
        Ok(detected)
    }
}

/// Everything [`layout::detect`] reads, as text: the database's type, each table of
/// `main` with its `CREATE TABLE` (columns, NOT NULL, keys, foreign keys), and the labels
/// in `schema_migrations`. Equal texts give equal layouts.
fn catalog_text(sql: &Sql<'_>) -> anyhow::Result<String> {
    let (kind, tables): (Option<String>, Option<String>) = sql.query_row(
        "SELECT (SELECT type FROM duckdb_databases() WHERE database_name = current_database()),
                (SELECT string_agg(table_name || chr(10) || sql, chr(10) ORDER BY table_name)
                 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let tables = tables.unwrap_or_default();
    let labels = if tables.lines().any(|line| line == "schema_migrations") {
        let label: Result<Option<String>, _> = sql.query_row(
            "SELECT string_agg(CAST(version AS VARCHAR), chr(10) ORDER BY CAST(version AS VARCHAR)) FROM main.schema_migrations",
            [],
            |r| r.get(0),
        );
        // A schema_migrations without `version` leaves detection to say what it is.
        label.unwrap_or_else(|err| Some(format!("unreadable: {err}")))
    } else {
        None
    };
    Ok(format!("{}\n{tables}\n--\n{}", kind.unwrap_or_default(), labels.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog text changes with everything layout detection reads (a column, a key, a
    /// foreign key, a table, a label), and not with rows.
    #[test]
    fn catalog_text_follows_the_layout_not_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let conn = duckdb::Connection::open(dir.path().join("c.duckdb")).unwrap();
        let sql = Sql::local(&conn);
        let text = || catalog_text(&sql).unwrap();
        conn.execute_batch("CREATE TABLE scenarios (scenario_id VARCHAR, name VARCHAR NOT NULL)").unwrap();
        let mut seen = vec![text()];
        conn.execute_batch("INSERT INTO scenarios VALUES ('a', 'first'), ('b', 'second')").unwrap();
        assert_eq!(text(), seen[0], "rows are not the layout");
        conn.execute_batch("DELETE FROM scenarios").unwrap();
        for change in [
            "ALTER TABLE scenarios ADD COLUMN description VARCHAR",
            "ALTER TABLE scenarios ALTER COLUMN description SET NOT NULL",
            "ALTER TABLE scenarios ADD PRIMARY KEY (scenario_id)",
            "CREATE TABLE scenario_tags (id INTEGER PRIMARY KEY, scenario_id VARCHAR, tag VARCHAR)",
            "CREATE TABLE scenario_entities (id INTEGER PRIMARY KEY, tag_id INTEGER REFERENCES scenario_tags (id))",
            "CREATE TABLE schema_migrations (version VARCHAR)",
            "INSERT INTO schema_migrations VALUES ('1.7')",
            "INSERT INTO schema_migrations VALUES ('healthsim-mcp')",
        ] {
            conn.execute_batch(change).unwrap();
            let now = text();
            assert!(!seen.contains(&now), "the catalog text did not change with: {change}");
            seen.push(now);
        }
        conn.execute_batch("UPDATE scenarios SET name = 'renamed'; DELETE FROM scenario_tags").unwrap();
        assert_eq!(&text(), seen.last().unwrap(), "rows are not the layout");
    }

    fn listing(name: &str) -> Vec<ScenarioListing> {
        vec![ScenarioListing {
            scenario_id: name.into(),
            name: name.into(),
            description: None,
            entity_count: 0,
            tags: Vec::new(),
            created_at: None,
            updated_at: None,
        }]
    }

    /// A listing is reused only on the instance it was computed on, per filter.
    #[test]
    fn listings_are_reused_only_on_their_instance() {
        let mut memo = ListingMemo::default();
        let all = ListFilter { tag: None, search: None, limit: 50 };
        let tagged = ListFilter { tag: Some("q3".into()), ..all.clone() };
        memo.put(7, all.clone(), listing("a"));
        assert_eq!(memo.get(7, &all).unwrap()[0].name, "a");
        assert!(memo.get(7, &tagged).is_none());
        assert!(memo.get(8, &all).is_none(), "another instance may see other data");
        memo.put(8, tagged.clone(), listing("b"));
        assert!(memo.get(7, &all).is_none() && memo.get(8, &all).is_none());
        assert_eq!(memo.get(8, &tagged).unwrap()[0].name, "b");
        // Bounded: a full memo starts over.
        for limit in 0..ListingMemo::CAPACITY as u32 {
            memo.put(8, ListFilter { limit, ..all.clone() }, listing("c"));
        }
        assert!(memo.entries.len() <= ListingMemo::CAPACITY);
    }
}
