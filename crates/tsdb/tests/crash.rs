//! Durability against `kill -9`: a child process (this test binary re-run in
//! "writer" mode) commits batches, cutting blocks as it goes, and prints each
//! acknowledged batch; the parent kills it with SIGKILL at varying points and
//! checks that every acknowledged batch is fully queryable and no batch is
//! partly there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use andon_series::{Matcher, Querier};
use andon_tsdb::{Options, Tsdb};
use common::lbl;

const DIR_ENV: &str = "ANDON_TSDB_CRASH_WRITER_DIR";
const SERIES: usize = 40;
const STEP_MS: i64 = 100;

fn options() -> Options {
    // Small blocks and segments so the child cuts blocks, writes checkpoints,
    // compacts and rotates segments while it may be killed.
    Options { wal_segment_size: 16 << 10, ..common::opts(2_000) }
}

/// Batch `b`: one sample at `b * STEP_MS` with value `b` in every series.
fn append_batch(db: &Tsdb, b: i64) {
    let mut app = db.appender();
    for s in 0..SERIES {
        app.append(&lbl(&[("__name__", "crash"), ("s", &s.to_string())]), b * STEP_MS, b as f64)
            .unwrap();
    }
    let stats = app.commit().unwrap();
    assert_eq!(stats.appended, SERIES, "{stats:?}");
}

/// For each batch present, how many series hold it.
fn batches(db: &Tsdb) -> BTreeMap<i64, usize> {
    let mut out = BTreeMap::new();
    for s in db.select(&[Matcher::equal("__name__", "crash")], i64::MIN, i64::MAX).unwrap() {
        for x in s.samples {
            assert_eq!(x.t, x.v as i64 * STEP_MS);
            *out.entry(x.v as i64).or_insert(0) += 1;
        }
    }
    out
}

/// The writer: continues after the newest batch on disk until killed.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else { return };
    let db = Tsdb::open(Path::new(&dir), options()).unwrap();
    let start = batches(&db).keys().next_back().map_or(0, |b| b + 1);
    let mut out = std::io::stdout().lock();
    for b in start.. {
        append_batch(&db, b);
        writeln!(out, "acked {b}").unwrap();
        out.flush().unwrap();
        if b % 7 == 0 {
            db.maintain(b * STEP_MS).unwrap();
        }
    }
}

#[test]
fn kill_9_loses_no_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Option<i64> = None;
    for (round, more) in [37usize, 120, 5, 260, 61, 1, 90, 333, 17, 150].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_writer_child", "--nocapture", "--test-threads=1"])
            .env(DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < more {
            let line = lines.next().expect("the writer stopped early").unwrap();
            if let Some(b) = line.strip_prefix("acked ") {
                acked = Some(b.parse().unwrap());
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Acknowledgements already in the pipe count too.
        for line in lines {
            if let Some(b) = line.unwrap().strip_prefix("acked ") {
                acked = Some(b.parse().unwrap());
            }
        }
        let last = acked.unwrap();

        let db = Tsdb::open(dir.path(), options()).unwrap();
        let found = batches(&db);
        for b in 0..=last {
            assert_eq!(
                found.get(&b),
                Some(&SERIES),
                "round {round}: acknowledged batch {b} of {last}"
            );
        }
        for (b, n) in &found {
            assert!(*b <= last + 1, "round {round}: batch {b} appeared from nowhere");
            assert_eq!(*n, SERIES, "round {round}: batch {b} is partial");
        }
        println!("round {round}: {} batches acknowledged, {} blocks", last + 1, db.blocks().len());
    }
    let db = Tsdb::open(dir.path(), options()).unwrap();
    assert!(!db.blocks().is_empty(), "the writer never cut a block");
}
