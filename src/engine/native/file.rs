//! What is at the database path before DuckDB opens it, and why DuckDB refused it: the
//! file's main header (storage version, the release that wrote it), files of other kinds
//! (SQLite, empty, unknown) refused before DuckDB guesses their type, and the one-line
//! explanation of a storage version this engine cannot read. These read the file's first
//! bytes only where the process has no DuckDB instance of it (ARCHITECTURE.md invariant 3).

use std::path::Path;

use super::{OpenError, library_version};

/// What a DuckDB file's main header says: its storage version number and the DuckDB
/// release that wrote the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    pub storage: u64,
    pub writer: String,
}

impl FileHeader {
    /// Offsets of the main header: an 8-byte checksum, `DUCK`, the storage version
    /// (u64 little endian), four flag words, then the writer's version string (32 bytes).
    const MAGIC: std::ops::Range<usize> = 8..12;
    const STORAGE: std::ops::Range<usize> = 12..20;
    const WRITER: std::ops::Range<usize> = 52..84;

    pub fn parse(head: &[u8]) -> Option<FileHeader> {
        if head.len() < Self::WRITER.end || &head[Self::MAGIC] != b"DUCK" {
            return None;
        }
        let storage = u64::from_le_bytes(head[Self::STORAGE].try_into().ok()?);
        let writer = head[Self::WRITER].split(|b| *b == 0).next().unwrap_or_default();
        let writer = String::from_utf8_lossy(writer).trim().to_owned();
        Some(FileHeader { storage, writer: if writer.is_empty() { "an unknown version".to_owned() } else { writer } })
    }

    /// Reads the header of the file at `path`; `None` if it is not a DuckDB file. Only
    /// where this process has no DuckDB instance of `path` (after an open of it failed, or
    /// in a command that never opens it): closing this handle drops the process's fcntl
    /// locks on the file.
    pub fn read(path: &Path) -> Option<FileHeader> {
        FileHeader::parse(&read_head(path, Self::WRITER.end)?)
    }
}

/// Up to `len` bytes from the start of the file at `path` (fewer for a shorter file). Only
/// where this process has no DuckDB instance of `path`; see `FileHeader::read`.
fn read_head(path: &Path, len: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(len);
    std::fs::File::open(path).ok()?.take(len as u64).read_to_end(&mut head).ok()?;
    Some(head)
}

/// Why the file at `path` is not a DuckDB database, when it plainly is not: DuckDB would
/// otherwise guess its type and load an extension for it (a SQLite file makes it load
/// `sqlite_scanner` from `~/.duckdb/extensions` even with autoloading off, and then open
/// the SQLite file read-write). `None` for a DuckDB file or no file. Read only while this process has no instance of `path` (the
/// caller holds its registry slot; see `FileHeader::read`).
pub(super) fn foreign_file(path: &Path) -> Option<String> {
    let head = read_head(path, 16)?;
    let shown = path.display();
    if head.is_empty() {
        return Some(format!(
            "database file {shown} is empty (0 bytes), which DuckDB cannot open; delete it and the server creates a new \
             database there, or pass --db with a DuckDB file"
        ));
    }
    if head.get(FileHeader::MAGIC) == Some(b"DUCK".as_slice()) {
        return None;
    }
    Some(if head.starts_with(b"SQLite format 3\0") {
        format!(
            "database file {shown} is a SQLite database, not a DuckDB one; the server opens DuckDB files only. Pass \
             --db with a DuckDB file (to copy the tables: ATTACH '{shown}' AS src (TYPE sqlite); ATTACH \
             'healthsim.duckdb' AS dst; COPY FROM DATABASE src TO dst; in the duckdb CLI)"
        )
    } else {
        format!(
            "database file {shown} is not a DuckDB database (unknown format); the file was not changed; pass --db with a DuckDB file"
        )
    })
}

/// Turns DuckDB's multi-line "Trying to read a database file with version number N"
/// into one line naming the DuckDB release that wrote the file and how to convert it.
pub(super) fn explain_storage_version(path: &Path, err: OpenError) -> OpenError {
    let OpenError::Other(inner) = &err else { return err };
    let message = inner.to_string();
    if !message.contains("Trying to read a database file with version number") {
        return err;
    }
    let engine = library_version();
    let shown = path.display();
    let converted = path.with_file_name(format!(
        "{}-v1.duckdb",
        path.file_stem().map_or_else(|| "healthsim".into(), |s| s.to_string_lossy())
    ));
    let converted = converted.display();
    let Some(header) = FileHeader::read(path) else {
        let first = message.lines().next().unwrap_or_default();
        return OpenError::Unreadable(format!(
            "database file {shown} is in a storage version DuckDB {engine} cannot read ({first}); the file was not changed"
        ));
    };
    let FileHeader { storage, writer } = header;
    let release = writer.trim_start_matches('v').splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    OpenError::Unreadable(if storage > NEWEST_READABLE_STORAGE {
        format!(
            "database file {shown} was written by DuckDB {writer} in storage version {storage}, newer than this \
             server's DuckDB {engine} reads; the file was not changed. Convert a copy with DuckDB {release}: \
             ATTACH '{shown}' AS old (READ_ONLY); ATTACH '{converted}' AS new (STORAGE_VERSION 'v1.0.0'); \
             COPY FROM DATABASE old TO new; then pass --db {converted}"
        )
    } else {
        format!(
            "database file {shown} was written by DuckDB {writer} in storage version {storage}, older than this \
             server's DuckDB {engine} reads (0.9 and later); the file was not changed. Convert it: EXPORT DATABASE \
             'folder' with DuckDB {release}, then IMPORT DATABASE 'folder' with DuckDB 1.x into a new file and pass \
             --db with it"
        )
    })
}

/// The newest storage version number DuckDB 1.5 reads (DuckDB 1.4 and 1.5 write 67 with
/// `STORAGE_VERSION 'v1.4.0'` or later; 64 is what v0.10.2 through v1.1 compatibility writes).
const NEWEST_READABLE_STORAGE: u64 = 67;
