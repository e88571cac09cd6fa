//! Scenarios as MCP resources: the listing (paginated), the template, reading a whole
//! scenario, completion of `{name}`, the resource link of a cut load, and the summary app.

use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, ContentBlock, PaginatedRequestParams, ReadResourceRequestParams, Reference,
    ResourceContents,
};
use serde_json::{Value, json};

use crate::util::{Server, temp_db, unknown_layout_file};

fn patients(n: usize, prefix: &str) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("{prefix}-{i}"), "mrn": format!("MRN-{prefix}-{i}"), "given_name": "Ana", "family_name": format!("Diaz {i}"), "birth_date": "1970-01-01", "gender": "female"}))
        .collect();
    json!({"patients": list})
}

async fn read_text(server: &Server, uri: &str) -> Result<(String, Option<String>), rmcp::ServiceError> {
    let result = server.client.read_resource(ReadResourceRequestParams::new(uri)).await?;
    let [ResourceContents::TextResourceContents { text, mime_type, uri: echoed, .. }] = result.contents.as_slice()
    else {
        panic!("one text content expected: {result:?}")
    };
    assert_eq!(echoed, uri);
    Ok((text.clone(), mime_type.clone()))
}

/// Every scenario is listed (the app first, then by name, 100 per page, cursors followed to
/// the end) and readable by its URI: the whole document, every entity as saved, whatever
/// characters its name has; a name that is not there is a resource-not-found error.
#[tokio::test(flavor = "multi_thread")]
async fn scenarios_are_listed_and_read_whole() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let odd = "Q3 claims / north 🩺 100%";
    server
        .ok("healthsim_save_scenario", json!({"name": odd, "description": "odd name", "entities": patients(3, "odd")}))
        .await;
    for i in 0..104 {
        server
            .ok(
                "healthsim_save_scenario",
                json!({"name": format!("bulk-{i:03}"), "entities": patients(1, &format!("b{i}"))}),
            )
            .await;
    }
    let mut uris = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page =
            server.client.list_resources(Some(PaginatedRequestParams::default().with_cursor(cursor))).await.unwrap();
        pages += 1;
        uris.extend(page.resources.iter().map(|r| (r.uri.clone(), r.name.clone(), r.mime_type.clone())));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(uris.len(), 1 + 105);
    assert_eq!(uris[0].0, "ui://healthsim/summary.html");
    assert_eq!(uris[0].2.as_deref(), Some("text/html;profile=mcp-app"));
    let names: Vec<&str> = uris[1..].iter().map(|(_, name, _)| name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    let (odd_uri, _, mime) = uris.iter().find(|(_, name, _)| name == odd).expect("odd name listed");
    assert_eq!(mime.as_deref(), Some("application/json"));
    assert_eq!(odd_uri, "healthsim://scenarios/Q3%20claims%20%2F%20north%20%F0%9F%A9%BA%20100%25");

    let (text, mime) = read_text(&server, odd_uri).await.unwrap();
    assert_eq!(mime.as_deref(), Some("application/json"));
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["name"], odd);
    assert_eq!(document["description"], "odd name");
    assert_eq!(document["entity_count"], 3);
    assert_eq!(document["entities"], patients(3, "odd"));

    let missing = read_text(&server, "healthsim://scenarios/nope").await.unwrap_err().to_string();
    assert!(missing.contains("scenario 'nope' not found"), "{missing}");
    let foreign = read_text(&server, "file:///etc/passwd").await.unwrap_err().to_string();
    assert!(foreign.contains("not one of this server's"), "{foreign}");
    let bad_cursor = server
        .client
        .list_resources(Some(PaginatedRequestParams::default().with_cursor(Some("x".into()))))
        .await
        .unwrap_err()
        .to_string();
    assert!(bad_cursor.contains("cursor 'x'"), "{bad_cursor}");
    // The server keeps serving after those errors.
    assert_eq!(server.ok("healthsim_list_scenarios", json!({"limit": 1})).await.as_array().unwrap().len(), 1);
    server.stop().await;
}

/// The template is announced; `{name}` completes to saved names by prefix, at most 100,
/// with the total and whether more exist.
#[tokio::test(flavor = "multi_thread")]
async fn template_and_completion() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let templates = server.client.list_resource_templates(None).await.unwrap();
    assert_eq!(templates.resource_templates.len(), 1);
    assert_eq!(templates.resource_templates[0].uri_template, "healthsim://scenarios/{name}");
    for name in ["diabetes-tx", "Diabetes-CA", "cardiac"] {
        server.ok("healthsim_save_scenario", json!({"name": name, "entities": patients(1, name)})).await;
    }
    let complete = |value: &str| {
        let request = CompleteRequestParams::new(
            Reference::for_resource("healthsim://scenarios/{name}"),
            ArgumentInfo::new("name", value),
        );
        server.client.complete(request)
    };
    let found = complete("dia").await.unwrap().completion;
    assert_eq!(found.values, vec!["Diabetes-CA", "diabetes-tx"]);
    assert_eq!((found.total, found.has_more), (Some(2), Some(false)));
    assert_eq!(complete("").await.unwrap().completion.values.len(), 3);
    assert!(complete("zzz").await.unwrap().completion.values.is_empty());
    let wrong = server
        .client
        .complete(CompleteRequestParams::new(
            Reference::for_resource("healthsim://other/{x}"),
            ArgumentInfo::new("x", ""),
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("this server completes {name}"), "{wrong}");
    server.stop().await;
}

/// A load cut to the output limit links the whole scenario; reading the link gives every
/// entity. An uncut load has no link.
#[tokio::test(flavor = "multi_thread")]
async fn cut_load_links_the_whole_scenario() {
    let (_dir, db) = temp_db();
    let server = Server::start_with(&db, &["--max-output-chars", "4000"], &[]).await;
    server.ok("healthsim_save_scenario", json!({"name": "big one", "entities": patients(200, "big")})).await;
    server.ok("healthsim_save_scenario", json!({"name": "small", "entities": patients(1, "s")})).await;
    let result = server.call("healthsim_load_scenario", json!({"name_or_id": "big one"})).await;
    let links: Vec<&rmcp::model::Resource> = result
        .content
        .iter()
        .filter_map(|c| if let ContentBlock::ResourceLink(link) = c { Some(link) } else { None })
        .collect();
    assert_eq!(links.len(), 1, "{result:?}");
    assert_eq!(links[0].uri, "healthsim://scenarios/big%20one");
    assert_eq!(result.structured_content.as_ref().unwrap()["truncated"], true);
    let (text, _) = read_text(&server, &links[0].uri).await.unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["entities"]["patients"].as_array().unwrap().len(), 200);
    let small = server.call("healthsim_load_scenario", json!({"name_or_id": "small"})).await;
    assert!(small.content.iter().all(|c| !matches!(c, ContentBlock::ResourceLink(_))));
    server.stop().await;
}

/// healthsim_get_summary declares the summary app; the app resource is the offline page.
#[tokio::test(flavor = "multi_thread")]
async fn summary_declares_its_app() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db).await;
    let tools = server.client.list_all_tools().await.unwrap();
    let summary = tools.iter().find(|t| t.name == "healthsim_get_summary").unwrap();
    let meta = serde_json::to_value(summary.meta.as_ref().expect("_meta")).unwrap();
    assert_eq!(meta["ui"]["resourceUri"], "ui://healthsim/summary.html");
    assert!(tools.iter().filter(|t| t.name != "healthsim_get_summary").all(|t| t.meta.is_none()));
    let (html, mime) = read_text(&server, "ui://healthsim/summary.html").await.unwrap();
    assert_eq!(mime.as_deref(), Some("text/html;profile=mcp-app"));
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("ui/initialize"));
    let info = server.client.peer_info().unwrap();
    let extensions = serde_json::to_value(&info.capabilities).unwrap();
    assert!(extensions["extensions"]["io.modelcontextprotocol/ui"].is_object(), "{extensions}");
    assert!(extensions["resources"].is_object() && extensions["completions"].is_object(), "{extensions}");
    server.stop().await;
}

/// A file whose scenario tables are no HealthSim layout: the listing shows the app alone,
/// reading a scenario says why in one line.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_layout_lists_the_app_and_explains_reads() {
    let (_dir, db) = temp_db();
    unknown_layout_file(&db);
    let server = Server::start(&db).await;
    let listed = server.client.list_resources(None).await.unwrap();
    let uris: Vec<&str> = listed.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["ui://healthsim/summary.html"]);
    let error = read_text(&server, "healthsim://scenarios/x").await.unwrap_err().to_string();
    assert!(error.contains("not a HealthSim layout this server understands"), "{error}");
    server.stop().await;
}
