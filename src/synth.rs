//! Everything the server makes up, written through the data layer (`db`), which knows
//! nothing of it: the synthetic reference data (`population`) and provider registry
//! (`providers`) of `demo`, the sample scenarios `demo` saves, and cohorts generated from
//! HealthSim profiles (`profile`).

pub mod demo;
mod names;
mod population;
pub mod profile;
mod providers;

pub use population::Scale;
