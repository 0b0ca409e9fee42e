//! The same server on PostgreSQL: `--database-url postgres://...`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use common::*;
use hyper::Method;

#[tokio::test]
async fn the_server_runs_on_postgres_and_survives_kill_9() {
    let Some(url) = fresh_postgres().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut a = Andon::start_with(&data, &["--database-url", &url]);
    let file = tmp.path().join("svc.yaml");
    std::fs::write(&file, SERVICE).unwrap();
    let o = a.cli(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(stdout(&o), "service/api created\n", "{}", stderr(&o));
    let c = a.client();
    let mut acked = 0;
    for i in 0..50 {
        let body = SERVICE
            .replace("name: api", &format!("name: s{i}"))
            .replace("replicas: 2", "replicas: 0");
        c.json(Method::POST, "/api/v1/apply", Some(("application/yaml", body.into_bytes())))
            .await
            .unwrap();
        acked += 1;
    }
    a.kill9();
    let b = Andon::start_with(&data, &["--database-url", &url]);
    let (_, list) = request(&b.client(), Method::GET, "/api/v1/services", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), acked + 1);
    let (_, events) = request(&b.client(), Method::GET, "/api/v1/events?limit=1000", None).await;
    // The first service's instances add runtime events; resources and gap-freedom are the point.
    let items = events["items"].as_array().unwrap();
    let seqs: Vec<u64> = items.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "the journal has no gap");
    let created = items.iter().filter(|e| e["kind"] == "resource.created").count();
    assert_eq!(created, acked + 1);
    // The data lives in PostgreSQL, not in the data dir.
    assert!(!data.join("andon.db").exists());
}
