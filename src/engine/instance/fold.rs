//! Folding the WAL into the file. A write commits to DuckDB's WAL beside the file (a
//! durable append of what it wrote; see `engines::write_settings`) instead of
//! checkpointing at every commit, which rewrote the touched tables' last blocks and cost
//! several MiB of free disk for a save of a few KB. Every DuckDB that opens the file
//! replays the WAL, so other processes see every acknowledged write, and `kill -9` loses
//! none. Once the server has been idle for its idle-release period, and at shutdown, the
//! WAL is checkpointed into the `.duckdb` file, so that the file alone holds everything
//! (users copy that one file); DuckDB itself checkpoints at a commit that takes the WAL
//! past `WAL_CHECKPOINT`, which bounds what a read-only open replays.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Access, DbError, Inner, OpenError};

/// Commits the WAL may hold before a write folds it into the file. A DuckDB that opens the
/// file replays the WAL commit by commit, at ~1 ms each whatever their size (ours, our
/// read instance after each write, other processes): with the WAL bounded by size alone
/// (4 MiB) a run of 10-entity saves paid 1 ms more per save already in the WAL, twice,
/// for hundreds of saves (`examples/growth_bench.py --http`: 20 sessions took 2x longer).
pub(super) const WAL_COMMITS: u32 = 8;

/// The WAL beside a database file: `NAME.wal` after the whole file name.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}

impl Access {
    /// Checkpoints a pending WAL into the file now, holding the write permit (one
    /// attempt). `Ok(false)`: there was nothing to fold, or another process holds the file.
    pub async fn fold_wal(&self) -> Result<bool, DbError> {
        let _permit = self.inner.write_permit.lock().await;
        let gate = self.inner.gate.clone().write_owned().await;
        let inner = std::sync::Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _gate = gate;
            inner.fold_wal()
        })
        .await
        .map_err(|e| DbError::Other(anyhow::anyhow!("checkpoint task failed: {e}")))?
    }

    /// Whether a WAL beside the file holds changes the file does not (for tests).
    pub fn wal_pending(&self) -> bool {
        self.inner.wal_pending()
    }
}

impl Inner {
    /// After a committed write: one more commit in the WAL, or none when the write (or
    /// DuckDB at a commit past `WAL_CHECKPOINT`) checkpointed it into the file.
    pub(super) fn count_wal_commit(&self) {
        let pending = self.wal_pending();
        let counter = &self.wal_commits;
        match pending {
            true => counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            false => counter.swap(0, std::sync::atomic::Ordering::Relaxed),
        };
    }

    /// Whether a WAL beside the file holds changes the file does not (a stat, never an
    /// open: invariant 3).
    pub(super) fn wal_pending(&self) -> bool {
        std::fs::metadata(wal_path(&self.settings.path)).is_ok_and(|m| m.len() > 0)
    }

    /// Closes the read instance and, when a WAL is pending, opens the file read-write and
    /// checkpoints it. Callers hold the write permit and the gate exclusively. One
    /// attempt: a file another process holds is left for the next idle period (that
    /// process's own close folds the WAL if it writes).
    pub(super) fn fold_wal(&self) -> Result<bool, DbError> {
        self.close_read();
        if !self.wal_pending() || !matches!(super::regular_file(&self.settings.path), Ok(true)) {
            return Ok(false);
        }
        let started = Instant::now();
        let engine = self.engines.for_write(&self.settings).map_err(DbError::Other)?;
        let instance = match self.attach_for_write(engine, "") {
            Ok(instance) => instance,
            Err(OpenError::Locked(_)) => return Ok(false),
            Err(OpenError::Unreadable(reason)) => return Err(DbError::Unreadable(reason)),
            Err(OpenError::Other(err)) => return Err(DbError::Other(err)),
        };
        let folded = instance.connect().and_then(|handle| Ok(handle.conn().execute_batch("CHECKPOINT")?));
        drop(instance);
        if let Err(err) = folded {
            self.engines.forget_write();
            // Not again at once: the next idle period (or the next write's commit) retries.
            self.note_contention();
            tracing::warn!("the WAL could not be checkpointed into the file (it keeps every write): {err:#}");
            return Err(DbError::Other(err));
        }
        self.wal_commits.store(0, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "WAL checkpointed into the file");
        Ok(true)
    }
}
