//! Command line and environment: raw `Cli` flags (clap) and the validated `Config` the
//! library runs with.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::engine::{AccessSettings, ExtensionSource};

mod remote_db;
pub use crate::engine::{RemoteDb, RemoteKind};

/// MCP server (stdio or Streamable HTTP) giving Claude and other MCP clients the
/// healthsim_* tools over a HealthSim DuckDB database, sharing the file safely with other
/// processes.
#[derive(Debug, Parser)]
#[command(name = "healthsim-mcp", version, about, long_about = None, allow_negative_numbers = true)]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP server on stdin/stdout (the default when no command is given)
    Serve,
    /// Create or complete a demo database (layout, synthetic reference data, sample
    /// scenarios) at --db, then print what to try next; safe to run again
    Demo {
        /// Generate the small reference data set (5 states) instead of national scale
        #[arg(long)]
        small: bool,
    },
    /// Call one tool on an embedded server and print its JSON result (exit status 1 when
    /// the tool reports an error)
    Call {
        /// Tool name, e.g. healthsim_tables
        tool: String,
        /// Arguments as a JSON object, e.g. '{"limit": 5}' (default {})
        args: Option<String>,
    },
    /// Print the DuckDB engine, the storage version of new files and of --db, and which
    /// extensions (remote engines) load from --extension-dir
    Engine,
    /// Convert --db from a Python HealthSim tooling layout (1.2 to 1.7, scenarios or
    /// cohorts) to the healthsim-mcp layout: a backup copy first, then one transaction;
    /// prints what changed. The server serves those layouts as they are without this; after
    /// it, the tooling can no longer write to the file
    Migrate,
}

/// Settings shared by every subcommand.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// DuckDB database file (created with its directory if missing), or a database on a
    /// server: quack:HOST:PORT, ducklake:sqlite:PATH, ducklake:postgres:CONNINFO, md:NAME
    #[arg(long = "db", env = "HEALTHSIM_DB_PATH", value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,

    /// Never open the database for writing; write tools return an error
    #[arg(long, env = "HEALTHSIM_READ_ONLY", global = true)]
    pub read_only: bool,

    /// Close the read instance after this many idle milliseconds so other processes can
    /// write (0 = never release)
    #[arg(long, env = "HEALTHSIM_IDLE_RELEASE_MS", default_value_t = 2000, value_name = "MS", global = true)]
    pub idle_release_ms: u64,

    /// How long a write waits for other processes to release the file
    #[arg(long, env = "HEALTHSIM_WRITE_TIMEOUT_MS", default_value_t = 10_000, value_name = "MS", global = true)]
    pub write_timeout_ms: u64,

    /// Interrupt a read query after this many milliseconds
    #[arg(long, env = "HEALTHSIM_QUERY_TIMEOUT_MS", default_value_t = 30_000, value_name = "MS", global = true)]
    pub query_timeout_ms: u64,

    /// Memory the server may use, in MiB (default: the process's own limits, if any).
    /// Messages too large to process within it are refused as they arrive, and DuckDB gets
    /// a third of it
    #[arg(long, env = "HEALTHSIM_MAX_MEMORY_MB", value_name = "MIB", global = true)]
    pub max_memory: Option<u64>,

    /// Largest tool result text, in characters (the default fits Claude's clients inline;
    /// above it, tools declare their size so Claude Code keeps results inline)
    #[arg(long, env = "HEALTHSIM_MAX_OUTPUT_CHARS", default_value_t = 50_000, value_name = "N", global = true)]
    pub max_output_chars: usize,

    /// Indent the JSON text of tool results, for people reading raw output (the model
    /// reads compact JSON; sizes are measured on it)
    #[arg(long, env = "HEALTHSIM_PRETTY", global = true)]
    pub pretty: bool,

    /// Most entities one healthsim_save_scenario call may carry
    #[arg(long, env = "HEALTHSIM_MAX_SAVE_ENTITIES", default_value_t = 200_000, value_name = "N", global = true)]
    pub max_save_entities: usize,

    /// How clients connect: stdio (one client, launched by it) or http (Streamable HTTP at
    /// http://LISTEN/mcp, many clients sharing one server; bearer token from
    /// HEALTHSIM_MCP_TOKEN)
    #[arg(long, env = "HEALTHSIM_TRANSPORT", value_enum, default_value_t = TransportKind::Stdio, global = true)]
    pub transport: TransportKind,

    /// Address the http transport listens on (a non-loopback address needs HEALTHSIM_MCP_TOKEN)
    #[arg(long, env = "HEALTHSIM_LISTEN", default_value = "127.0.0.1:8765", value_name = "ADDR", global = true)]
    pub listen: String,

    /// Host names or addresses (optionally with :PORT) clients on other machines use to
    /// reach the http transport; loopback names and the listen address are always accepted
    #[arg(long, env = "HEALTHSIM_ALLOWED_HOSTS", value_name = "NAME[,NAME...]", value_delimiter = ',', global = true)]
    pub allowed_hosts: Vec<String>,

    /// Browser origins (scheme://host[:port]) allowed to call the http transport; a request
    /// with any other Origin than these or loopback gets 403
    #[arg(
        long,
        env = "HEALTHSIM_ALLOWED_ORIGINS",
        value_name = "ORIGIN[,ORIGIN...]",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_origins: Vec<String>,

    /// Folder the server loads DuckDB extensions from (the remote engines' quack, httpfs,
    /// ducklake, ...), by name and from nowhere else: NAME.duckdb_extension files, a DuckDB
    /// extension directory, or a site-packages with duckdb-extension-NAME wheels
    #[arg(long, env = "HEALTHSIM_EXTENSION_DIR", value_name = "DIR", global = true)]
    pub extension_dir: Option<PathBuf>,

    /// Download extensions missing from --extension-dir from DuckDB's repository
    #[arg(long, env = "HEALTHSIM_ALLOW_EXTENSION_DOWNLOAD", global = true)]
    pub allow_extension_download: bool,
}

/// The transports `--transport` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportKind {
    Stdio,
    Http,
}

/// How the server is reached, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http(HttpSettings),
}

/// The http transport's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub listen: std::net::SocketAddr,
    /// Bearer token every request must carry (`HEALTHSIM_MCP_TOKEN`).
    pub token: Option<String>,
    /// `Host` values accepted besides loopback and the listen address (`--allowed-hosts`).
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted besides loopback, each `scheme://host:port`
    /// (`--allowed-origins`; a missing port is the scheme's default).
    pub allowed_origins: Vec<String>,
}

/// Validated settings; every field is in range.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute path of the database file.
    pub db_path: PathBuf,
    /// Set when `--db` names a database server instead of a file (`db_path` then holds
    /// the address as given, for messages).
    pub remote: Option<RemoteDb>,
    /// The server never opens the file read-write.
    pub read_only: bool,
    /// `None` = keep the read instance open forever.
    pub idle_release: Option<Duration>,
    pub write_timeout: Duration,
    pub query_timeout: Duration,
    pub max_output_chars: usize,
    /// `--pretty`: tool result text indented.
    pub pretty: bool,
    pub max_save_entities: usize,
    /// `--max-memory` or the process's limits; `None` when unlimited.
    pub memory: Option<crate::memory::Budget>,
    /// The largest message a transport reads: 256 MiB, or less under a memory budget.
    pub max_message_bytes: usize,
    pub transport: Transport,
    /// Where DuckDB extensions come from (`--extension-dir`, `--allow-extension-download`).
    pub extensions: ExtensionSource,
}

impl Config {
    /// Validates raw flags; errors name the flag, the value and the accepted range.
    pub fn from_args(args: &ServerArgs) -> anyhow::Result<Config> {
        let db_path = match &args.db {
            Some(path) if path.as_os_str().is_empty() => bail!("--db must not be empty"),
            Some(path) => path.clone(),
            None => default_db_path()?,
        };
        let cwd = std::env::current_dir().context("cannot read the current directory to resolve --db")?;
        let remote = RemoteDb::parse(&db_path.to_string_lossy(), &cwd)?;
        let db_path = if db_path.is_absolute() || remote.is_some() {
            db_path
        } else {
            std::env::current_dir().context("cannot read the current directory to resolve --db")?.join(db_path)
        };
        check_range("--idle-release-ms", args.idle_release_ms, 0, 86_400_000)?;
        check_range("--write-timeout-ms", args.write_timeout_ms, 1, 3_600_000)?;
        check_range("--query-timeout-ms", args.query_timeout_ms, 1, 3_600_000)?;
        check_range("--max-output-chars", args.max_output_chars as u64, 1_000, 100_000_000)?;
        check_range("--max-save-entities", args.max_save_entities as u64, 1, 10_000_000)?;
        if let Some(mib) = args.max_memory {
            check_range("--max-memory", mib, 256, 1 << 30)?;
        }
        let memory = crate::memory::Budget::detect(args.max_memory);
        let max_message_bytes = memory
            .as_ref()
            .map_or(crate::memory::MAX_MESSAGE_BYTES, |m| m.max_message_bytes().min(crate::memory::MAX_MESSAGE_BYTES));
        let transport = match args.transport {
            TransportKind::Stdio => Transport::Stdio,
            TransportKind::Http => {
                let listen: std::net::SocketAddr = args.listen.trim().parse().map_err(|_| {
                    anyhow::anyhow!(
                        "--listen must be an IP address and port such as 127.0.0.1:8765 (got '{}')",
                        args.listen
                    )
                })?;
                let token = match std::env::var("HEALTHSIM_MCP_TOKEN") {
                    Ok(token) if token.trim().is_empty() => {
                        bail!("HEALTHSIM_MCP_TOKEN is set but empty; set a token or unset it")
                    }
                    Ok(token) => Some(token.trim().to_owned()),
                    Err(_) => None,
                };
                check_listen(listen, token.as_deref())?;
                let allowed_hosts =
                    args.allowed_hosts.iter().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty()).collect();
                let allowed_origins = args
                    .allowed_origins
                    .iter()
                    .map(|o| o.trim())
                    .filter(|o| !o.is_empty())
                    .map(normalize_origin)
                    .collect::<anyhow::Result<_>>()?;
                Transport::Http(HttpSettings { listen, token, allowed_hosts, allowed_origins })
            }
        };
        let extension_dir = match &args.extension_dir {
            Some(dir) if !dir.is_dir() => {
                bail!("--extension-dir {} is not a directory; create it or pass another folder", dir.display())
            }
            Some(dir) => Some(std::path::absolute(dir).context("cannot resolve --extension-dir")?),
            None => None,
        };
        Ok(Config {
            db_path,
            remote,
            read_only: args.read_only,
            idle_release: (args.idle_release_ms > 0).then(|| Duration::from_millis(args.idle_release_ms)),
            write_timeout: Duration::from_millis(args.write_timeout_ms),
            query_timeout: Duration::from_millis(args.query_timeout_ms),
            max_output_chars: args.max_output_chars,
            pretty: args.pretty,
            max_save_entities: args.max_save_entities,
            memory,
            max_message_bytes,
            transport,
            extensions: ExtensionSource { dir: extension_dir, allow_download: args.allow_extension_download },
        })
    }

    /// A configuration with defaults for `db_path`; for tests and embedding.
    pub fn for_path(db_path: impl Into<PathBuf>) -> Config {
        Config {
            db_path: db_path.into(),
            remote: None,
            read_only: false,
            idle_release: Some(Duration::from_millis(2000)),
            write_timeout: Duration::from_millis(10_000),
            query_timeout: Duration::from_millis(30_000),
            max_output_chars: 50_000,
            pretty: false,
            max_save_entities: 200_000,
            memory: None,
            max_message_bytes: crate::memory::MAX_MESSAGE_BYTES,
            transport: Transport::Stdio,
            extensions: ExtensionSource::default(),
        }
    }
}

/// Checks the listen address against the token rule before anything is opened.
pub fn check_listen(listen: std::net::SocketAddr, token: Option<&str>) -> anyhow::Result<()> {
    if token.is_none() && !listen.ip().is_loopback() {
        bail!(
            "--listen {listen} is not a loopback address; set HEALTHSIM_MCP_TOKEN so clients must authenticate, or listen on 127.0.0.1"
        );
    }
    Ok(())
}

/// The data layer's settings (and within them the engine's): what `Db::open` takes.
impl From<&Config> for crate::db::Settings {
    fn from(config: &Config) -> crate::db::Settings {
        crate::db::Settings {
            engine: crate::engine::Settings {
                file: AccessSettings {
                    path: config.db_path.clone(),
                    write_timeout: config.write_timeout,
                    query_timeout: config.query_timeout,
                    idle_release: config.idle_release,
                    duckdb_memory: config.memory.as_ref().map(crate::memory::Budget::duckdb_limit),
                    // Found when the database opens (`Db::open`), not while reading flags.
                    dialect: Vec::new(),
                },
                remote: config.remote.clone(),
                extensions: config.extensions.clone(),
            },
            read_only: config.read_only,
        }
    }
}

/// `scheme://host[:port]` with the port made explicit (the scheme's default when absent),
/// so it matches exactly that origin.
fn normalize_origin(origin: &str) -> anyhow::Result<String> {
    let refuse = || {
        anyhow::anyhow!(
            "--allowed-origins: '{origin}' is not an origin such as https://app.example.com or http://10.0.0.5:3000"
        )
    };
    let (scheme, rest) = origin.split_once("://").ok_or_else(refuse)?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(refuse()),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(refuse());
    }
    let has_port = match authority.rsplit_once(':') {
        Some((host, port)) => !host.ends_with(':') && (port == "*" || port.parse::<u16>().is_ok()) && !port.is_empty(),
        None => false,
    } && !authority.ends_with(']');
    Ok(if has_port { format!("{scheme}://{authority}") } else { format!("{scheme}://{authority}:{default_port}") })
}

fn check_range(flag: &str, value: u64, min: u64, max: u64) -> anyhow::Result<()> {
    if !(min..=max).contains(&value) {
        bail!("{flag} must be between {min} and {max} (got {value})");
    }
    Ok(())
}

/// `~/.healthsim/healthsim.duckdb`.
fn default_db_path() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set; pass --db or set HEALTHSIM_DB_PATH")?;
    Ok(PathBuf::from(home).join(".healthsim").join("healthsim.duckdb"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a token only loopback addresses may be used.
    #[test]
    fn listen_rule() {
        assert!(check_listen("127.0.0.1:8765".parse().unwrap(), None).is_ok());
        assert!(check_listen("[::1]:8765".parse().unwrap(), None).is_ok());
        let refused = check_listen("0.0.0.0:8765".parse().unwrap(), None).unwrap_err().to_string();
        assert!(refused.contains("set HEALTHSIM_MCP_TOKEN"), "{refused}");
        assert!(check_listen("0.0.0.0:8765".parse().unwrap(), Some("t")).is_ok());
    }

    fn parse(args: &[&str]) -> anyhow::Result<Config> {
        let cli = Cli::try_parse_from(std::iter::once("healthsim-mcp").chain(args.iter().copied()))?;
        Config::from_args(&cli.server)
    }

    /// Defaults, relative paths made absolute, and 0 meaning "never release".
    #[test]
    fn defaults_and_paths() {
        let config = parse(&["--db", "rel.duckdb", "--idle-release-ms", "0"]).unwrap();
        assert!(config.db_path.is_absolute());
        assert!(config.db_path.ends_with("rel.duckdb"));
        assert_eq!(config.idle_release, None);
        assert_eq!(config.write_timeout, Duration::from_secs(10));
        assert_eq!(config.max_save_entities, 200_000);
    }

    /// Out-of-range values name the flag, the range and the value received.
    #[test]
    fn invalid_values_are_explained() {
        let err = parse(&["--db", "/tmp/x.duckdb", "--write-timeout-ms", "0"]).unwrap_err();
        assert_eq!(err.to_string(), "--write-timeout-ms must be between 1 and 3600000 (got 0)");
        let err = parse(&["--db", "/tmp/x.duckdb", "--max-output-chars", "5"]).unwrap_err();
        assert_eq!(err.to_string(), "--max-output-chars must be between 1000 and 100000000 (got 5)");
    }

    /// Origins get an explicit port; anything that is not an origin is refused by name.
    #[test]
    fn origins_are_normalized() {
        assert_eq!(normalize_origin("https://app.example.com").unwrap(), "https://app.example.com:443");
        assert_eq!(normalize_origin("http://10.0.0.5:3000/").unwrap(), "http://10.0.0.5:3000");
        assert_eq!(normalize_origin("http://[::1]").unwrap(), "http://[::1]:80");
        assert_eq!(normalize_origin("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        assert_eq!(normalize_origin("http://lan:*").unwrap(), "http://lan:*");
        for bad in ["app.example.com", "ftp://x", "https://", "https://x/path", "https://u@x"] {
            let err = normalize_origin(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--allowed-origins: '{bad}' is not an origin")), "{err}");
        }
    }
}
