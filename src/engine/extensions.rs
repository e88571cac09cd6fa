//! DuckDB extensions the server loads for itself (the remote engines of `--db quack:`,
//! `md:` and `ducklake:`): from `--extension-dir` only, by name, or from DuckDB's
//! repository when `--allow-extension-download` says so. Nothing is ever autoloaded or
//! autoinstalled, and user SQL loads nothing: the read instance refuses LOAD and INSTALL
//! (ARCHITECTURE.md invariant 6).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use duckdb::{Config, Connection};

use super::native::library_version;

/// Extensions of the SQL dialect, loaded into every read instance when found.
pub const DIALECT: [&str; 1] = ["icu"];

/// Extensions the remote engines need, in the order `engine` reports them.
pub const KNOWN: [&str; 6] = ["httpfs", "quack", "ducklake", "sqlite", "postgres", "motherduck"];

/// Where extensions come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionSource {
    /// `--extension-dir`: the only place extension files are loaded from.
    pub dir: Option<PathBuf>,
    /// `--allow-extension-download`: `INSTALL` from DuckDB's repository when no file is found.
    pub allow_download: bool,
}

/// How an extension was (or would be) loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Downloaded,
}

impl ExtensionSource {
    /// Loads `name` into the instance of `conn` from the configured source; the error says
    /// where it looked and what to do.
    pub fn load(&self, conn: &Connection, name: &str) -> anyhow::Result<Origin> {
        let entry = entry_name(name);
        if let Some(file) = self.dir.as_deref().and_then(|dir| self.find(dir, name)) {
            let file = loadable_path(&file, entry)?;
            conn.execute_batch(&format!("LOAD '{}'", file.display().to_string().replace('\'', "''")))
                .with_context(|| format!("cannot load extension {name} from {}", file.display()))?;
            return Ok(Origin::File(file));
        }
        if self.allow_download {
            conn.execute_batch(&format!("INSTALL {entry}; LOAD {entry};"))
                .with_context(|| format!("cannot download extension {name} from DuckDB's repository"))?;
            return Ok(Origin::Downloaded);
        }
        let engine = library_version();
        match &self.dir {
            Some(dir) => bail!(
                "extension {name} is not in --extension-dir {}: put {entry}.duckdb_extension for DuckDB {engine} there \
                 (PyPI: pip install duckdb-extension-{name}=={}), or pass --allow-extension-download",
                dir.display(),
                engine.trim_start_matches('v')
            ),
            None => bail!(
                "extension {name} is needed but no --extension-dir was given: pass --extension-dir DIR holding \
                 {entry}.duckdb_extension for DuckDB {engine} (PyPI: duckdb-extension-{name}=={}), or \
                 --allow-extension-download",
                engine.trim_start_matches('v')
            ),
        }
    }

    /// The extension file for `name` under `dir`, in any of the layouts people have: the
    /// file itself, DuckDB's own extension directory (`v1.5.5/linux_amd64/`), or a Python
    /// site-packages with the `duckdb-extension-<name>` wheel installed.
    pub fn find(&self, dir: &Path, name: &str) -> Option<PathBuf> {
        let engine = library_version();
        let file_names = [format!("{}.duckdb_extension", entry_name(name)), format!("{name}.duckdb_extension")];
        let folders = [
            dir.to_owned(),
            dir.join(&engine).join(platform()),
            dir.join(format!("duckdb_extension_{name}")).join("extensions").join(&engine),
        ];
        folders.iter().flat_map(|folder| file_names.iter().map(move |file| folder.join(file))).find(|p| p.is_file())
    }

    /// The extension files of the SQL dialect user SQL is written in (ICU: `current_date`,
    /// `AT TIME ZONE`, time zone aware timestamps, as in the duckdb CLI and Python duckdb,
    /// which have it built in), each checked by loading it into a scratch instance. One
    /// that cannot be found or loaded is left out with a warning saying how to add it.
    /// Looked up once per source in a process.
    pub fn dialect(&self) -> Vec<PathBuf> {
        static FOUND: Mutex<Vec<(ExtensionSource, Vec<PathBuf>)>> = Mutex::new(Vec::new());
        let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, files)) = found.iter().find(|(source, _)| source == self) {
            return files.clone();
        }
        let files: Vec<PathBuf> = DIALECT
            .iter()
            .filter_map(|name| match self.locate(name) {
                Ok(file) => Some(file),
                Err(reason) => {
                    tracing::info!("{reason}; SQL that needs it (current_date, AT TIME ZONE) fails until it is added");
                    None
                }
            })
            .collect();
        found.push((self.clone(), files.clone()));
        files
    }

    /// A loadable file of `name`: from `--extension-dir`, beside this program (the MCP
    /// Bundle's `extensions/`, the site-packages of the venv the Python wheel installed it
    /// into), DuckDB's own extension directory (`~/.duckdb/extensions`), or downloaded
    /// there when `--allow-extension-download` says so.
    pub fn locate(&self, name: &str) -> Result<PathBuf, String> {
        let mut dirs: Vec<PathBuf> = self.dir.iter().cloned().collect();
        dirs.extend(beside_program());
        let home = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".duckdb").join("extensions"));
        dirs.extend(home.clone());
        let found = || dirs.iter().find_map(|dir| self.find(dir, name));
        let file = match found() {
            Some(file) => file,
            None if self.allow_download => {
                scratch()
                    .and_then(|conn| Ok(conn.execute_batch(&format!("INSTALL {}", entry_name(name)))?))
                    .map_err(|err| format!("extension {name} could not be downloaded: {err:#}"))?;
                found().ok_or_else(|| format!("extension {name} was downloaded but is not in ~/.duckdb/extensions"))?
            }
            None => {
                return Err(format!(
                    "extension {name} was not found (pip install duckdb-extension-{name}=={} and pass --extension-dir \
                     with that site-packages, or pass --allow-extension-download)",
                    library_version().trim_start_matches('v')
                ));
            }
        };
        let loadable = loadable_path(&file, entry_name(name)).map_err(|err| format!("{err:#}"))?;
        scratch()
            .and_then(|conn| {
                Ok(conn.execute_batch(&format!("LOAD '{}'", loadable.display().to_string().replace('\'', "''")))?)
            })
            .map_err(|err| format!("extension {name} at {} cannot be loaded: {err:#}", file.display()))?;
        Ok(loadable)
    }

    /// Loads each known extension into a scratch in-memory instance: what `engine`
    /// reports, so a user can see which remote engines this installation can use.
    pub fn check_all(&self) -> Vec<(&'static str, Result<Origin, String>)> {
        KNOWN
            .iter()
            .map(|name| {
                let outcome = scratch().and_then(|conn| self.load(&conn, name)).map_err(|e| format!("{e:#}"));
                (*name, outcome)
            })
            .collect()
    }
}

/// Where an installation beside this program keeps extension files: `extensions/` next to
/// the executable (the MCP Bundle), `share/healthsim-mcp/extensions` of the venv whose
/// `bin/` holds it (the Python wheel's data: `pip install healthsim-mcp`, `uvx`), and that
/// venv's site-packages, where the `duckdb-extension-*` wheels put theirs.
fn beside_program() -> Vec<PathBuf> {
    let Some(bin) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_owned)) else {
        return Vec::new();
    };
    let mut dirs = vec![bin.join("extensions")];
    if let Some(prefix) = bin.parent() {
        // The Python wheel's data files.
        dirs.push(prefix.join("share").join("healthsim-mcp").join("extensions"));
        // Windows venvs: Lib/site-packages; elsewhere lib/pythonX.Y/site-packages.
        dirs.push(prefix.join("Lib").join("site-packages"));
        if let Ok(entries) = std::fs::read_dir(prefix.join("lib")) {
            let mut pythons: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path().join("site-packages"))
                .filter(|p| {
                    p.parent().and_then(Path::file_name).is_some_and(|n| n.to_string_lossy().starts_with("python"))
                })
                .collect();
            pythons.sort();
            dirs.extend(pythons);
        }
    }
    dirs.retain(|dir| dir.is_dir());
    dirs
}

/// The name DuckDB expects in an extension's file name (its entry point is derived from
/// it): the scanners keep their historical names.
fn entry_name(name: &str) -> &str {
    match name {
        "sqlite" => "sqlite_scanner",
        "postgres" => "postgres_scanner",
        other => other,
    }
}

/// `file`, or a link to it named after its entry point when its name differs (the sqlite
/// and postgres wheels ship `sqlite.duckdb_extension`, which DuckDB loads only as
/// `sqlite_scanner.duckdb_extension`: it derives the entry point from the file name). The
/// link lives in a folder of ours under the temp dir, one per source file; the user's
/// directory is never written.
fn loadable_path(file: &Path, entry: &str) -> anyhow::Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let wanted = format!("{entry}.duckdb_extension");
    if file.file_name().is_some_and(|n| n == wanted.as_str()) {
        return Ok(file.to_owned());
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    file.hash(&mut hasher);
    // SAFETY: getuid has no preconditions.
    let user = unsafe { libc::getuid() };
    let folder =
        std::env::temp_dir().join(format!("healthsim-mcp-extensions-{user}")).join(format!("{:016x}", hasher.finish()));
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let link = folder.join(wanted);
    if std::fs::read_link(&link).ok().as_deref() != Some(file) {
        let _ = std::fs::remove_file(&link);
        if let Err(err) = std::os::unix::fs::symlink(file, &link)
            && std::fs::read_link(&link).ok().as_deref() != Some(file)
        {
            return Err(err).with_context(|| format!("cannot link {} as {}", file.display(), link.display()));
        }
    }
    Ok(link)
}

/// DuckDB's platform name, e.g. `linux_amd64`.
pub fn platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "osx",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{os}_{arch}")
}

/// An in-memory instance with the server's extension settings (no autoload, no
/// autoinstall), for checks.
fn scratch() -> anyhow::Result<Connection> {
    let config =
        Config::default().with("autoload_known_extensions", "false")?.with("autoinstall_known_extensions", "false")?;
    Ok(Connection::open_in_memory_with_flags(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a directory and without downloads, loading names both ways out.
    #[test]
    fn nothing_is_loaded_from_anywhere_else() {
        let source = ExtensionSource::default();
        let conn = scratch().unwrap();
        let err = source.load(&conn, "quack").unwrap_err().to_string();
        assert!(err.contains("no --extension-dir was given") && err.contains("--allow-extension-download"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let source = ExtensionSource { dir: Some(dir.path().to_owned()), allow_download: false };
        let err = source.load(&conn, "sqlite").unwrap_err().to_string();
        assert!(err.contains("sqlite_scanner.duckdb_extension") && err.contains("duckdb-extension-sqlite=="), "{err}");
        let loaded: i64 = conn
            .query_row(
                "SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = 'sqlite_scanner'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(loaded, 0);
    }

    /// Each layout of the directory is searched: the file itself, DuckDB's own extension
    /// directory, a site-packages with the wheel.
    #[test]
    fn every_directory_layout_is_searched() {
        let dir = tempfile::tempdir().unwrap();
        let source = ExtensionSource { dir: Some(dir.path().to_owned()), allow_download: false };
        let engine = library_version();
        let cases = [
            (dir.path().join("httpfs.duckdb_extension"), "httpfs"),
            (dir.path().join(&engine).join(platform()).join("quack.duckdb_extension"), "quack"),
            (
                dir.path()
                    .join("duckdb_extension_sqlite")
                    .join("extensions")
                    .join(&engine)
                    .join("sqlite.duckdb_extension"),
                "sqlite",
            ),
        ];
        for (file, name) in &cases {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, b"not really an extension").unwrap();
            assert_eq!(source.find(dir.path(), name).as_ref(), Some(file), "{name}");
        }
        assert_eq!(source.find(dir.path(), "ducklake"), None);
        // A file that is not an extension is refused by DuckDB, with the path named.
        let conn = scratch().unwrap();
        let err = format!("{:#}", source.load(&conn, "httpfs").unwrap_err());
        assert!(err.contains("cannot load extension httpfs from"), "{err}");
    }
}
