//! How much memory the server may use, and what that allows a request to be.
//!
//! A save peaks at about 15 bytes of resident memory per byte of its request (100,000
//! mixed entities, 18.1 MB of JSON: 257-294 MB peak RSS, 404-459 MB peak address space,
//! where it was 444 and 495 MB before the plan consumed the parsed request and stored its
//! rows compactly; the note of stop 14), over ~45 MB the idle server holds (~125 MB of
//! address space). What remains is mostly the parsed request (~9 bytes per byte of JSON)
//! and DuckDB's uncommitted rows and indexes. Under a limit, from `--max-memory` or the
//! process's own (`RLIMIT_AS`, the cgroup's `memory.max`), a message that could not be
//! processed within it is refused as it arrives, with one clear answer, instead of the
//! process being killed half way; DuckDB's own memory is bounded to a share of it.

/// Largest JSON-RPC message accepted (a stdio line or an HTTP body): a save of
/// `--max-save-entities` entities fits, while memory stays bounded.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Address space a save uses per byte of its request (measured 26.4 before stop 14, ~18
/// since; kept, so that what is refused under a limit would certainly not have fit).
pub const BYTES_PER_REQUEST_BYTE: u64 = 28;

/// What the idle server and DuckDB's buffers take before a request arrives: resident
/// memory (`--max-memory`, a cgroup), and address space (`RLIMIT_AS`), which also counts
/// what is reserved and not used (thread stacks, allocator arenas): the idle server's
/// `VmSize` under `prlimit --as=450MiB` is 276-293 MiB, its start-up peak 321 MiB, so the
/// 160 MiB of resident memory left too little room: a 10.8 MB save was accepted, and an
/// allocation then failed (or aborted the process) under the limit.
pub const BASELINE_BYTES: u64 = 160 << 20;
pub const BASELINE_ADDRESS_SPACE: u64 = 330 << 20;

/// The memory the server may use and where the figure came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    /// `--max-memory`, `RLIMIT_AS` or `cgroup memory.max`.
    pub source: String,
    /// The budget bounds address space (`RLIMIT_AS`), not resident memory.
    pub address_space: bool,
}

impl Budget {
    /// The smallest of `--max-memory` (MiB) and the limits the process runs under; `None`
    /// when nothing limits it.
    pub fn detect(max_memory_mib: Option<u64>) -> Option<Budget> {
        let mut candidates: Vec<Budget> = Vec::new();
        if let Some(mib) = max_memory_mib {
            candidates.push(Budget { bytes: mib << 20, source: "--max-memory".into(), address_space: false });
        }
        if let Some(bytes) = address_space_limit() {
            candidates.push(Budget {
                bytes,
                source: "the process's address-space limit (RLIMIT_AS)".into(),
                address_space: true,
            });
        }
        if let Some(bytes) = cgroup_limit() {
            candidates.push(Budget { bytes, source: "the cgroup's memory limit".into(), address_space: false });
        }
        candidates.into_iter().min_by_key(|b| b.bytes)
    }

    /// The largest message that can be processed within the budget (at least 64 KiB).
    pub fn max_message_bytes(&self) -> usize {
        let baseline = if self.address_space { BASELINE_ADDRESS_SPACE } else { BASELINE_BYTES };
        (self.bytes.saturating_sub(baseline) / BYTES_PER_REQUEST_BYTE).max(64 << 10) as usize
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

/// Saves of at least this many entities give freed memory back to the system once planned.
pub const TRIM_AFTER_ENTITIES: usize = 10_000;

/// Returns the free pages of the heap to the system (glibc keeps them otherwise): when
/// the server idles (a closed instance, a large request), so an idle server is small, and
/// after a large save's plan, whose parsed request was freed in pieces among the plan's
/// allocations, so DuckDB's transaction reuses those pages instead of adding to them.
/// Takes ~30 ms after a 100,000-entity plan.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
    // The binary's own allocations are mimalloc's (main.rs): this also gives back the empty
    // pages the calling thread's heap still holds.
    // SAFETY: mi_collect only walks mimalloc's own structures.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// mimalloc's `mi_option_purge_delay` and `mi_option_page_full_retain` (v3's option enum;
/// the Rust binding names only the options of v2's).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_OPTION_PAGE_FULL_RETAIN: libmimalloc_sys::mi_option_t = 36;

/// Makes mimalloc give freed pages back to the system at once instead of after a second
/// (its default, which it honours only when the thread that freed them allocates again),
/// and keep no empty pages per size class and thread for reuse (two by default). Either way
/// what a large request leaves behind goes back to the system even from threads that then
/// sit idle. The price: every request faults its memory in afresh (mimalloc's delay made
/// loads ~20% faster, but left the idle server 4-10 MB larger and large saves' peaks ~25%
/// higher; README "Performance"). An option set in the environment
/// (`MIMALLOC_PURGE_DELAY`, `MIMALLOC_PAGE_FULL_RETAIN`) is left as mimalloc read it.
pub fn tune_own_allocator() {
    for (option, variable) in
        [(MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY"), (MI_OPTION_PAGE_FULL_RETAIN, "MIMALLOC_PAGE_FULL_RETAIN")]
    {
        if std::env::var_os(variable).is_none() {
            // SAFETY: sets one of mimalloc's options; any thread may.
            unsafe { libmimalloc_sys::mi_option_set(option, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options set are the purge delay and the retained pages: their defaults are
    /// mimalloc v3's (1000 ms, 2 pages), and both become 0.
    #[test]
    fn purge_delay_and_retained_pages_are_the_options_set() {
        // SAFETY: reads and sets mimalloc options.
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        let unset = |variable| std::env::var_os(variable).is_none();
        if unset("MIMALLOC_PURGE_DELAY") {
            assert_eq!(get(MI_OPTION_PURGE_DELAY), 1000, "mimalloc's default purge delay");
        }
        if unset("MIMALLOC_PAGE_FULL_RETAIN") {
            assert_eq!(get(MI_OPTION_PAGE_FULL_RETAIN), 2, "mimalloc's default retained pages");
        }
        tune_own_allocator();
        if unset("MIMALLOC_PURGE_DELAY") {
            assert_eq!(get(MI_OPTION_PURGE_DELAY), 0);
        }
        if unset("MIMALLOC_PAGE_FULL_RETAIN") {
            assert_eq!(get(MI_OPTION_PAGE_FULL_RETAIN), 0);
        }
    }

    /// A 450 MiB budget takes a 3 MB save and refuses a 15 MB one (as address space, a
    /// smaller one); a tiny one still takes small messages.
    #[test]
    fn budgets_bound_messages() {
        let budget = Budget { bytes: 450 << 20, source: "test".into(), address_space: false };
        assert!(budget.max_message_bytes() > 3_100_000 && budget.max_message_bytes() < 15_400_000);
        let tiny = Budget { bytes: 100 << 20, source: "test".into(), address_space: false };
        assert_eq!(tiny.max_message_bytes(), 64 << 10);
        // Address space counts reservations too: less room for the same figure.
        let space = Budget { address_space: true, ..budget.clone() };
        assert!(space.max_message_bytes() > 3_100_000 && space.max_message_bytes() < budget.max_message_bytes());
        assert_eq!(budget.duckdb_limit(), "150MB");
        assert_eq!(Budget::detect(Some(300)).map(|b| b.bytes <= 300 << 20), Some(true));
    }
}
