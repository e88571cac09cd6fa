//! Tests of the `Db` handle as a whole.

use super::*;

fn listing(name: &str) -> Vec<ScenarioListing> {
    vec![ScenarioListing {
        scenario_id: name.into(),
        name: name.into(),
        description: None,
        entity_count: 0,
        tags: Vec::new(),
        created_at: None,
        updated_at: None,
    }]
}

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
    let request =
        SaveRequest { name: "s".into(), description: None, tags: vec![], overwrite: false, plan, progress: None };
    let (ready, waiting) = std::sync::mpsc::sync_channel(1);
    let saving = db.save_when_ready(move || waiting.recv().ok());
    ready.send(request).unwrap();
    assert!(matches!(saving.await.unwrap(), SaveOutcome::Saved { .. }));
    let listed = db.list_scenarios(ListFilter { limit: 50, ..ListFilter::default() }).await.unwrap();
    assert_eq!((listed.len(), listed[0].entity_count), (1, 1));
    db.shutdown(std::time::Duration::from_secs(5)).await;
}

/// A listing is reused only on the instance it was computed on, per filter.
#[test]
fn listings_are_reused_only_on_their_instance() {
    let mut memo = ListingMemo::default();
    let all = ListFilter { tag: None, search: None, limit: 50 };
    let tagged = ListFilter { tag: Some("q3".into()), ..all.clone() };
    memo.put(7, all.clone(), listing("a"));
    assert_eq!(memo.get(7, &all).unwrap()[0].name, "a");
    assert!(memo.get(7, &tagged).is_none());
    assert!(memo.get(8, &all).is_none(), "another instance may see other data");
    memo.put(8, tagged.clone(), listing("b"));
    assert!(memo.get(7, &all).is_none() && memo.get(8, &all).is_none());
    assert_eq!(memo.get(8, &tagged).unwrap()[0].name, "b");
    // Bounded: a full memo starts over.
    for limit in 0..ListingMemo::CAPACITY as u32 {
        memo.put(8, ListFilter { limit, ..all.clone() }, listing("c"));
    }
    assert!(memo.entries.len() <= ListingMemo::CAPACITY);
}
