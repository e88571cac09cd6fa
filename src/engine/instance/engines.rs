//! The DuckDB engines `Access` keeps between opens of the file (see `engine/attached.rs`:
//! making an engine costs ~7 ms, attaching the file to one ~5 ms). The write engine is used
//! again from write to write. A read engine is hardened once the file is attached, which
//! cannot be undone, so each read instance gets a new one: the spare, made in the
//! background while a write runs, which also closes the previous read engine (retired when
//! its file was detached). An idle server drops them all.

use std::sync::{Arc, Mutex};

use super::{AccessSettings, Engine, EngineSlot, READ_MAX_MEMORY};

/// The engines kept for later opens; cheap to clone (the slots are shared).
#[derive(Clone, Default)]
pub(super) struct Engines {
    /// The engine the next read instance attaches the file to.
    spare_read: EngineSlot,
    /// The engine writes attach the file to.
    write: EngineSlot,
    /// The last read instance's engine, its file detached, waiting to be closed.
    retired: EngineSlot,
}

impl Engines {
    /// The engine for the next read instance: the spare, or a new one.
    pub(super) fn for_read(&self, settings: &AccessSettings) -> anyhow::Result<Engine> {
        match take(&self.spare_read) {
            Some(engine) => Ok(engine),
            None => read_engine(settings),
        }
    }

    /// Where a read instance's engine goes when its file is detached.
    pub(super) fn retired_slot(&self) -> EngineSlot {
        Arc::clone(&self.retired)
    }

    /// The engine for a write: the one kept, or a new one; it comes back to
    /// [`write_slot`](Self::write_slot) when the write's file is detached.
    pub(super) fn for_write(&self, settings: &AccessSettings) -> anyhow::Result<Engine> {
        match take(&self.write) {
            Some(engine) => Ok(engine),
            None => Engine::create(&write_settings(settings)),
        }
    }

    pub(super) fn write_slot(&self) -> EngineSlot {
        Arc::clone(&self.write)
    }

    /// A read engine whose attach failed, unchanged: kept for the next attempt.
    pub(super) fn give_back_read(&self, engine: Engine) {
        *self.spare_read.lock().unwrap_or_else(|e| e.into_inner()) = Some(engine);
    }

    /// A write engine whose attach failed, unchanged: kept for the next attempt.
    pub(super) fn give_back_write(&self, engine: Engine) {
        *self.write.lock().unwrap_or_else(|e| e.into_inner()) = Some(engine);
    }

    /// Drops the write engine after a failed write: DuckDB invalidates a database after a
    /// fatal error (a failed fsync, say), so the next write gets a new one.
    pub(super) fn forget_write(&self) {
        take(&self.write);
    }

    /// Closes the retired read engine and makes the next spare, in the background. A write
    /// calls it once its file is open, so the work overlaps the write's own (DuckDB on one
    /// thread) rather than the write's open (beside which it slowed the open from 10 to 19
    /// ms on two cores) or the read a client sends right after the write. The spare's slot
    /// stays locked while the engine is made, so a reopen that comes first waits for it
    /// instead of making a second one.
    pub(super) fn tidy_in_background(&self, settings: &AccessSettings) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (engines, settings) = (self.clone(), settings.clone());
        drop(runtime.spawn_blocking(move || {
            drop(take(&engines.retired));
            let mut spare = engines.spare_read.lock().unwrap_or_else(|e| e.into_inner());
            if spare.is_none() {
                match read_engine(&settings) {
                    Ok(engine) => *spare = Some(engine),
                    Err(err) => tracing::debug!("no spare engine: {err:#}"),
                }
            }
        }));
    }

    /// Drops every kept engine (an idle server gives their memory back).
    pub(super) fn drop_all(&self) {
        for slot in [&self.retired, &self.spare_read, &self.write] {
            take(slot);
        }
    }
}

fn take(slot: &Mutex<Option<Engine>>) -> Option<Engine> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// A new engine for a read instance (hardened once the file is attached).
fn read_engine(settings: &AccessSettings) -> anyhow::Result<Engine> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    let engine = Engine::create(&[
        ("autoload_known_extensions", "false".to_owned()),
        ("autoinstall_known_extensions", "false".to_owned()),
        ("threads", threads.to_string()),
        ("max_memory", settings.duckdb_memory.clone().unwrap_or_else(|| READ_MAX_MEMORY.to_owned())),
    ])?;
    for file in &settings.dialect {
        engine.load_extension(file)?;
    }
    Ok(engine)
}

/// The WAL size past which a commit checkpoints (DuckDB's `checkpoint_threshold`): what a
/// read-only open replays stays bounded (each MiB of WAL adds ~5 ms to an open; see
/// `examples/commit_growth.py`).
pub(super) const WAL_CHECKPOINT: &str = "4MiB";

/// The write engine's configuration.
pub(super) fn write_settings(settings: &AccessSettings) -> Vec<(&'static str, String)> {
    // A commit appends to the WAL and fsyncs it (a 1-entity save: ~1 ms), instead of
    // checkpointing, which rewrote the touched tables' last blocks (and, with the keys our
    // layout had, every index in full); the WAL is folded into the file when the server is
    // idle or exits (`fold.rs`), or by DuckDB at a commit past `WAL_CHECKPOINT` (a large
    // save then skips the WAL and writes its rows straight into the file). One thread: a
    // save appends on one thread anyway, and a second DuckDB thread only contends with the
    // planning threads (appends of a 10,000-entity save 83 -> 65 ms, a 100,000-entity
    // save 2.0 -> 1.8 s, A/B).
    let mut write = vec![
        ("autoload_known_extensions", "false".to_owned()),
        ("autoinstall_known_extensions", "false".to_owned()),
        ("checkpoint_threshold", WAL_CHECKPOINT.to_owned()),
        ("threads", "1".to_owned()),
    ];
    if let Some(limit) = &settings.duckdb_memory {
        write.push(("memory_limit", limit.clone()));
    }
    write
}
