//! How much memory the server may use, and what that allows a request to be.
//!
//! A save peaks at about 24 bytes of resident memory per byte of its request (100,000
//! patients, 15.4 MB of JSON: 446 MB peak RSS, 530 MB peak address space; 20,000 patients,
//! 3.1 MB: 149 MB and 205 MB; `python mem.py N` in the note of stop 12), over ~75 MB the
//! idle server holds (~125 MB of address space). Under a limit, from `--max-memory` or the
//! process's own (`RLIMIT_AS`, the cgroup's `memory.max`), a message that could not be
//! processed within it is refused as it arrives, with one clear answer, instead of the
//! process being killed half way; DuckDB's own memory is bounded to a share of it.

/// Address space a save uses per byte of its request (measured 26.4, rounded up).
pub const BYTES_PER_REQUEST_BYTE: u64 = 28;

/// What the idle server and DuckDB's buffers take before a request arrives.
pub const BASELINE_BYTES: u64 = 160 << 20;

/// The memory the server may use and where the figure came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    /// `--max-memory`, `RLIMIT_AS` or `cgroup memory.max`.
    pub source: String,
}

impl Budget {
    /// The smallest of `--max-memory` (MiB) and the limits the process runs under; `None`
    /// when nothing limits it.
    pub fn detect(max_memory_mib: Option<u64>) -> Option<Budget> {
        let mut candidates: Vec<Budget> = Vec::new();
        if let Some(mib) = max_memory_mib {
            candidates.push(Budget { bytes: mib << 20, source: "--max-memory".into() });
        }
        if let Some(bytes) = address_space_limit() {
            candidates.push(Budget { bytes, source: "the process's address-space limit (RLIMIT_AS)".into() });
        }
        if let Some(bytes) = cgroup_limit() {
            candidates.push(Budget { bytes, source: "the cgroup's memory limit".into() });
        }
        candidates.into_iter().min_by_key(|b| b.bytes)
    }

    /// The largest message that can be processed within the budget (at least 64 KiB).
    pub fn max_message_bytes(&self) -> usize {
        (self.bytes.saturating_sub(BASELINE_BYTES) / BYTES_PER_REQUEST_BYTE).max(64 << 10) as usize
    }

    /// DuckDB's `memory_limit` for one instance: a third of the budget, at least 64 MiB.
    pub fn duckdb_limit(&self) -> String {
        format!("{}MB", ((self.bytes / 3) >> 20).max(64))
    }
}

fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(limit.rlim_cur)
}

/// cgroup v2 `memory.max` (or v1 `memory.limit_in_bytes`) of this process's cgroup.
fn cgroup_limit() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = if controllers.is_empty() {
            format!("/sys/fs/cgroup{path}/memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
        } else {
            continue;
        };
        if let Some(bytes) = std::fs::read_to_string(&file).ok().and_then(|t| t.trim().parse::<u64>().ok())
            && bytes < 1 << 50
        {
            return Some(bytes);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 450 MiB budget takes a 3 MB save and refuses a 15 MB one; a tiny one still takes
    /// small messages.
    #[test]
    fn budgets_bound_messages() {
        let budget = Budget { bytes: 450 << 20, source: "test".into() };
        assert!(budget.max_message_bytes() > 3_100_000 && budget.max_message_bytes() < 15_400_000);
        assert_eq!(Budget { bytes: 100 << 20, source: "test".into() }.max_message_bytes(), 64 << 10);
        assert_eq!(budget.duckdb_limit(), "150MB");
        assert_eq!(Budget::detect(Some(300)).map(|b| b.bytes <= 300 << 20), Some(true));
    }
}
