//! Blocks: cutting, reopening, compaction, retention and crash leftovers all
//! keep query results identical; on-disk size of realistic data.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use andon_series::{MatchOp, Matcher, Querier};
use andon_tsdb::{MaintainReport, Options, Tsdb};
use common::{Dump, dump, lbl, load, open, opts, realistic, to_dump, total_samples};

const BLOCK: i64 = 1_000;

/// Ten series with a sample every 50 ms over `[from, to)`, values derived
/// from time so results are predictable.
fn write_range(db: &Tsdb, from: i64, to: i64) {
    for t in (from..to).step_by(50) {
        let mut app = db.appender();
        for s in 0..10 {
            let l = lbl(&[
                ("__name__", "m"),
                ("s", &s.to_string()),
                ("odd", if s % 2 == 1 { "y" } else { "" }),
            ]);
            app.append(&l, t, (t * (s + 1)) as f64 / 3.0).unwrap();
        }
        assert_eq!(app.commit().unwrap().appended, 10);
    }
}

fn block_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().unwrap().len() == 26)
        .collect();
    out.sort();
    out
}

/// A few queries whose answers must survive every storage change.
fn answers(db: &Tsdb) -> Vec<Dump> {
    let odd = Matcher::new(MatchOp::Equal, "odd", "y").unwrap();
    let not_odd = Matcher::new(MatchOp::NotEqual, "odd", "y").unwrap();
    let re = Matcher::new(MatchOp::Regex, "s", "1|3|7").unwrap();
    vec![
        dump(db),
        to_dump(db.select(&[odd], 900, 2_100).unwrap()),
        to_dump(db.select(&[not_odd], 0, 1_000).unwrap()),
        to_dump(db.select(&[re], 2_950, 3_050).unwrap()),
    ]
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
fn cutting_blocks_and_reopening_keep_query_results() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(BLOCK as u64));
    write_range(&db, 0, 3_400);
    let before = answers(&db);
    assert_eq!(total_samples(&before[0]), 680);

    let report = db.maintain(3_400).unwrap();
    // The head spans 0..=3350, more than 1.5 blocks: [0, 1000) is cut; then
    // 1000..=3350 still is: [1000, 2000) is cut; 2000..=3350 is not.
    assert_eq!(report, MaintainReport { blocks_cut: 2, ..MaintainReport::default() });
    assert_eq!(answers(&db), before);
    let metas = db.blocks();
    assert_eq!(metas.len(), 2);
    assert_eq!((metas[0].min_time, metas[0].max_time), (0, 951));
    assert_eq!((metas[1].min_time, metas[1].max_time), (1_000, 1_951));
    assert_eq!(metas[0].stats.num_samples, 200);
    assert_eq!(metas[0].stats.num_series, 10);
    assert_eq!(metas[0].compaction.level, 1);
    assert_eq!(metas[0].compaction.sources, vec![metas[0].ulid.clone()]);
    for d in block_dirs(dir.path()) {
        for f in ["meta.json", "index", "chunks"] {
            assert!(d.join(f).is_file(), "{} lacks {f}", d.display());
        }
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(block_dirs(dir.path())[0].join("meta.json")).unwrap())
            .unwrap();
    for key in ["ulid", "minTime", "maxTime", "stats", "compaction", "version"] {
        assert!(meta.get(key).is_some(), "meta.json lacks {key}: {meta}");
    }
    let stats = db.stats();
    assert_eq!(stats.block_samples, 400);
    assert_eq!(stats.head_samples, 280);
    assert_eq!(stats.head_min_time, Some(2_000));
    assert_eq!(stats.head_min_valid_time, 2_000);

    drop(db);
    let db = open(dir.path(), &opts(BLOCK as u64));
    assert_eq!(answers(&db), before);
    assert_eq!(db.stats().head_samples, 280);
    assert_eq!(db.blocks().len(), 2);
    // The head keeps growing and the next range is cut.
    write_range(&db, 3_400, 3_600);
    let before = answers(&db);
    assert_eq!(db.maintain(3_600).unwrap().blocks_cut, 1);
    assert_eq!(answers(&db), before);
}

#[test]
fn compaction_merges_three_blocks_and_keeps_results() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(BLOCK as u64));
    write_range(&db, 0, 3_050);
    let before = answers(&db);
    // Flush into four level-1 blocks: three full windows and [3000, 3001).
    assert_eq!(db.flush().unwrap(), 4);
    assert_eq!(answers(&db), before);
    let sources: Vec<String> = db.blocks().iter().take(3).map(|b| b.ulid.clone()).collect();

    // The window [0, 3000) is complete: one level-2 block replaces its three.
    let report = db.maintain(3_050).unwrap();
    assert_eq!(report, MaintainReport { compactions: 1, ..MaintainReport::default() });
    let metas = db.blocks();
    assert_eq!(metas.len(), 2);
    assert_eq!(metas[0].compaction.level, 2);
    let mut want = sources.clone();
    want.sort();
    assert_eq!(metas[0].compaction.sources, want);
    assert_eq!(metas[0].compaction.parents, sources);
    assert_eq!(metas[0].stats.num_samples, 600);
    assert_eq!(metas[0].stats.num_series, 10);
    assert_eq!((metas[0].min_time, metas[0].max_time), (0, 2_951));
    assert_eq!(
        (metas[1].min_time, metas[1].max_time, metas[1].compaction.level),
        (3_000, 3_001, 1)
    );
    assert_eq!(answers(&db), before);
    assert_eq!(block_dirs(dir.path()).len(), 2);
    drop(db);
    let db = open(dir.path(), &opts(BLOCK as u64));
    assert_eq!(answers(&db), before);

    // Up to 9000: [3000, 6000) (four blocks) and [6000, 9000) merge into
    // level 2, then the three level-2 blocks of [0, 9000) into level 3.
    write_range(&db, 3_050, 9_050);
    db.flush().unwrap();
    let all = answers(&db);
    let report = db.maintain(9_050).unwrap();
    assert_eq!(report.compactions, 3, "{report:?}");
    let spans: Vec<(i64, i64, u32, usize)> = db
        .blocks()
        .iter()
        .map(|b| (b.min_time, b.max_time, b.compaction.level, b.compaction.sources.len()))
        .collect();
    assert_eq!(spans, vec![(0, 8_951, 3, 10), (9_000, 9_001, 1, 1)]);
    assert_eq!(answers(&db), all);
    assert_eq!(total_samples(&all[0]), 1_810);
}

#[test]
fn a_partial_window_waits_and_compaction_respects_the_maximum_span() {
    let dir = tempfile::tempdir().unwrap();
    let o =
        Options { max_block_duration: Some(Duration::from_millis(3_000)), ..opts(BLOCK as u64) };
    let db = open(dir.path(), &o);
    write_range(&db, 0, 2_000);
    db.flush().unwrap();
    // Window [0, 3000) is not complete: nothing to merge yet.
    assert_eq!(db.maintain(2_000).unwrap().compactions, 0);
    write_range(&db, 2_000, 9_000);
    db.flush().unwrap();
    db.maintain(9_000).unwrap();
    let spans = |db: &Tsdb| -> Vec<(i64, i64, u32)> {
        db.blocks().iter().map(|b| (b.min_time, b.max_time, b.compaction.level)).collect()
    };
    // [6000, 9000) could still receive samples in [8951, 9000): it waits.
    assert_eq!(
        spans(&db),
        vec![
            (0, 2_951, 2),
            (3_000, 5_951, 2),
            (6_000, 6_951, 1),
            (7_000, 7_951, 1),
            (8_000, 8_951, 1)
        ]
    );
    write_range(&db, 9_000, 9_050);
    db.flush().unwrap();
    db.maintain(9_050).unwrap();
    // No level 3: it would span 9000 ms, more than the 3000 ms maximum.
    assert_eq!(
        spans(&db),
        vec![(0, 2_951, 2), (3_000, 5_951, 2), (6_000, 8_951, 2), (9_000, 9_001, 1)]
    );
}

#[test]
fn retention_deletes_the_oldest_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options { retention: Duration::from_millis(2_500), ..opts(BLOCK as u64) };
    let db = open(dir.path(), &o);
    write_range(&db, 0, 5_000);
    db.flush().unwrap();
    assert_eq!(db.blocks().len(), 5);
    // Blocks ending at or before 5000 - 2500 go: [0,951) and [1000,1951).
    let report = db.maintain(5_000).unwrap();
    assert_eq!(report.blocks_deleted, 2, "{report:?}");
    let mins: Vec<i64> = db.blocks().iter().map(|b| b.min_time).collect();
    assert_eq!(mins, vec![2_000, 3_000, 4_000]);
    assert_eq!(db.select(&[], 0, 1_999).unwrap(), vec![]);
    assert_eq!(total_samples(&dump(&db)), 600);
    assert_eq!(block_dirs(dir.path()).len(), 3);

    // Size retention: the oldest blocks go until blocks plus log fit.
    drop(db);
    let sizes: Vec<u64> = block_dirs_by_time(dir.path()).iter().map(|d| dir_size(d)).collect();
    assert_eq!(sizes.len(), 3);
    let sized = |limit: u64| Options {
        retention: Duration::ZERO,
        retention_bytes: Some(limit),
        ..opts(BLOCK as u64)
    };
    let db = open(dir.path(), &sized(u64::MAX));
    let wal = db.stats().wal_bytes;
    assert_eq!(db.stats().disk_bytes, wal + sizes.iter().sum::<u64>());
    drop(db);
    let db = open(dir.path(), &sized(wal + sizes[1] + sizes[2]));
    assert_eq!(db.maintain(5_000).unwrap().blocks_deleted, 1);
    assert_eq!(db.blocks().iter().map(|b| b.min_time).collect::<Vec<_>>(), vec![3_000, 4_000]);
    drop(db);
    let db = open(dir.path(), &sized(wal + sizes[2] - 1));
    assert_eq!(db.maintain(5_000).unwrap().blocks_deleted, 2);
    assert!(db.blocks().is_empty());
    assert_eq!(dump(&db), vec![]);
}

fn block_dirs_by_time(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<(i64, PathBuf)> = block_dirs(dir)
        .into_iter()
        .map(|d| {
            let meta: serde_json::Value =
                serde_json::from_slice(&fs::read(d.join("meta.json")).unwrap()).unwrap();
            (meta["minTime"].as_i64().unwrap(), d)
        })
        .collect();
    dirs.sort();
    dirs.into_iter().map(|(_, d)| d).collect()
}

fn dir_size(d: &Path) -> u64 {
    fs::read_dir(d).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum()
}

fn db_size(dir: &Path) -> u64 {
    block_dirs(dir)
        .iter()
        .flat_map(|d| fs::read_dir(d).unwrap().flatten())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn crash_leftovers_are_cleaned_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(BLOCK as u64));
    write_range(&db, 0, 3_500);
    db.flush().unwrap();
    let before = answers(&db);
    let sources = block_dirs_by_time(dir.path());
    assert_eq!(sources.len(), 4);
    // Keep copies of the level-1 blocks, then compact them away.
    let saved = tempfile::tempdir().unwrap();
    for s in &sources {
        copy_dir(s, &saved.path().join(s.file_name().unwrap()));
    }
    assert_eq!(db.maintain(3_500).unwrap().compactions, 1);
    drop(db);

    // A crash after the merged block was renamed but before its sources were
    // deleted leaves both; plus an unfinished block and a half-deleted one.
    for s in &sources[..3] {
        copy_dir(&saved.path().join(s.file_name().unwrap()), s);
    }
    let tmp = dir.path().join("01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp");
    fs::create_dir_all(&tmp).unwrap();
    fs::write(tmp.join("chunks"), b"junk").unwrap();
    let deleting = dir.path().join("01ARZ3NDEKTSV4RRFFQ69G5FAW.deleting");
    fs::create_dir_all(&deleting).unwrap();
    assert_eq!(block_dirs(dir.path()).len(), 5);

    let db = open(dir.path(), &opts(BLOCK as u64));
    assert_eq!(answers(&db), before);
    assert_eq!(db.blocks().len(), 2);
    assert_eq!(block_dirs(dir.path()).len(), 2);
    assert!(!tmp.exists() && !deleting.exists());
    for s in &sources[..3] {
        assert!(!s.exists(), "{} was not removed", s.display());
    }
}

#[test]
fn head_and_overlapping_sources_merge_without_duplicates() {
    // A block restored from a backup duplicates data already in a merged block:
    // queries show each sample once, and compaction folds the overlap away.
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(BLOCK as u64));
    write_range(&db, 0, 2_000);
    db.flush().unwrap();
    let before = answers(&db);
    let first = block_dirs(dir.path());
    drop(db);
    let copy = dir.path().join("01ARZ3NDEKTSV4RRFFQ69G5FAX");
    copy_dir(&first[0], &copy);
    let meta_path = copy.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
    meta["ulid"] = "01ARZ3NDEKTSV4RRFFQ69G5FAX".into();
    meta["compaction"]["sources"] = serde_json::json!(["01ARZ3NDEKTSV4RRFFQ69G5FAX"]);
    fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    let db = open(dir.path(), &opts(BLOCK as u64));
    assert_eq!(db.blocks().len(), 3);
    assert_eq!(answers(&db), before);
    assert_eq!(db.maintain(2_000).unwrap().compactions, 1);
    assert_eq!(db.blocks().len(), 2);
    assert_eq!(db.blocks()[0].stats.num_samples, 200);
    assert_eq!(answers(&db), before);
}

#[test]
fn bytes_per_sample_on_disk_for_realistic_data() {
    let dir = tempfile::tempdir().unwrap();
    let hours2 = 7_200_000;
    let start = 1_700_006_400_000; // a multiple of 2 h
    let o = Options { retention: Duration::ZERO, ..Options::default() };
    let db = Tsdb::open(dir.path(), o.clone()).unwrap();
    let data = realistic(1_000, start, hours2, 42);
    load(&db, &data);
    let samples: usize = data.iter().map(|(_, s)| s.len()).sum();
    assert_eq!(db.stats().head_samples, samples as u64);
    let before = dump(&db);
    assert_eq!(db.flush().unwrap(), 1);
    let stats = db.stats();
    assert_eq!(stats.block_samples, samples as u64);
    assert_eq!(stats.head_samples, 0);
    let bytes = db_size(dir.path());
    let per_sample = bytes as f64 / samples as f64;
    println!(
        "on disk after flush: {} series, {samples} samples, {bytes} bytes in blocks, {per_sample:.3} bytes/sample ({} chunks)",
        data.len(),
        stats.block_chunks
    );
    assert!(per_sample < 1.05, "{per_sample} bytes per sample");
    drop(db);
    let db = Tsdb::open(dir.path(), o).unwrap();
    assert_eq!(dump(&db), before);
}

/// Deterministic noise, as in the `cargo xtask bench tsdb` load generator.
fn mix(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// The shape of the `cargo xtask bench tsdb` load: 95% counters
/// `k * (3 + i % 7) + jitter(0..=2)` and 5% cumulative histogram buckets (11
/// per histogram), one sample every 15 s for an hour (240 points).
fn bench_shaped(series: usize, start: i64) -> Vec<(andon_series::Labels, Vec<(i64, f64)>)> {
    const LE: [&str; 11] =
        ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"];
    let histograms = (series / 20) / LE.len();
    let counters = series - histograms * LE.len();
    let times = |f: &dyn Fn(u64) -> f64| -> Vec<(i64, f64)> {
        (0..240u64).map(|k| (start + k as i64 * 15_000, f(k))).collect()
    };
    let mut out = Vec::with_capacity(series);
    for i in 0..counters {
        let l = lbl(&[
            ("__name__", "bench_requests_total"),
            ("job", &format!("job-{}", i % 20)),
            ("instance", &format!("inst-{i}")),
        ]);
        let i = i as u64;
        out.push((l, times(&|k| (k * (3 + mix(i, 1) % 7) + mix(i, k) % 3) as f64)));
    }
    for h in 0..histograms {
        for (idx, le) in LE.iter().enumerate() {
            let l = lbl(&[
                ("__name__", "bench_latency_seconds_bucket"),
                ("job", &format!("job-{}", h % 20)),
                ("instance", &format!("inst-{h}")),
                ("le", le),
            ]);
            let ordinal = (counters + h * LE.len() + idx) as u64;
            let rate = (idx as u64 + 1) * (1 + mix(ordinal / LE.len() as u64, 7) % 3);
            out.push((l, times(&|k| (k * rate) as f64)));
        }
    }
    out
}

#[test]
fn bytes_per_sample_on_disk_for_benchmark_shaped_data() {
    let hours2 = 7_200_000;
    let aligned = 1_700_006_400_000; // a multiple of 2 h
    // The hour inside one block, and the hour straddling two blocks (chunks
    // cut at the boundary, every series in both indexes).
    for (start, blocks, limit) in
        [(aligned + 600_000, 1, 0.7), (aligned + hours2 - 1_800_000, 2, 0.88)]
    {
        let dir = tempfile::tempdir().unwrap();
        let o = Options { retention: Duration::ZERO, ..Options::default() };
        let db = Tsdb::open(dir.path(), o.clone()).unwrap();
        let data = bench_shaped(2_000, start);
        load(&db, &data);
        let samples: usize = data.iter().map(|(_, s)| s.len()).sum();
        let before = dump(&db);
        assert_eq!(db.flush().unwrap(), blocks);
        let bytes = db_size(dir.path());
        let per_sample = bytes as f64 / samples as f64;
        println!(
            "benchmark-shaped, {blocks} block(s): {} series, {samples} samples, {bytes} bytes in blocks, {per_sample:.3} bytes/sample ({} chunks)",
            data.len(),
            db.stats().block_chunks
        );
        assert!(per_sample < limit, "{per_sample} bytes per sample");
        drop(db);
        let db = Tsdb::open(dir.path(), o).unwrap();
        assert_eq!(dump(&db), before);
    }
}
