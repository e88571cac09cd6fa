//! The `healthsim-mcp` binary: parse the command line, set up logging to stderr, run.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use healthsim_mcp::config::{Cli, Command, Config, Transport};
use healthsim_mcp::synth::Scale;

/// Our own allocations (parsed requests, mapped rows, answers) go to mimalloc: with
/// glibc's malloc, allocating and freeing took ~45% of a save's planning (threads freeing
/// what another thread parsed wait for its arena's lock), and planning 10,000 entities took
/// 37 ms against 17 ms (`plan_save` alone on two threads). DuckDB's C++ keeps glibc's
/// malloc, tuned below. mimalloc is built without transparent huge pages (`no_thp`: a
/// 2 MiB page holding one live block cannot be given back), purges freed pages at once and
/// keeps no empty ones (`memory::tune_own_allocator`), and blocking threads end after 1 s
/// idle (below), so the memory of a large request goes back to the system even from
/// threads that then sit idle: the bench's idle server held 96 MB with mimalloc's
/// defaults, 53 MB so.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tune_malloc();
    healthsim_mcp::memory::tune_own_allocator();
    let cli = Cli::parse();
    let config = match Config::from_args(&cli.server) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("healthsim-mcp: {err:#}");
            return ExitCode::from(2);
        }
    };
    // One-shot commands print their result; their routine logs would only be noise.
    let default_filter = match cli.command {
        None | Some(Command::Serve) => "healthsim_mcp=info,warn",
        Some(_) => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    // Blocking threads (DuckDB calls, mapping) end after a second without work instead of
    // ten: a thread that ends hands its allocator's empty pages back, an idle one keeps them.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(Duration::from_secs(1))
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("healthsim-mcp: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let (Some(remote), Command::Demo { .. } | Command::Migrate | Command::Engine) = (&config.remote, &command) {
        eprintln!(
            "healthsim-mcp: demo, migrate and engine work on a local database file, not on --db {}; pass --db PATH",
            remote.shown()
        );
        return ExitCode::from(2);
    }
    let result = runtime.block_on(async {
        match command {
            Command::Serve => {
                tracing::info!(db = %config.db_path.display(), version = env!("CARGO_PKG_VERSION"), "starting");
                if let Some(memory) = &config.memory {
                    tracing::info!(
                        budget_mib = memory.bytes >> 20,
                        source = %memory.source,
                        max_message_bytes = config.max_message_bytes,
                        "memory limit: larger messages are refused as they arrive"
                    );
                }
                match config.transport.clone() {
                    Transport::Stdio => {
                        let transport = healthsim_mcp::stdio_transport(config.max_message_bytes);
                        healthsim_mcp::run(config, transport, shutdown_signal()).await
                    }
                    Transport::Http(settings) => {
                        healthsim_mcp::mcp::http::serve(config, settings, |_| {}, shutdown_signal()).await
                    }
                }
                .map(|()| ExitCode::SUCCESS)
            }
            Command::Demo { small } => {
                let scale = if small { Scale::SMALL } else { Scale::NATIONAL };
                let report = healthsim_mcp::synth::demo::prepare(&config, scale).await?;
                print_stdout(&healthsim_mcp::synth::demo::describe(&config.db_path, &report));
                Ok(ExitCode::SUCCESS)
            }
            Command::Engine => {
                print_stdout(&healthsim_mcp::engine_info::describe(&config));
                Ok(ExitCode::SUCCESS)
            }
            Command::Migrate => {
                let path = config.db_path.clone();
                let converted = tokio::task::spawn_blocking(move || healthsim_mcp::db::convert_file(&path)).await??;
                print_stdout(&describe_conversion(&config.db_path, &converted));
                Ok(ExitCode::SUCCESS)
            }
            Command::Call { tool, args } => {
                let arguments = healthsim_mcp::client::parse_arguments(args.as_deref())?;
                let outcome = healthsim_mcp::client::call(config, &tool, arguments).await?;
                print_stdout(&format!("{}\n", outcome.text));
                Ok(if outcome.is_error { ExitCode::FAILURE } else { ExitCode::SUCCESS })
            }
        }
    });
    // Blocking threads (a stdin read, say) must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("healthsim-mcp: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// What `migrate` tells the user.
fn describe_conversion(path: &std::path::Path, converted: &healthsim_mcp::db::Converted) -> String {
    let mut text = format!("{}: was {}\n", path.display(), converted.from);
    match &converted.backup {
        Some(backup) => text.push_str(&format!("backup: {}\n", backup.display())),
        None => text.push_str("backup: none needed (already the healthsim-mcp layout)\n"),
    }
    if converted.steps.is_empty() {
        text.push_str("nothing to change: the file is in the healthsim-mcp layout\n");
    }
    for step in &converted.steps {
        text.push_str(&format!("- {step}\n"));
    }
    text
}

/// Writes the output of a one-shot subcommand (never used while serving, where stdout
/// carries JSON-RPC only).
fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::warn!("cannot install signal handlers; stop the server by closing stdin");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

/// glibc tuning for a server that handles the odd huge request and then idles:
///
/// - Threads that allocate at the same time get arenas of their own (up to 8 per core),
///   and memory freed inside an arena mostly stays there: after the benchmark's large
///   saves an idle server held 73 MB with the default, 54 MB with two arenas. One arena
///   would be smaller still but made DuckDB's parallel aggregates 10-20% slower (threads
///   wait for the arena lock); two cost nothing measurable.
/// - Blocks of 1 MiB and more are mapped and unmapped on their own. By default glibc raises
///   that threshold to the largest block freed so far (up to 32 MiB), after which the big
///   buffers of a large request are carved from the arenas and fragment them: the idle
///   heap after the same saves was 10-22 MB from run to run, with the fixed threshold
///   10-11 MB (7 runs), and saves took as long (A/B, 10,000 and 100,000 entities).
///
/// `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` override either. Our own allocator is
/// tuned by `memory::tune_own_allocator` (see [`ALLOCATOR`]).
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: called first thing in main, before any other thread exists.
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        }
    }
}
