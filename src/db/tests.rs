//! Tests of the `Db` handle as a whole.

use super::*;
use crate::config::Config;

/// A save whose request never comes (its preparation failed) writes nothing, and the
/// next save works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_save_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Config::for_path(dir.path().join("t.duckdb"))).await.unwrap();
    let err = db.save_when_ready(|| None).await.unwrap_err();
    assert!(err.to_string().contains("could not be prepared; nothing was written"), "{err}");
    assert!(db.list_scenarios(ListFilter { limit: 50, ..ListFilter::default() }).await.unwrap().is_empty());
    let plan = crate::model::plan_save(
        serde_json::from_value(serde_json::json!({"patients": [{"id": "p1", "given_name": "A", "family_name": "B", "birth_date": "1990-01-01", "gender": "F"}]}))
            .unwrap(),
        crate::model::new_uuid,
    );
    let request = SaveRequest {
        name: "s".into(),
        description: None,
        tags: vec![],
        overwrite: false,
        plan,
        progress: None,
        more: None,
        execution: None,
    };
    let (ready, waiting) = std::sync::mpsc::sync_channel(1);
    let saving = db.save_when_ready(move || waiting.recv().ok());
    ready.send(request).unwrap();
    assert!(matches!(saving.await.unwrap(), SaveOutcome::Saved { .. }));
    let listed = db.list_scenarios(ListFilter { limit: 50, ..ListFilter::default() }).await.unwrap();
    assert_eq!((listed.len(), listed[0].entity_count), (1, 1));
    db.shutdown(std::time::Duration::from_secs(5)).await;
}
