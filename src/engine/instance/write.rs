//! The write path of `Access`: one write at a time (the FIFO permit), reads drained, the
//! read instance swapped for a read-write one (retried with backoff while another process
//! holds the file), one transaction, commit (to the WAL; see `fold.rs`), close.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use duckdb::Connection;
use tokio::sync::OwnedRwLockWriteGuard;

use super::engines::write_settings;
use super::{
    Access, DbError, Engine, Inner, Instance, LockHolder, MAX_BACKOFF, Mode, NEW_FILE_STORAGE, OpenError, regular_file,
};

/// Writes closer together than this, with no read between, are a client writing in a row.
const WRITES_IN_A_ROW: Duration = Duration::from_secs(1);

impl Access {
    /// Runs `work` inside one read-write transaction, holding the write permit: drains
    /// reads, swaps the read instance for a read-write one (waiting for other processes
    /// up to the write timeout), commits and closes.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let committed = self.write_with(work, |_, _| anyhow::bail!("this write has no check"), false).await?;
        if let Some(warning) = committed.disk_warning {
            tracing::warn!("{warning}");
        }
        Ok(committed.value)
    }

    /// As [`write`](Self::write); should the commit itself fail (the disk refusing a
    /// write or an fsync while the commit checkpoints), the file is opened again and
    /// `check` says whether it holds the write after all (the header that makes it live
    /// may have reached the disk before the failure). The answer then matches the file:
    /// done, with a warning about the disk, or failed with nothing changed. A client's
    /// write: the read instance is opened again before it returns (see
    /// `Inner::reopen_after_write`).
    pub async fn write_checked<T, F, C>(&self, work: F, check: C) -> Result<Committed<T>, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
        C: FnOnce(&Connection, &T) -> anyhow::Result<bool> + Send + 'static,
    {
        self.write_with(work, check, true).await
    }

    async fn write_with<T, F, C>(&self, work: F, check: C, client: bool) -> Result<Committed<T>, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
        C: FnOnce(&Connection, &T) -> anyhow::Result<bool> + Send + 'static,
    {
        let work = (work, check);
        if self.inner.closed.is_cancelled() {
            return Err(DbError::ShuttingDown);
        }
        let _permit = self.inner.write_permit.lock().await;
        let started = Instant::now();
        let deadline = started + self.inner.settings.write_timeout;
        let mut work = Some(work);
        let mut backoff = Duration::from_millis(5);
        loop {
            let gate = self.inner.gate.clone().write_owned().await;
            let inner = Arc::clone(&self.inner);
            let job = work.take().expect("work is put back after every failed attempt");
            let attempt = tokio::task::spawn_blocking(move || inner.write_once(gate, job, client))
                .await
                .map_err(|e| DbError::Other(anyhow!("write task failed: {e}")))?;
            match attempt {
                Attempt::Done(result) => {
                    *self.inner.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                    return result;
                }
                Attempt::Locked(holder, job) => {
                    let now = Instant::now();
                    if now >= deadline {
                        tracing::warn!(holder = %holder.message, "write lock wait timed out");
                        return Err(DbError::Busy { holder, waited: now - started });
                    }
                    tracing::debug!(holder = %holder.describe(), ?backoff, "database locked by another process; retrying");
                    work = Some(job);
                    // Full jitter keeps two servers from retrying in lock step.
                    let pause = backoff.mul_f64(0.5 + fastrand::f64() * 0.5).min(deadline - now);
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = self.inner.closed.cancelled() => return Err(DbError::ShuttingDown),
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

enum Attempt<T, F> {
    Done(Result<Committed<T>, DbError>),
    Locked(LockHolder, F),
}

/// A committed write's value; `disk_warning` when the commit reported a disk error but
/// the file, opened again, holds the write.
pub struct Committed<T> {
    pub value: T,
    pub disk_warning: Option<String>,
}

impl Inner {
    /// One attempt at a write: close the read instance, open read-write, run, close; a
    /// `client` write then opens the read instance again (`reopen_after_write`).
    fn write_once<T, F, C>(&self, gate: OwnedRwLockWriteGuard<()>, work: (F, C), client: bool) -> Attempt<T, (F, C)>
    where
        F: FnOnce(&Connection) -> anyhow::Result<T>,
        C: FnOnce(&Connection, &T) -> anyhow::Result<bool>,
    {
        let _gate = gate;
        let started = Instant::now();
        self.close_read();
        let closed_read = started.elapsed();
        debug_assert_eq!(super::super::native::open_instances(&self.settings.path), 0);
        if let Some(parent) = self.settings.path.parent()
            && let Err(err) = std::fs::create_dir_all(parent)
        {
            return Attempt::Done(Err(DbError::Other(anyhow!(
                "cannot create directory {}: {err}; check permissions or pass another --db",
                parent.display()
            ))));
        }
        let creating = match regular_file(&self.settings.path) {
            Ok(exists) => !exists,
            Err(err) => return Attempt::Done(Err(err)),
        };
        // A file we create must open in every DuckDB users run beside us (see
        // `NEW_FILE_STORAGE`); an existing file keeps the storage version it has.
        let options = if creating { format!("STORAGE_VERSION '{NEW_FILE_STORAGE}'") } else { String::new() };
        let engine = match self.engines.for_write(&self.settings) {
            Ok(engine) => engine,
            Err(err) => return Attempt::Done(Err(DbError::Other(err))),
        };
        let instance = match self.attach_for_write(engine, &options) {
            Ok(instance) => instance,
            Err(OpenError::Locked(holder)) => return Attempt::Locked(holder, work),
            Err(OpenError::Unreadable(reason)) => return Attempt::Done(Err(DbError::Unreadable(reason))),
            Err(OpenError::Other(err)) => {
                let err = err.context(format!("cannot open {} for writing", self.settings.path.display()));
                let err = if creating { self.forget_created(err) } else { err };
                return Attempt::Done(Err(DbError::Other(explain_full_disk(err, &self.settings.path))));
            }
        };
        let opened = started.elapsed();
        self.engines.tidy_in_background(&self.settings);
        let (work, check) = work;
        let fold = self.wal_commits.load(Ordering::Relaxed) + 1 >= super::fold::WAL_COMMITS;
        let result = run_transaction(&instance, work, fold);
        let committed = started.elapsed();
        // Dropping the last connection and the instance detaches the file (the commit is in
        // the WAL or, past its limit, checkpointed) and gives the engine back.
        drop(instance);
        if result.is_err() {
            self.engines.forget_write();
        }
        let closed = started.elapsed();
        if result.is_ok() {
            self.count_wal_commit();
        }
        let reopened = client && result.is_ok() && self.reopen_after_write();
        let result = match result {
            Ok(value) => Ok(Committed { value, disk_warning: None }),
            Err((Some(value), err)) if !creating => {
                self.settle_failed_commit(value, err, check, &write_settings(&self.settings))
            }
            Err((_, err)) if creating => Err(self.forget_created(err)),
            Err((_, err)) => Err(err),
        }
        .map_err(|err| explain_full_disk(err, &self.settings.path));
        tracing::debug!(
            close_read_ms = closed_read.as_secs_f64() * 1e3,
            open_ms = (opened - closed_read).as_secs_f64() * 1e3,
            work_commit_ms = (committed - opened).as_secs_f64() * 1e3,
            close_ms = (closed - committed).as_secs_f64() * 1e3,
            reopen_ms = (started.elapsed() - closed).as_secs_f64() * 1e3,
            reopened,
            "write cycle"
        );
        Attempt::Done(result.map_err(DbError::Other))
    }
}

impl Inner {
    /// After a successful write: opens the read instance again at once, so the read a
    /// client makes next (a query or a list after a save) finds it open. Not when another
    /// process was seen holding the file recently (it may be waiting for it: our read
    /// instance would keep it out until idle release), nor for a client writing in a row
    /// (no read since its previous write, which ended less than a second ago: a script
    /// saving in a loop would pay the open and close at every save). One attempt: a file
    /// another process took meanwhile is left to the next read.
    fn reopen_after_write(&self) -> bool {
        let now = Instant::now();
        let read_since = self.read_since_write.swap(false, Ordering::Relaxed);
        let previous = self.last_write_end.lock().unwrap_or_else(|e| e.into_inner()).replace(now);
        let in_a_row = !read_since && previous.is_some_and(|ended| now.duration_since(ended) < WRITES_IN_A_ROW);
        if in_a_row || self.recently_contended() {
            return false;
        }
        match self.try_open_read() {
            Ok(read) => {
                *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(read);
                true
            }
            Err(err) => {
                if matches!(err, OpenError::Locked(_)) {
                    self.note_contention();
                }
                tracing::debug!("the read instance was not reopened after the write: {err:?}");
                false
            }
        }
    }

    /// After a commit reported an error: opens the file again and lets `check` say whether
    /// it holds the write.
    fn settle_failed_commit<T, C>(
        &self,
        value: T,
        err: anyhow::Error,
        check: C,
        settings: &[(&str, String)],
    ) -> anyhow::Result<Committed<T>>
    where
        C: FnOnce(&Connection, &T) -> anyhow::Result<bool>,
    {
        tracing::warn!("the commit reported an error ({err:#}); opening the file again to see what it holds");
        let verdict = Instance::open(&self.settings.path, Mode::ReadWrite, settings)
            .map_err(|e| match e {
                OpenError::Locked(holder) => anyhow!("the file is locked by {}", holder.describe()),
                OpenError::Unreadable(reason) => anyhow!(reason),
                OpenError::Other(err) => err,
            })
            .and_then(|instance| {
                let handle = instance.connect()?;
                check(handle.conn(), &value)
            });
        match verdict {
            Ok(true) => Ok(Committed {
                value,
                disk_warning: Some(format!(
                    "the disk reported an error while this write was committed ({err:#}), but the file holds it; \
                     check the disk before writing more"
                )),
            }),
            Ok(false) => Err(err.context("the commit failed and the file does not hold the write; nothing was changed")),
            Err(check) => Err(err.context(format!(
                "the commit failed and whether the file holds the write is unknown ({check:#}); list or query before retrying"
            ))),
        }
    }

    /// The file attached read-write to the write engine (the instance gives the engine back
    /// to its slot on close); on failure the engine goes back at once, and another process
    /// holding the file is noted (see `note_contention`).
    pub(super) fn attach_for_write(&self, engine: Engine, options: &str) -> Result<Arc<Instance>, OpenError> {
        let home = Some(self.engines.write_slot());
        Instance::attach(engine, &self.settings.path, Mode::ReadWrite, options, home).map_err(|(err, engine)| {
            self.engines.give_back_write(engine);
            if matches!(err, OpenError::Locked(_)) {
                self.note_contention();
            }
            err
        })
    }

    /// After the write that was to create the file failed (a full disk, say): removes
    /// the file (and a WAL) it left, which no DuckDB could open, so the next write starts
    /// afresh. Only a file this write created: it did not exist when the write began, and
    /// no one else could open it while our instance held it.
    fn forget_created(&self, err: anyhow::Error) -> anyhow::Error {
        let path = &self.settings.path;
        let wal = super::wal_path(path);
        let removed = [path.as_path(), wal.as_path()].iter().filter(|p| std::fs::remove_file(p).is_ok()).count();
        if removed > 0 {
            tracing::warn!(path = %path.display(), "the database file could not be created; the partial file was removed");
            err.context(format!("could not create {}; nothing was saved and no file was left behind", path.display()))
        } else {
            err
        }
    }
}

/// A write that failed on a full disk says so, and what to do, before DuckDB's own words
/// (which can be as vague as "FATAL Error ... Unknown error code").
fn explain_full_disk(err: anyhow::Error, path: &std::path::Path) -> anyhow::Error {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let free = free_bytes(dir);
    let text = format!("{err:#}");
    let full = text.contains("No space left on device") || free.is_some_and(|f| f < 1 << 20);
    if !full || text.contains("the file holds") {
        return err;
    }
    let free = free.map_or_else(String::new, |f| format!(" ({} KiB free)", f / 1024));
    err.context(format!(
        "the disk holding {} is full{free}; free space there (a save needs room for its data, the checkpoint that folds it into the file a few MiB more) and retry",
        dir.display()
    ))
}

/// Bytes available to us on the file system holding `dir`.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stats` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

/// Runs `work` in one transaction and commits. On failure, the value is returned beside
/// the error when the commit itself failed (the write may be in the file after all).
#[allow(clippy::type_complexity)]
fn run_transaction<T>(
    instance: &Arc<Instance>,
    work: impl FnOnce(&Connection) -> anyhow::Result<T>,
    fold: bool,
) -> Result<T, (Option<T>, anyhow::Error)> {
    let before = |err: anyhow::Error| (None, err);
    let mut handle = instance.connect().map_err(before)?;
    let conn = handle.conn_mut();
    // A commit that failed (its WAL append, or the checkpoint of a commit that skipped
    // the WAL) is reported as failed: closing must not write it after all.
    conn.execute_batch("PRAGMA disable_checkpoint_on_shutdown")
        .context("cannot configure the write")
        .map_err(before)?;
    let started = Instant::now();
    let tx = conn.transaction().context("cannot begin a write transaction").map_err(before)?;
    // `tx` rolls back on drop if `work` or the commit fails.
    let value = work(&tx).map_err(before)?;
    let worked = started.elapsed();
    if let Err(err) = tx.commit() {
        return Err((Some(value), anyhow::Error::from(err).context("cannot commit the write")));
    }
    let committed = started.elapsed();
    // Every so many commits the WAL goes into the file (see `fold::WAL_COMMITS`); the
    // commit is durable already, so a failure here only leaves the WAL for later.
    if fold && let Err(err) = conn.execute_batch("CHECKPOINT") {
        tracing::warn!("the write is committed (in the WAL) but the checkpoint after it failed: {err}");
    }
    tracing::debug!(
        work_ms = worked.as_secs_f64() * 1e3,
        commit_ms = (committed - worked).as_secs_f64() * 1e3,
        fold,
        checkpoint_ms = (started.elapsed() - committed).as_secs_f64() * 1e3,
        "write transaction"
    );
    Ok(value)
}
