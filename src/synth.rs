//! Everything the server makes up, written through the data layer (`db`), which knows
//! nothing of it: the synthetic reference data (`population`) and provider registry
//! (`providers`) of `demo`, and the sample scenarios `demo` saves.

pub mod demo;
mod population;
mod providers;

pub use population::Scale;
