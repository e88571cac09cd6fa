//! `healthsim-mcp engine`: what a user (or a bug report) needs to know about the engine
//! under the server: the DuckDB release, the storage version of files it creates and of
//! the file at `--db`, whether the SQL dialect's ICU loads, and which extensions load from
//! `--extension-dir`.

use crate::config::Config;
use crate::engine::{ExtensionOrigin, FileHeader, NEW_FILE_STORAGE, library_version};

/// The report (loading each extension into a scratch in-memory instance to prove it).
pub fn describe(config: &Config) -> String {
    let engine = library_version();
    let mut text = format!(
        "healthsim-mcp {} on DuckDB {engine} ({})\n",
        env!("CARGO_PKG_VERSION"),
        crate::engine::extension_platform()
    );
    text.push_str(&format!(
        "new database files: storage version {NEW_FILE_STORAGE} (readable by DuckDB 1.0 and later: 1.4 LTS, 1.5, 2.0)\n"
    ));
    let path = config.db_path.display();
    // `engine` never opens the file with DuckDB, so reading its header here is safe.
    text.push_str(&match (config.db_path.is_file(), FileHeader::read(&config.db_path)) {
        (false, _) => format!("database {path}: does not exist yet (created at the first write)\n"),
        (true, None) => format!("database {path}: not a DuckDB file\n"),
        (true, Some(FileHeader { storage, writer })) => {
            format!("database {path}: storage version number {storage}, header written by DuckDB {writer}\n")
        }
    });
    let source = &config.extensions;
    text.push_str(&match &source.dir {
        Some(dir) => format!("extensions: from {}", dir.display()),
        None => "extensions: no --extension-dir".to_owned(),
    });
    text.push_str(if source.allow_download { ", downloads allowed\n" } else { ", downloads off\n" });
    for name in crate::engine::DIALECT {
        let line = match source.locate(name) {
            Ok(file) => format!("loaded from {} (SQL dialect: current_date, AT TIME ZONE)", file.display()),
            Err(err) => format!("not available: {err}"),
        };
        text.push_str(&format!("  {name:<11} {line}\n"));
    }
    for (name, outcome) in source.check_all() {
        let line = match outcome {
            Ok(ExtensionOrigin::File(file)) => format!("loaded from {}", file.display()),
            Ok(ExtensionOrigin::Downloaded) => "downloaded and loaded".to_owned(),
            Err(err) => format!("not available: {}", err.lines().next().unwrap_or_default()),
        };
        text.push_str(&format!("  {name:<11} {line}\n"));
    }
    text
}
