//! `--db` naming a database on a server instead of a file: a Quack server, a DuckLake, or
//! MotherDuck, read into the engine's [`RemoteDb`] with the secrets it needs (never logged
//! or shown).

use std::path::{Path, PathBuf};

use crate::engine::{RemoteDb, RemoteKind};

use anyhow::bail;

impl RemoteDb {
    /// `Some` for a `--db` of a remote database; an error (one line) for one that is
    /// malformed or lacks its token.
    pub fn parse(db: &str, cwd: &Path) -> anyhow::Result<Option<RemoteDb>> {
        let lower = db.to_ascii_lowercase();
        if let Some(address) = lower.strip_prefix("quack:").map(|_| &db["quack:".len()..]) {
            let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) && !host.contains(['/', '\'', ' '])
            });
            if !valid {
                bail!("--db {db} is not a Quack address: use quack:HOST:PORT, e.g. quack:db.example.org:9494");
            }
            let Some(token) = env_secret(&["HEALTHSIM_QUACK_TOKEN"]) else {
                bail!(
                    "--db {db} needs the Quack server's token in HEALTHSIM_QUACK_TOKEN (the token its quack_serve was given)"
                )
            };
            return Ok(Some(RemoteDb { kind: RemoteKind::Quack, uri: db.to_owned(), token, data_path: None }));
        }
        if lower.starts_with("ducklake:") {
            return Ok(Some(ducklake(db, cwd)?));
        }
        if lower.starts_with("md:") || lower.starts_with("motherduck:") {
            let name = db.split_once(':').map(|(_, n)| n).unwrap_or_default();
            if name.contains(['\'', '?']) {
                bail!("--db {db}: name the database only (md:NAME); the token comes from motherduck_token");
            }
            let Some(token) = env_secret(&["motherduck_token", "MOTHERDUCK_TOKEN"]) else {
                bail!("--db {db} needs a MotherDuck token in motherduck_token (create one in MotherDuck's settings)")
            };
            return Ok(Some(RemoteDb {
                kind: RemoteKind::MotherDuck,
                uri: format!("md:{name}"),
                token,
                data_path: None,
            }));
        }
        Ok(None)
    }
}

/// `ducklake:[sqlite:|postgres:|duckdb:]CATALOG`: a local catalog path is made absolute
/// (another working directory must find the same lake), and the data path defaults beside it.
fn ducklake(db: &str, cwd: &Path) -> anyhow::Result<RemoteDb> {
    let rest = &db["ducklake:".len()..];
    let (scheme, catalog) = match rest.split_once(':') {
        Some((scheme @ ("sqlite" | "duckdb" | "postgres"), catalog)) => (Some(scheme), catalog),
        _ => (None, rest),
    };
    if catalog.trim().is_empty() || catalog.contains('\'') {
        bail!(
            "--db {db} is not a DuckLake catalog: use ducklake:sqlite:PATH, ducklake:PATH or ducklake:postgres:CONNINFO"
        );
    }
    let configured = std::env::var_os("HEALTHSIM_DUCKLAKE_DATA_PATH").filter(|p| !p.is_empty()).map(PathBuf::from);
    let (uri, beside) = match scheme {
        Some("postgres") => (db.to_owned(), None),
        _ => {
            let path = cwd.join(catalog);
            let prefix = scheme.map(|s| format!("{s}:")).unwrap_or_default();
            let beside = PathBuf::from(format!("{}.files", path.display()));
            (format!("ducklake:{prefix}{}", path.display()), Some(beside))
        }
    };
    let data_path = configured.map(|p| cwd.join(p)).or(beside);
    if data_path.as_ref().is_some_and(|p| p.to_string_lossy().contains('\'')) {
        bail!("HEALTHSIM_DUCKLAKE_DATA_PATH must not contain a single quote");
    }
    // A password in the connection string is kept out of every message (libpq also reads
    // PGPASSWORD and ~/.pgpass, which README recommends).
    let token = match scheme {
        Some("postgres") => conninfo_password(catalog).unwrap_or_default(),
        _ => String::new(),
    };
    Ok(RemoteDb { kind: RemoteKind::DuckLake, uri, token, data_path })
}

/// The password of a libpq connection string: `password=...` (quoted or not) or the
/// `user:password@` of a `postgresql://` URI.
fn conninfo_password(conninfo: &str) -> Option<String> {
    let conninfo = conninfo.trim();
    if let Some(rest) = conninfo.strip_prefix("postgresql://").or_else(|| conninfo.strip_prefix("postgres://")) {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (userinfo, _) = authority.rsplit_once('@')?;
        return userinfo.split_once(':').map(|(_, password)| password.to_owned()).filter(|p| !p.is_empty());
    }
    let at = conninfo.match_indices("password").find(|(i, _)| *i == 0 || conninfo.as_bytes()[i - 1] == b' ')?.0;
    let value = conninfo[at + "password".len()..].trim_start().strip_prefix('=')?.trim_start();
    let password = match value.strip_prefix('\'') {
        Some(quoted) => quoted.split('\'').next().unwrap_or_default(),
        None => value.split_whitespace().next().unwrap_or_default(),
    };
    Some(password.to_owned()).filter(|p| !p.is_empty())
}

fn env_secret(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ducklake_paths_are_absolute_with_data_beside() {
        let cwd = Path::new("/work/x");
        let lake = RemoteDb::parse("ducklake:sqlite:lake/cat.sqlite", cwd).unwrap().unwrap();
        assert_eq!(lake.kind, RemoteKind::DuckLake);
        assert_eq!(lake.uri, "ducklake:sqlite:/work/x/lake/cat.sqlite");
        assert_eq!(lake.data_path.as_deref(), Some(Path::new("/work/x/lake/cat.sqlite.files")));
        let pg = RemoteDb::parse("ducklake:postgres:dbname=lake host=db", cwd).unwrap().unwrap();
        assert_eq!(pg.uri, "ducklake:postgres:dbname=lake host=db");
        assert!(pg.token.is_empty());
        let secret = RemoteDb::parse("ducklake:postgres:host=db password=s3cr3t dbname=lake", cwd).unwrap().unwrap();
        assert_eq!(secret.token, "s3cr3t");
        assert_eq!(secret.shown(), "ducklake:postgres:host=db password=<token> dbname=lake");
        let uri = RemoteDb::parse("ducklake:postgres:postgresql://me:pw@db:5432/lake", cwd).unwrap().unwrap();
        assert_eq!(uri.token, "pw");
        assert!(RemoteDb::parse("ducklake:", cwd).is_err());
        assert!(RemoteDb::parse("quack:nohost", cwd).is_err());
        assert!(RemoteDb::parse("/tmp/a.duckdb", cwd).unwrap().is_none());
    }
}
