//! The write-ahead log: everything committed comes back after reopening; a
//! torn tail at any offset or a flipped byte costs only the damaged record
//! and what follows it in that segment, with a warning, never an error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use andon_series::stale_nan;
use andon_tsdb::{Options, Tsdb};
use common::{Dump, dump, lbl, open, opts, total_samples};

/// Commit `i` writes one sample at `t = i * 10` to each of three series,
/// the third of them new in every fifth commit.
fn commit(db: &Tsdb, i: i64) {
    let mut app = db.appender();
    for s in 0..3 {
        let name = if s == 2 { format!("late_{}", i / 5) } else { format!("m{s}") };
        let v = if i % 7 == 3 { stale_nan() } else { (i * 3 + s) as f64 * 0.25 };
        app.append(&lbl(&[("__name__", &name), ("s", &s.to_string())]), i * 10, v).unwrap();
    }
    assert_eq!(app.commit().unwrap().appended, 3);
}

/// What the database holds after commits `0..n`.
fn expected(n: i64) -> Dump {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    for i in 0..n {
        commit(&db, i);
    }
    dump(&db)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .collect();
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn reopening_restores_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    for i in 0..50 {
        commit(&db, i);
    }
    let before = dump(&db);
    assert_eq!(total_samples(&before), 150);
    drop(db);
    let db = open(dir.path(), &opts(7_200_000));
    assert_eq!(dump(&db), before);
    assert_eq!(dump(&db), expected(50));
    // Appending after a reopen continues the same log.
    commit(&db, 50);
    db.close().unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    assert_eq!(dump(&db), expected(51));
}

#[test]
fn small_segments_rotate_and_replay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options { wal_segment_size: 300, fsync: true, ..opts(7_200_000) };
    let db = open(dir.path(), &o);
    for i in 0..60 {
        commit(&db, i);
    }
    drop(db);
    assert!(segments(dir.path()).len() > 10, "{:?}", segments(dir.path()));
    let db = open(dir.path(), &o);
    assert_eq!(dump(&db), expected(60));
}

#[test]
fn a_torn_tail_at_any_offset_loses_only_the_last_commit() {
    let src = tempfile::tempdir().unwrap();
    let db = open(src.path(), &opts(7_200_000));
    for i in 0..19 {
        commit(&db, i);
    }
    let seg = segments(src.path()).pop().unwrap();
    let start = fs::metadata(&seg).unwrap().len();
    commit(&db, 19);
    let end = fs::metadata(&seg).unwrap().len();
    drop(db);
    assert!(end > start + 8);

    let before_last = expected(19);
    let all = expected(20);
    for cut in start..=end {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(src.path(), dir.path());
        let seg = segments(dir.path()).pop().unwrap();
        fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(cut).unwrap();
        let db = open(dir.path(), &opts(7_200_000));
        let want = if cut == end { &all } else { &before_last };
        assert_eq!(&dump(&db), want, "cut at {cut} of {start}..{end}");
        // The log was repaired: the next commit and a reopen work.
        assert_eq!(fs::metadata(&seg).unwrap().len(), if cut == end { end } else { start });
        commit(&db, 100);
        drop(db);
        let db = open(dir.path(), &opts(7_200_000));
        assert_eq!(total_samples(&dump(&db)), total_samples(want) + 3, "cut at {cut}");
    }
}

/// Records warnings emitted while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        write!(self.0, "{}={:?} ", field.name(), value).unwrap();
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut f = Fields(String::new());
            event.record(&mut f);
            self.0.lock().unwrap().push(f.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_flipped_byte_truncates_at_that_record_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    let seg = segments(dir.path()).pop().unwrap();
    let mut offsets = Vec::new();
    for i in 0..30 {
        offsets.push(fs::metadata(&seg).unwrap().len());
        commit(&db, i);
    }
    drop(db);
    // Damage a value byte inside commit 12's record.
    let at = offsets[12];
    let mut bytes = fs::read(&seg).unwrap();
    let pos = (offsets[13] - 3) as usize;
    bytes[pos] ^= 0x40;
    fs::write(&seg, &bytes).unwrap();

    let warnings = Warnings::default();
    let db =
        tracing::subscriber::with_default(warnings.clone(), || open(dir.path(), &opts(7_200_000)));
    assert_eq!(dump(&db), expected(12));
    let logged = warnings.0.lock().unwrap().clone();
    let hit: Vec<&String> =
        logged.iter().filter(|w| w.contains("truncating the WAL segment")).collect();
    assert_eq!(hit.len(), 1, "{logged:?}");
    assert!(hit[0].contains(&format!("offset={at}")), "{}", hit[0]);
    assert!(hit[0].contains(&seg.display().to_string()), "{}", hit[0]);
    assert!(hit[0].contains("checksum mismatch"), "{}", hit[0]);
    assert_eq!(fs::metadata(&seg).unwrap().len(), at);
}

#[test]
fn garbage_files_and_a_zeroed_tail_do_not_stop_opening() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    for i in 0..5 {
        commit(&db, i);
    }
    drop(db);
    let seg = segments(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]);
    fs::write(&seg, &bytes).unwrap();
    fs::write(dir.path().join("wal").join("checkpoint.00000001.tmp"), b"partial").unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    assert_eq!(dump(&db), expected(5));
    assert!(!dir.path().join("wal").join("checkpoint.00000001.tmp").exists());
}

#[test]
fn checkpoints_replace_segments_after_a_block_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(100);
    let db = open(dir.path(), &o);
    for i in 0..40 {
        commit(&db, i);
    }
    let report = db.maintain(0).unwrap();
    assert!(report.blocks_cut >= 1, "{report:?}");
    let before = dump(&db);
    assert_eq!(before, expected(40));
    let names: Vec<String> = fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("checkpoint.")), "{names:?}");
    let head = db.stats();
    assert!(head.head_min_time.unwrap() >= 250, "{head:?}");
    drop(db);
    let db = open(dir.path(), &o);
    assert_eq!(dump(&db), before);
    assert_eq!(db.stats().head_samples, head.head_samples);
    assert_eq!(db.stats().series, head.series);
}
