//! Reading a profile: the one-line error that names a field, and the warnings gathered on
//! the way (keys this generator does not read).

use serde_json::{Map, Value};

/// A one-line error naming the field.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError(pub String);

impl SpecError {
    pub fn at(path: &str, what: &str) -> SpecError {
        SpecError(format!("profile.{path} {what}"))
    }
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Collects warnings while a profile is read.
#[derive(Default)]
pub struct Reader {
    pub warnings: Vec<String>,
}

impl Reader {
    pub fn unknown(&mut self, path: &str) {
        self.warnings.push(format!("profile.{path} is not a field this generator reads; it was ignored"));
    }

    pub fn check_keys(&mut self, object: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            self.unknown(&if path.is_empty() { key.clone() } else { format!("{path}.{key}") });
        }
    }
}
