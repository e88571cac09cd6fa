//! The integration test binary: drives the real `healthsim-mcp` binary over stdio with
//! the rmcp client (see `it/util.rs`).

#[path = "it/util.rs"]
mod util;

#[path = "it/add.rs"]
mod add;
#[path = "it/architecture.rs"]
mod architecture;
#[path = "it/canonical.rs"]
mod canonical;
#[path = "it/cli.rs"]
mod cli;
#[path = "it/demo.rs"]
mod demo;
#[path = "it/documents.rs"]
mod documents;
#[path = "it/errors.rs"]
mod errors;
#[path = "it/hostile.rs"]
mod hostile;
#[path = "it/layout.rs"]
mod layout;
#[path = "it/legacy.rs"]
mod legacy;
#[path = "it/profile.rs"]
mod profile;
#[path = "it/providers.rs"]
mod providers;
#[path = "it/query.rs"]
mod query;
#[path = "it/reference.rs"]
mod reference;
#[path = "it/resources.rs"]
mod resources;
#[path = "it/scenarios.rs"]
mod scenarios;
#[path = "it/sizes.rs"]
mod sizes;
