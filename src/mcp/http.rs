//! The Streamable HTTP transport (`--transport http`): one server process, one `Db` and
//! so one write dispatcher shared by many clients (several agents, a notebook, a second
//! desktop app): the central write service that makes multi-client writes safe.
//!
//! Every MCP session gets its own `HealthSim` over the shared `Db`. With
//! `HEALTHSIM_MCP_TOKEN` set, every request needs `Authorization: Bearer <token>`
//! (compared in constant time); without a token the server only listens on loopback.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use crate::config::{Config, HttpSettings, check_listen};
use crate::db::Db;
use crate::mcp::server::{HealthSim, Limits};

/// Serves MCP over HTTP at `http://<listen>/mcp` until `shutdown` completes. `ready`
/// receives the bound address (useful with port 0).
pub async fn serve(
    config: Config,
    settings: HttpSettings,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let HttpSettings { listen, token, allowed_hosts: extra_hosts, allowed_origins: extra_origins } = settings;
    check_listen(listen, token.as_deref())?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
        format!("cannot listen on {listen}; is another server using that port? pass another --listen")
    })?;
    let bound = listener.local_addr().context("cannot read the bound address")?;
    let db = Db::open(&config).await?;
    let limits = Limits::from(&config);
    let stop = tokio_util::sync::CancellationToken::new();
    // Host: loopback names, the address we listen on, and what the operator listed (the
    // names and LAN addresses clients on other machines use). Origin: browsers on this
    // machine and the listed origins; a present Origin that is neither gets 403 (DNS
    // rebinding and cross-site requests), while clients that send none (SDKs, curl) pass.
    let mut allowed_hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    allowed_hosts.push(bound.ip().to_string());
    allowed_hosts.push(bound.to_string());
    allowed_hosts.extend(extra_hosts);
    let mut allowed_origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .flat_map(|host| [format!("http://{host}:*"), format!("https://{host}:*")])
        .collect();
    allowed_origins.extend(extra_origins);
    tracing::debug!(?allowed_hosts, ?allowed_origins, "http request checks");
    let mut http_config =
        StreamableHttpServerConfig::default().with_allowed_hosts(allowed_hosts).with_allowed_origins(allowed_origins);
    http_config.cancellation_token = stop.child_token();
    http_config.max_request_body_bytes = config.max_message_bytes;
    let factory_db = db.clone();
    let service = StreamableHttpService::new(
        move || Ok(HealthSim::new(factory_db.clone(), limits)),
        Arc::new(LocalSessionManager::default()),
        http_config,
    );
    let token: Arc<Option<String>> = Arc::new(token);
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(session_end_is_ok))
        .layer(middleware::from_fn_with_state(config.max_message_bytes, oversize_names_the_limit))
        .layer(middleware::from_fn_with_state(Arc::clone(&token), authorize));
    tracing::info!(address = %bound, auth = token.is_some(), "listening on http://{bound}/mcp");
    ready(bound);
    let stopper = stop.clone();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutdown requested");
            stopper.cancel();
        })
        .await;
    stop.cancel();
    db.shutdown(crate::mcp::server::SHUTDOWN_GRACE).await;
    tracing::info!("database closed");
    served.context("the HTTP server failed")
}

/// Refuses requests without the bearer token (when one is configured).
async fn authorize(State(token): State<Arc<Option<String>>>, request: Request, next: Next) -> Response {
    let Some(expected) = token.as_deref() else { return next.run(request).await };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        next.run(request).await
    } else {
        tracing::warn!("refused an HTTP request without a valid bearer token");
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token; send Authorization: Bearer <HEALTHSIM_MCP_TOKEN>\n",
        )
            .into_response()
    }
}

/// A DELETE that ended a session answers 200 OK. rmcp answers 202 Accepted, which the
/// Python SDK 1.x client reports as `Session termination failed: 202` (it expects 200 or
/// 204, or 405 when the server does not let clients end sessions).
async fn session_end_is_ok(request: Request, next: Next) -> Response {
    let delete = request.method() == axum::http::Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

/// A request body larger than the server reads is answered 413 with a JSON-RPC error
/// saying so in the words of the stdio transport (naming `--max-memory`), not rmcp's bare
/// "Payload Too Large". Nothing of it was processed.
async fn oversize_names_the_limit(State(max_bytes): State<usize>, request: Request, next: Next) -> Response {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        // Read and drop the body first (a chunk at a time): a client still sending when
        // the answer comes sees a broken pipe instead of the answer.
        use http_body_util::BodyExt;
        let mut body = request.into_body();
        while let Some(Ok(_)) = body.frame().await {}
    } else {
        let response = next.run(request).await;
        if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
            return response;
        }
    }
    tracing::error!(max_bytes, "an HTTP request body exceeded the maximum size and was dropped");
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32700, "message": crate::mcp::stdio::oversize_message(max_bytes)},
    });
    (StatusCode::PAYLOAD_TOO_LARGE, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Compares without an early exit, so the time taken does not reveal how many leading
/// bytes matched (only whether the lengths differ).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal tokens match; any difference, including length, does not.
    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token", b"secret-tokeN"));
        assert!(!constant_time_eq(b"secret", b"secret-token"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
