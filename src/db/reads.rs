//! The read path of [`Db`], either strategy: a file's pooled read instance, with the
//! listing memo and the layout detected once per instance (both rest on invariant 8: the
//! file cannot change while our read instance is open), or a database on a server, read
//! afresh each time (`remote.rs`).

use std::sync::Arc;

use super::layout::{self, Detected, Layout};
use super::scenarios::{self, ListFilter, ScenarioListing};
use super::{Db, DbError, Sql, engine};

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
            return remote?
                .scenario_read(move |sql, layout| match layout {
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
        F: FnOnce(&Sql<'_>, Option<&Layout>) -> anyhow::Result<T> + Send + 'static,
    {
        if let Some(remote) = self.remote_access().await {
            return remote?.scenario_read(work).await;
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
        F: FnOnce(&Sql<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        match self.remote_access().await {
            Some(remote) => remote?.read(work).await,
            None => self.reader().await.read(move |handle| work(&Sql::local(handle.conn()))).await,
        }
    }
}

/// The layout of the file behind a read connection, detected once per read instance
/// (the file cannot change while the instance is open, invariant 8); `None` for a file
/// without scenario tables, an error (one line) for scenario tables of an unknown shape.
pub(super) fn known_layout(
    memo: &std::sync::Mutex<(u64, Option<Detected>)>,
    conn: &engine::InstanceConnection,
) -> anyhow::Result<Option<Arc<Layout>>> {
    let serial = conn.instance().serial();
    // Held while detecting: reads of a new instance wait for one detection instead of
    // each running their own.
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    let detected = match memo.1.clone().filter(|_| memo.0 == serial) {
        Some(detected) => detected,
        None => {
            let detected = layout::detect(&Sql::local(conn.conn()))?;
            *memo = (serial, Some(detected.clone()));
            detected
        }
    };
    drop(memo);
    match detected {
        Detected::Empty => Ok(None),
        Detected::Known(layout) => Ok(Some(layout)),
        Detected::Unknown(reason) => Err(anyhow::anyhow!(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
