//! The MCP face: the transports (`stdio`, `http`), the server handler (`server`), its tools
//! (`tools`), resources (`resources`) and app (`app`). It speaks MCP and calls the typed
//! operations of the data layer's [`Db`](crate::db::Db); it never sees DuckDB.

pub mod app;
pub mod http;
pub mod legacy;
pub mod prompts;
pub mod resources;
pub mod server;
pub mod stdio;
pub mod tools;

use std::future::Future;

use rmcp::service::{RoleServer, ServiceExt};
use rmcp::transport::IntoTransport;

use crate::config::Config;
use crate::db::Db;
use server::{HealthSim, LenientHandshake, Limits, SHUTDOWN_GRACE};
use stdio::LineTransport;

/// The stdio transport with a message-size bound (`Config::max_message_bytes`: at most
/// [`MAX_MESSAGE_BYTES`](crate::memory::MAX_MESSAGE_BYTES); rmcp's default of 16 MiB would silently drop a large save).
pub fn stdio_transport(max_message_bytes: usize) -> impl rmcp::transport::Transport<RoleServer> {
    LineTransport::new(tokio::io::stdin(), tokio::io::stdout(), max_message_bytes)
}

/// Serves MCP on `transport` until the client disconnects or `shutdown` completes, then
/// closes the database so other processes can open it read-write at once.
pub async fn run<T, E, A>(config: Config, transport: T, shutdown: impl Future<Output = ()>) -> anyhow::Result<()>
where
    T: IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let db = Db::open(&config).await?;
    let limits = Limits::from(&config);
    let server = HealthSim::new(db.clone(), limits);
    let transport = LenientHandshake::new(transport.into_transport());
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
