//! The MCP App of `healthsim_get_summary` (the `@modelcontextprotocol/ext-apps`
//! conventions): one self-contained HTML page, served as the resource
//! `ui://healthsim/summary.html`, that a host renders in a sandboxed frame and feeds the
//! tool's result; it draws the summary's structured content (age pyramid by gender,
//! encounters over time, claim financials, top diagnoses, other distributions, sample
//! rows). Everything is inlined: no script, style or font is fetched, so it works offline.
//! Hosts without Apps ignore the tool's `_meta` and show the JSON result as before.

use rmcp::model::{MetaObject, Resource, ResourceContents};
use serde_json::json;

pub const SUMMARY_URI: &str = "ui://healthsim/summary.html";
/// The MIME type ext-apps hosts render.
pub const APP_MIME: &str = "text/html;profile=mcp-app";
/// The extension id servers and hosts declare under `capabilities.extensions`.
pub const EXTENSION_ID: &str = "io.modelcontextprotocol/ui";
const SUMMARY_HTML: &str = include_str!("app/summary.html");

/// `_meta` of healthsim_get_summary: the current `ui.resourceUri` and the flat key of
/// earlier hosts.
pub fn summary_tool_meta() -> MetaObject {
    let object = json!({ "ui": { "resourceUri": SUMMARY_URI }, "ui/resourceUri": SUMMARY_URI });
    MetaObject(object.as_object().cloned().unwrap_or_default())
}

/// `_meta` of the resource: no network access wanted (empty CSP domain lists), a border.
fn resource_meta() -> MetaObject {
    let object = json!({ "ui": { "csp": { "connectDomains": [], "resourceDomains": [] }, "prefersBorder": true } });
    MetaObject(object.as_object().cloned().unwrap_or_default())
}

/// The app's entry in `resources/list`.
pub fn summary_resource() -> Resource {
    Resource::new(SUMMARY_URI, "summary-view")
        .with_title("HealthSim summary view")
        .with_description("The picture of a healthsim_get_summary result (MCP App): age pyramid, encounters over time, claim financials, top diagnoses, samples")
        .with_mime_type(APP_MIME)
        .with_size(SUMMARY_HTML.len() as u64)
        .with_meta(resource_meta())
}

/// The app's page, as `resources/read` returns it.
pub fn summary_contents() -> ResourceContents {
    ResourceContents::TextResourceContents {
        uri: SUMMARY_URI.to_owned(),
        mime_type: Some(APP_MIME.to_owned()),
        text: SUMMARY_HTML.to_owned(),
        meta: Some(resource_meta()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offline: the page loads nothing from anywhere, and writes data only as text.
    #[test]
    fn page_is_self_contained() {
        // The SVG namespace is a name, not an address.
        let page = SUMMARY_HTML.replace("\"http://www.w3.org/2000/svg\"", "SVG_NAMESPACE");
        for needle in
            ["http://", "https://", "src=", "@import", "url(", "fetch(", "XMLHttpRequest", "innerHTML", "eval("]
        {
            assert!(!page.contains(needle), "the page contains {needle}");
        }
        assert!(SUMMARY_HTML.contains("ui/initialize") && SUMMARY_HTML.contains("ui/notifications/tool-result"));
    }
}
