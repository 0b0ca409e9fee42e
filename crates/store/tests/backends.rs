//! The store's behaviour, run against every backend: SQLite always, PostgreSQL at
//! `ANDON_TEST_DATABASE_URL` (required when `CI` is set; `scripts/test` provides it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::HashSet;
use std::sync::Arc;

use andon_core::{NewEvent, ObjectRef, SystemClock};
use andon_store::{Desired, Outcome, Store, StoreError};
use serde_json::json;
use sqlx::Executor;

struct Db {
    label: &'static str,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, empty database per backend.
async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![Db {
        label: "sqlite",
        url: format!("sqlite://{}", dir.path().join("andon.db").display()),
        _dir: Some(dir),
    }];
    match std::env::var("ANDON_TEST_DATABASE_URL") {
        Ok(admin) => {
            sqlx::any::install_default_drivers();
            let name = format!(
                "andon_t_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            );
            let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
            pool.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
            pool.close().await;
            let base = admin.rsplit_once('/').unwrap().0;
            out.push(Db { label: "postgres", url: format!("{base}/{name}"), _dir: None });
        }
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!(
                "ANDON_TEST_DATABASE_URL must be set in CI (scripts/setup writes it to scripts/test-env)"
            )
        }
        Err(_) => eprintln!("SKIPPED postgres backend: ANDON_TEST_DATABASE_URL is not set"),
    }
    out
}

async fn open(db: &Db) -> Store {
    Store::open(&db.url, Arc::new(SystemClock)).await.unwrap()
}

fn svc(name: &str, replicas: i64) -> Desired {
    Desired {
        kind: "Service".into(),
        namespace: "default".into(),
        name: name.into(),
        labels: json!({"team": "a"}),
        annotations: json!({}),
        spec: json!({"replicas": replicas, "command": ["x"]}),
        expected_version: None,
        must_exist: false,
    }
}

#[tokio::test]
async fn apply_reports_created_configured_unchanged() {
    for db in databases().await {
        let s = open(&db).await;
        let r = s.apply(vec![svc("api", 1), svc("web", 1)], "alice").await.unwrap();
        assert_eq!(
            r.iter().map(|r| r.outcome).collect::<Vec<_>>(),
            [Outcome::Created, Outcome::Created],
            "{}",
            db.label
        );
        assert_eq!(r[0].object.resource_version, 1);
        assert_eq!(r[1].object.resource_version, 2);

        let r = s.apply(vec![svc("api", 2), svc("web", 1)], "alice").await.unwrap();
        assert_eq!(r[0].outcome, Outcome::Configured);
        assert_eq!(r[0].object.generation, 2, "{}: spec change bumps generation", db.label);
        assert_eq!(r[0].object.resource_version, 3);
        assert_eq!(r[1].outcome, Outcome::Unchanged);
        assert_eq!(r[1].object.resource_version, 2);

        let mut relabel = svc("api", 2);
        relabel.labels = json!({"team": "b"});
        let r = s.apply(vec![relabel], "bob").await.unwrap();
        assert_eq!(
            (r[0].outcome, r[0].object.generation),
            (Outcome::Configured, 2),
            "{}: labels only",
            db.label
        );

        let events = s.events(0, 100).await.unwrap();
        let kinds: Vec<_> = events
            .iter()
            .map(|e| (e.seq, e.kind.as_str(), e.subject.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, "resource.created", "Service/default/api", "alice"),
                (2, "resource.created", "Service/default/web", "alice"),
                (3, "resource.configured", "Service/default/api", "alice"),
                (4, "resource.configured", "Service/default/api", "bob"),
            ],
            "{}",
            db.label
        );
        assert_eq!(events[2].data["spec"]["replicas"], 2);
        let got = s.get(&ObjectRef::new("Service", "default", "api")).await.unwrap().unwrap();
        assert_eq!(
            (got.generation, got.resource_version, got.labels.clone()),
            (2, 4, json!({"team": "b"}))
        );
        s.close().await;
    }
}

#[tokio::test]
async fn a_stale_version_is_refused_and_nothing_of_the_apply_is_stored() {
    for db in databases().await {
        let s = open(&db).await;
        s.apply(vec![svc("api", 1)], "t").await.unwrap();
        let mut stale = svc("api", 5);
        stale.expected_version = Some(99);
        let err = s.apply(vec![svc("new-one", 1), stale], "t").await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{}: {err}", db.label);
        assert_eq!(
            err.to_string(),
            "Service/default/api was modified: the request was based on resourceVersion 99, the stored one is 1; read it again and retry"
        );
        assert!(
            s.get(&ObjectRef::new("Service", "default", "new-one")).await.unwrap().is_none(),
            "{}",
            db.label
        );
        assert_eq!(s.events(0, 10).await.unwrap().len(), 1, "{}", db.label);
        let mut fresh = svc("api", 5);
        fresh.expected_version = Some(1);
        assert_eq!(s.apply(vec![fresh], "t").await.unwrap()[0].outcome, Outcome::Configured);
        s.close().await;
    }
}

#[tokio::test]
async fn two_writers_from_one_version_exactly_one_wins() {
    for db in databases().await {
        let s = open(&db).await;
        let v = s.apply(vec![svc("api", 1)], "t").await.unwrap()[0].object.resource_version;
        let mut handles = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let mut d = svc("api", 10 + i);
                d.expected_version = Some(v);
                s.apply(vec![d], &format!("writer-{i}")).await
            }));
        }
        let mut wins = 0;
        let mut conflicts = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => wins += 1,
                Err(StoreError::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("{}: unexpected {e}", db.label),
            }
        }
        assert_eq!((wins, conflicts), (1, 7), "{}", db.label);
        s.close().await;
    }
}

#[tokio::test]
async fn concurrent_appends_get_gapless_increasing_sequence_numbers() {
    for db in databases().await {
        let s = open(&db).await;
        let mut handles = Vec::new();
        for w in 0..8 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..50 {
                    let e = NewEvent {
                        kind: "test.tick".into(),
                        subject: format!("w{w}"),
                        actor: "t".into(),
                        data: json!({"i": i}),
                    };
                    seqs.extend(s.append(vec![e]).await.unwrap());
                }
                seqs
            }));
        }
        let mut all = HashSet::new();
        for h in handles {
            let seqs = h.await.unwrap();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "{}: one writer's seqs increase",
                db.label
            );
            all.extend(seqs);
        }
        assert_eq!(all.len(), 400);
        assert_eq!(all.iter().max(), Some(&400), "{}: no gaps", db.label);
        assert_eq!(s.last_seq(), 400);
        let tail = s.events(390, 100).await.unwrap();
        assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), (391..=400).collect::<Vec<_>>());
        s.close().await;
    }
}

#[tokio::test]
async fn events_read_back_by_kind_newest_first() {
    for db in databases().await {
        let s = open(&db).await;
        let ev = |kind: &str, i: i64| NewEvent {
            kind: kind.into(),
            subject: "x".into(),
            actor: "t".into(),
            data: json!({"i": i}),
        };
        s.append(vec![ev("alert.firing", 1), ev("silence.set", 2), ev("alert.resolved", 3)])
            .await
            .unwrap();
        s.append(vec![ev("alert.firing", 4), ev("alert.firingX", 5)]).await.unwrap();
        let got = s.events_of_kinds(&["alert.firing", "alert.resolved"], 10).await.unwrap();
        let is: Vec<i64> = got.iter().map(|e| e.data["i"].as_i64().unwrap()).collect();
        assert_eq!(is, [4, 3, 1], "{}", db.label);
        let got = s.events_of_kinds(&["alert.firing", "alert.resolved"], 2).await.unwrap();
        assert_eq!(got.len(), 2, "{}", db.label);
        assert!(s.events_of_kinds(&[], 10).await.unwrap().is_empty());
        s.close().await;
    }
}

#[tokio::test]
async fn the_journal_refuses_updates_and_deletes() {
    for db in databases().await {
        let s = open(&db).await;
        s.append(vec![NewEvent {
            kind: "k".into(),
            subject: "s".into(),
            actor: "a".into(),
            data: json!(null),
        }])
        .await
        .unwrap();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let upd = pool.execute("UPDATE events SET kind = 'x'").await.unwrap_err();
        assert!(upd.to_string().contains("append-only"), "{}: {upd}", db.label);
        let del = pool.execute("DELETE FROM events").await.unwrap_err();
        assert!(del.to_string().contains("append-only"), "{}: {del}", db.label);
        pool.close().await;
        s.close().await;
    }
}

#[tokio::test]
async fn delete_records_an_event_and_honours_preconditions() {
    for db in databases().await {
        let s = open(&db).await;
        let r = ObjectRef::new("Service", "default", "api");
        s.apply(vec![svc("api", 1)], "t").await.unwrap();
        assert!(matches!(s.delete(&r, Some(7), "t").await, Err(StoreError::Conflict(_))));
        let gone = s.delete(&r, Some(1), "carol").await.unwrap();
        assert_eq!(gone.name, "api");
        assert!(s.get(&r).await.unwrap().is_none());
        assert!(matches!(s.delete(&r, None, "t").await, Err(StoreError::NotFound(_))));
        let last = s.events(1, 10).await.unwrap();
        assert_eq!((last[0].kind.as_str(), last[0].actor.as_str()), ("resource.deleted", "carol"));
        s.close().await;
    }
}

#[tokio::test]
async fn lists_page_by_namespace_and_name_and_data_survives_reopen() {
    for db in databases().await {
        let s = open(&db).await;
        let mut items = Vec::new();
        for ns in ["b", "a"] {
            for n in ["z", "m", "c"] {
                let mut d = svc(n, 1);
                d.namespace = ns.into();
                items.push(d);
            }
        }
        s.apply(items, "t").await.unwrap();
        let page1 = s.list("Service", None, None, 4).await.unwrap();
        let names: Vec<_> = page1.iter().map(|o| format!("{}/{}", o.namespace, o.name)).collect();
        assert_eq!(names, ["a/c", "a/m", "a/z", "b/c"], "{}", db.label);
        let page2 = s.list("Service", None, Some(("b", "c")), 4).await.unwrap();
        assert_eq!(page2.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["m", "z"]);
        let in_a = s.list("Service", Some("a"), Some(("a", "c")), 10).await.unwrap();
        assert_eq!(in_a.len(), 2);
        s.close().await;
        let reopened = open(&db).await;
        assert_eq!(
            reopened.list("Service", None, None, 100).await.unwrap().len(),
            6,
            "{}",
            db.label
        );
        assert_eq!(reopened.last_seq(), 6);
        reopened.close().await;
    }
}
