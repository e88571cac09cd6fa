//! What an idle server does, on a timer: closes the read instance after `idle` without
//! reads (so other processes can write), folds the WAL into the file (`fold.rs`), and gives
//! memory back once no tool has been called for that long either.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::Inner;

/// Closes the read instance after `idle` without reads, so other processes can write.
pub(super) async fn idle_release_loop(inner: Weak<Inner>, idle: Duration) {
    let tick = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    // The quiet period (its start) whose memory was already trimmed.
    let mut trimmed_for: Option<Instant> = None;
    loop {
        tokio::time::sleep(tick).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.closed.is_cancelled() {
            return;
        }
        let last_used = *inner.last_used.lock().unwrap_or_else(|e| e.into_inner());
        let last_activity = *inner.last_activity.lock().unwrap_or_else(|e| e.into_inner());
        let quiet_since = last_used.max(last_activity);
        let is_open = inner.slot.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        let release = is_open && last_used.elapsed() >= idle;
        let trim = quiet_since.elapsed() >= idle && trimmed_for != Some(quiet_since);
        // The WAL goes into the file once no read or write came for the idle period (and
        // no other process was seen holding the file lately: it may be waiting for it).
        let fold = last_used.elapsed() >= idle && !inner.recently_contended() && inner.wal_pending();
        if !release && !trim && !fold {
            continue;
        }
        // Only when no read or write is in flight; otherwise try again next tick.
        let permit = if fold { inner.write_permit.try_lock().ok() } else { None };
        let folding = permit.is_some();
        if let Ok(gate) = inner.gate.clone().try_write_owned() {
            let closer = Arc::clone(&inner);
            let _ = tokio::task::spawn_blocking(move || {
                let _gate = gate;
                if release {
                    closer.close_read();
                    tracing::debug!("read instance released after idle period");
                }
                if folding {
                    let _ = closer.fold_wal();
                }
                // Also after writes that did not reopen (a loop of saves): the engines
                // kept for the next open are memory an idle server gives back.
                closer.engines.drop_all();
                crate::memory::release_freed();
            })
            .await;
            if quiet_since.elapsed() >= idle {
                trimmed_for = Some(quiet_since);
            }
        }
    }
}
