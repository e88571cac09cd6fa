//! The tools: argument reading and validation, output shaping, and the one place
//! an error becomes a tool result. One file per tool group; `server` composes them.
//!
//! Arguments arrive through [`Parameters<T>`], which accepts any JSON object (so a bad argument
//! becomes a *tool* error the model can read, not a protocol error) while publishing the
//! JSON Schema of `T`. [`ArgReader`] then unwraps the legacy `{"params": {...}}` envelope,
//! refuses unknown names, trims strings and checks bounds with messages that name the
//! field, the value and the accepted range.

mod printed;
pub mod providers;
pub mod query;
pub mod scenarios;

use std::borrow::Cow;
use std::marker::PhantomData;

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{CallToolResult, ContentBlock};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::db::DbError;

/// A tool's arguments as the client sent them, schema-typed as `T` for `tools/list`.
///
/// Named like rmcp's own `Parameters` because the `#[tool]` macro takes a tool's input
/// schema from the argument of that name. Unlike rmcp's, which deserializes a copy of the
/// argument object into its target (~8 ms for a 10,000-entity save), this one moves the
/// object out of the request: any object is accepted here and checked by [`ArgReader`].
pub struct Parameters<T> {
    pub raw: Map<String, Value>,
    _schema: PhantomData<fn() -> T>,
}

impl<S, T> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        Ok(Parameters { raw: context.arguments.take().unwrap_or_default(), _schema: PhantomData })
    }
}

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// A tool argument problem: becomes `{"error": ...}` with `isError: true`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgError(pub String);

/// Reads validated values out of raw arguments.
pub struct ArgReader {
    map: Map<String, Value>,
}

impl ArgReader {
    /// Unwraps the `{"params": {...}}` envelope and refuses names not in `T`'s schema.
    pub fn new<T: JsonSchema + 'static>(raw: Map<String, Value>) -> Result<ArgReader, ArgError> {
        let allowed: Vec<String> = rmcp::handler::server::common::schema_for_type::<T>()
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let map = match raw.get("params") {
            Some(Value::Object(inner)) if raw.len() == 1 && !allowed.iter().any(|a| a == "params") => inner.clone(),
            _ => raw,
        };
        let mut unknown: Vec<&String> = map.keys().filter(|k| !allowed.contains(k)).collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            let expected = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
            return Err(ArgError(format!(
                "unknown argument '{first}'{}; accepted arguments: {expected}",
                if unknown.len() > 1 { format!(" (and {} more)", unknown.len() - 1) } else { String::new() }
            )));
        }
        Ok(ArgReader { map })
    }

    /// The value of `name`, treating JSON `null` as absent.
    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    /// A required string, trimmed, `min..=max` characters.
    pub fn string(&mut self, name: &str, min: usize, max: usize) -> Result<String, ArgError> {
        match self.optional_string(name, max)? {
            Some(text) if text.chars().count() >= min => Ok(text),
            Some(text) => Err(ArgError(format!(
                "{name} must be between {min} and {max} characters (got {})",
                text.chars().count()
            ))),
            None if min > 0 => Err(ArgError(format!("{name} is required and must be a non-empty string"))),
            None => Ok(String::new()),
        }
    }

    /// An optional string, trimmed; empty after trimming counts as absent.
    pub fn optional_string(&mut self, name: &str, max: usize) -> Result<Option<String>, ArgError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(text)) => {
                let text = text.trim();
                let count = text.chars().count();
                if count > max {
                    return Err(ArgError(format!("{name} must be at most {max} characters (got {count})")));
                }
                Ok((!text.is_empty()).then(|| text.to_owned()))
            }
            Some(other) => Err(ArgError(format!("{name} must be a string (got {})", describe(&other)))),
        }
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn integer(&mut self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ArgError> {
        let Some(value) = self.take(name) else { return Ok(default) };
        let number =
            value.as_i64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64));
        match number {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            Some(n) => Err(ArgError(format!("{name} must be between {min} and {max} (got {n})"))),
            None => {
                Err(ArgError(format!("{name} must be an integer between {min} and {max} (got {})", describe(&value))))
            }
        }
    }

    /// An optional integer in `min..=max`.
    pub fn optional_integer(&mut self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ArgError> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let number = value.as_i64();
                match number {
                    Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(ArgError(format!(
                        "{name} must be an integer between {min} and {max} (got {})",
                        describe(&value)
                    ))),
                }
            }
        }
    }

    /// A boolean, `default` when absent.
    pub fn boolean(&mut self, name: &str, default: bool) -> Result<bool, ArgError> {
        match self.take(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(ArgError(format!("{name} must be true or false (got {})", describe(&other)))),
        }
    }

    /// A raw value (for structured arguments such as `entities`).
    pub fn value(&mut self, name: &str) -> Option<Value> {
        self.take(name)
    }
}

/// A short rendering of a received value for error messages (long values are cut).
pub fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

/// A successful result: compact JSON text, and the same value as `structuredContent`
/// when `structured` (object results of tools that declare an `outputSchema`).
pub fn success(value: &impl Serialize, structured: bool) -> CallToolResult {
    let json = serde_json::to_value(value).unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}));
    let text = serde_json::to_string(&json).unwrap_or_default();
    success_text(json, text, structured)
}

/// A successful result whose compact `text` the caller already made from `json`.
pub fn success_text(json: Value, text: String, structured: bool) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    if structured {
        result.structured_content = Some(json);
    }
    result
}

/// A tool error: `{"error": message, ...extra}` with `isError: true`.
pub fn failure(message: impl Into<String>, extra: Map<String, Value>) -> CallToolResult {
    let mut object = Map::new();
    object.insert("error".into(), Value::String(within_error_budget(message.into())));
    object.extend(extra);
    let text = serde_json::to_string(&Value::Object(object)).unwrap_or_default();
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// Claude's clients cut an error result past ~11,000 characters; a message (DuckDB's
/// errors echo the SQL) is shortened to stay within it, saying so.
const ERROR_MESSAGE_CHARS: usize = 10_000;

fn within_error_budget(message: String) -> String {
    if message.chars().count() <= ERROR_MESSAGE_CHARS {
        return message;
    }
    let kept: String = message.chars().take(ERROR_MESSAGE_CHARS - 40).collect();
    format!("{kept} … (message shortened)")
}

impl From<ArgError> for CallToolResult {
    fn from(err: ArgError) -> Self {
        failure(err.0, Map::new())
    }
}

/// The one place a DB error becomes a tool result; it is logged here too.
pub fn db_failure(tool: &str, err: DbError) -> CallToolResult {
    match &err {
        DbError::Other(_) => tracing::error!(tool, "tool failed: {err}"),
        _ => tracing::warn!(tool, "tool failed: {err}"),
    }
    let text = err.to_string();
    // DuckDB's own advice (SET memory_limit...) is not the user's to follow: the server's
    // budget is.
    if ["failed to pin block", "failed to allocate data", "Out of Memory Error", "could not allocate block"]
        .iter()
        .any(|m| text.contains(m))
    {
        return failure(
            "the database engine ran out of its share of the server's memory (a third of --max-memory) during this \
             call; nothing was written; restart the server with a larger --max-memory (HEALTHSIM_MAX_MEMORY_MB) or \
             do the work in smaller parts (a smaller count, fewer entities per save)",
            Map::new(),
        );
    }
    // The process's own limit (`--max-memory`, an address-space or cgroup limit) refused an
    // allocation: the transaction was rolled back.
    if ["Allocation failure", "std::bad_alloc"].iter().any(|m| text.contains(m)) {
        return failure(
            "the server ran out of memory under its limit (--max-memory, or the process's address-space or cgroup \
             limit) during this call; nothing was written; restart the server with more memory (HEALTHSIM_MAX_MEMORY_MB) \
             or do the work in smaller parts (fewer entities per save, a smaller count)",
            Map::new(),
        );
    }
    failure(text, Map::new())
}
