//! healthsim-mcp: an MCP server giving ten `healthsim_*` tools (and resources) over a HealthSim DuckDB
//! database that it shares safely with other processes.
//!
//! The binary is thin: it parses `config::Cli`, builds a `Config` and calls [`run`] with
//! the stdio transport and a shutdown signal. Tests call [`run`] with their own.

#![deny(clippy::print_stdout)]

pub mod app;
pub mod client;
pub mod config;
pub mod db;
pub mod demo;
pub mod engine_info;
pub mod http;
pub mod memory;
pub mod model;
pub mod resources;
pub mod server;
pub mod stdio;
pub mod tools;

use std::future::Future;
use std::time::Duration;

use rmcp::service::{RoleServer, ServiceExt};
use rmcp::transport::IntoTransport;

pub use config::Config;
use db::Db;
use server::{HealthSim, Limits};

/// How long shutdown waits for a write in progress before closing anyway (the write
/// then finishes or rolls back in its own thread before the process exits).
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Largest JSON-RPC message accepted (a stdio line or an HTTP body): a save of
/// `--max-save-entities` entities fits, while memory stays bounded.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// The stdio transport with a message-size bound (`Config::max_message_bytes`: at most
/// [`MAX_MESSAGE_BYTES`]; rmcp's default of 16 MiB would silently drop a large save).
pub fn stdio_transport(max_message_bytes: usize) -> impl rmcp::transport::Transport<RoleServer> {
    stdio::LineTransport::new(tokio::io::stdin(), tokio::io::stdout(), max_message_bytes)
}

/// Serves MCP on `transport` until the client disconnects or `shutdown` completes, then
/// closes the database so other processes can open it read-write at once.
pub async fn run<T, E, A>(config: Config, transport: T, shutdown: impl Future<Output = ()>) -> anyhow::Result<()>
where
    T: IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let db = Db::open(&config).await?;
    let limits = Limits { max_output_chars: config.max_output_chars, max_save_entities: config.max_save_entities };
    let server = HealthSim::new(db.clone(), limits);
    let transport = server::LenientHandshake::new(transport.into_transport());
    tokio::pin!(shutdown);
    let outcome = tokio::select! {
        started = server.serve(transport) => match started {
            Ok(service) => {
                let token = service.cancellation_token();
                let waiting = service.waiting();
                tokio::pin!(waiting);
                tokio::select! {
                    quit = &mut waiting => tracing::info!(?quit, "client disconnected"),
                    _ = &mut shutdown => {
                        tracing::info!("shutdown requested");
                        token.cancel();
                        let _ = waiting.await;
                    }
                }
                Ok(())
            }
            Err(err) => {
                tracing::warn!("client went away before initialization finished: {err}");
                Ok(())
            }
        },
        _ = &mut shutdown => {
            tracing::info!("shutdown requested before initialization");
            Ok(())
        }
    };
    db.shutdown(SHUTDOWN_GRACE).await;
    tracing::info!("database closed");
    outcome
}
