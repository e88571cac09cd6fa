//! The write path of `Access`: one write at a time (the FIFO permit), reads drained, the
//! read instance swapped for a read-write one (retried with backoff while another process
//! holds the file), one transaction, commit (which checkpoints), close.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use duckdb::Connection;
use tokio::sync::OwnedRwLockWriteGuard;

use super::{
    Access, DbError, Inner, Instance, LockHolder, MAX_BACKOFF, Mode, NEW_FILE_STORAGE, OpenError, regular_file,
};

impl Access {
    /// Runs `work` inside one read-write transaction, holding the write permit: drains
    /// reads, swaps the read instance for a read-write one (waiting for other processes
    /// up to the write timeout), commits, checkpoints and closes.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
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
            let attempt = tokio::task::spawn_blocking(move || inner.write_once(gate, job))
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
    Done(Result<T, DbError>),
    Locked(LockHolder, F),
}

impl Inner {
    /// One attempt at a write: close the read instance, open read-write, run.
    fn write_once<T, F>(&self, gate: OwnedRwLockWriteGuard<()>, work: F) -> Attempt<T, F>
    where
        F: FnOnce(&Connection) -> anyhow::Result<T>,
    {
        let _gate = gate;
        let started = Instant::now();
        self.close_read();
        let closed_read = started.elapsed();
        debug_assert_eq!(super::super::engine::open_instances(&self.settings.path), 0);
        if let Some(parent) = self.settings.path.parent()
            && let Err(err) = std::fs::create_dir_all(parent)
        {
            return Attempt::Done(Err(DbError::Other(anyhow!(
                "cannot create directory {}: {err}; check permissions or pass another --db",
                parent.display()
            ))));
        }
        // Every commit checkpoints at once, writing its rows straight into the file instead of
        // first to the WAL and then again into the file (a 10,000-entity save: ~35 ms less).
        // A crash during that checkpoint leaves the file as it was: the header that makes
        // the new blocks live is written last. One thread: a save appends on one thread
        // anyway, and a second DuckDB thread only contends with the planning threads
        // (appends of a 10,000-entity save 83 -> 65 ms, a 100,000-entity save 2.0 -> 1.8 s, A/B).
        let creating = match regular_file(&self.settings.path) {
            Ok(exists) => !exists,
            Err(err) => return Attempt::Done(Err(err)),
        };
        let mut settings = vec![
            ("autoload_known_extensions", "false".to_owned()),
            ("autoinstall_known_extensions", "false".to_owned()),
            ("checkpoint_threshold", "0b".to_owned()),
            ("auto_checkpoint_skip_wal_threshold", "0".to_owned()),
            ("threads", "1".to_owned()),
        ];
        if creating {
            // A file we create must open in every DuckDB users run beside us (see
            // `NEW_FILE_STORAGE`); an existing file keeps the storage version it has.
            settings.push(("storage_compatibility_version", NEW_FILE_STORAGE.to_owned()));
        }
        let instance = match Instance::open(&self.settings.path, Mode::ReadWrite, &settings) {
            Ok(instance) => instance,
            Err(OpenError::Locked(holder)) => return Attempt::Locked(holder, work),
            Err(OpenError::Unreadable(reason)) => return Attempt::Done(Err(DbError::Unreadable(reason))),
            Err(OpenError::Other(err)) => {
                return Attempt::Done(Err(DbError::Other(
                    err.context(format!("cannot open {} for writing", self.settings.path.display())),
                )));
            }
        };
        let opened = started.elapsed();
        let result = run_transaction(&instance, work);
        let committed = started.elapsed();
        // Dropping the last connection and the instance closes the file (the commit has
        // checkpointed).
        drop(instance);
        tracing::debug!(
            close_read_ms = closed_read.as_secs_f64() * 1e3,
            open_ms = (opened - closed_read).as_secs_f64() * 1e3,
            work_commit_checkpoint_ms = (committed - opened).as_secs_f64() * 1e3,
            close_ms = (started.elapsed() - committed).as_secs_f64() * 1e3,
            "write cycle"
        );
        Attempt::Done(result.map_err(DbError::Other))
    }
}

fn run_transaction<T>(
    instance: &Arc<Instance>,
    work: impl FnOnce(&Connection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut handle = instance.connect()?;
    let conn = handle.conn_mut();
    // A commit whose checkpoint failed after it skipped the WAL is committed only in
    // memory and reported as failed: closing must not write it after all.
    conn.execute_batch("PRAGMA disable_checkpoint_on_shutdown").context("cannot configure the write")?;
    let started = Instant::now();
    let tx = conn.transaction().context("cannot begin a write transaction")?;
    // `tx` rolls back on drop if `work` or the commit fails.
    let value = work(&tx)?;
    let worked = started.elapsed();
    tx.commit().context("cannot commit the write")?;
    let committed = started.elapsed();
    // The commit has checkpointed, unless DuckDB chose to log it to the WAL instead; then
    // this checkpoint folds the WAL into the file (readers would replay it on every open).
    // Should that fail, the write is still durable in the WAL.
    if let Err(err) = conn.execute_batch("CHECKPOINT") {
        tracing::warn!("the write is committed but the checkpoint after it failed (the WAL keeps it): {err}");
    }
    tracing::debug!(
        work_ms = worked.as_secs_f64() * 1e3,
        commit_ms = (committed - worked).as_secs_f64() * 1e3,
        checkpoint_ms = (started.elapsed() - committed).as_secs_f64() * 1e3,
        "write transaction"
    );
    Ok(value)
}
