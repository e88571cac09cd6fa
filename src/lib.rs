//! healthsim-mcp: an MCP server giving the `healthsim_*` tools (and resources) over a
//! HealthSim DuckDB database that it shares safely with other processes.
//!
//! The binary is thin: it parses `config::Cli`, builds a `Config` and calls [`run`] with
//! the stdio transport and a shutdown signal. Tests call [`run`] with their own.
//!
//! Three floors, each importing only the ones below it, and a room beside them:
//! - `mcp`: the MCP face (transports, server handler, tools, resources, app);
//! - `db`: HealthSim's data, typed operations in its terms (layouts, scenarios, summary,
//!   providers, reference data, user SQL) on the [`Db`](db::Db) handle;
//! - `engine`: DuckDB itself (instances and their state machine, the write dispatcher,
//!   remote engines, SQL plumbing, extensions, values);
//! - `synth`: everything the server makes up, written through `db`.
//!
//! `model` (the pure domain: entity types, mapping, no IO) and `memory` sit below all of
//! them; `config` (flags → each layer's settings), `client` (`call`) and `engine_info`
//! (`engine`) are entry points above them.

#![deny(clippy::print_stdout)]

pub mod client;
pub mod config;
pub mod db;
pub mod engine;
pub mod engine_info;
pub mod mcp;
pub mod memory;
pub mod model;
pub mod synth;

pub use config::Config;
pub use mcp::{run, stdio_transport};
pub use memory::MAX_MESSAGE_BYTES;
