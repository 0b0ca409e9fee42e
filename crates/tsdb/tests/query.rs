//! Appending and querying: inclusive ranges, sorted output, every matcher
//! kind (checked against the in-memory reference storage), label names and
//! values, and how out-of-order, duplicate and too-old samples are counted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;

use andon_series::{Labels, MatchOp, Matcher, MemStorage, Querier, Sample, stale_nan};
use andon_tsdb::{CommitStats, Error, RejectKind, Tsdb};
use common::{dump, lbl, open, opts, to_dump};

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

#[test]
fn ranges_are_inclusive_and_output_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    let a = lbl(&[("__name__", "x"), ("i", "a")]);
    let b = lbl(&[("__name__", "x"), ("i", "b")]);
    let mut app = db.appender();
    for t in [0, 10, 20, 30] {
        app.append(&b, t, t as f64).unwrap();
        app.append(&a, t, 1.0).unwrap();
    }
    assert_eq!(app.commit().unwrap().appended, 8);

    let got = db.select(&[Matcher::equal("__name__", "x")], 10, 20).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels, a);
    assert_eq!(got[1].labels, b);
    assert_eq!(got[1].samples, vec![Sample { t: 10, v: 10.0 }, Sample { t: 20, v: 20.0 }]);
    assert_eq!(db.select(&[], 21, 29).unwrap(), vec![]);
    assert_eq!(db.select(&[], 30, 30).unwrap().len(), 2);
    assert_eq!(db.select(&[], -5, -1).unwrap(), vec![]);
}

/// A data set exercising absent labels, prefixes and similar values.
fn fixture() -> Vec<Labels> {
    vec![
        lbl(&[("__name__", "up"), ("job", "api"), ("instance", "a")]),
        lbl(&[("__name__", "up"), ("job", "api"), ("instance", "b")]),
        lbl(&[("__name__", "up"), ("job", "apex"), ("instance", "c")]),
        lbl(&[("__name__", "up"), ("job", "db"), ("instance", "d")]),
        lbl(&[("__name__", "up"), ("instance", "e")]),
        lbl(&[("__name__", "http_requests_total"), ("job", "api"), ("code", "200")]),
        lbl(&[("__name__", "http_requests_total"), ("job", "api"), ("code", "500")]),
        lbl(&[("__name__", "http_requests_total"), ("job", "db"), ("code", "200")]),
        lbl(&[("__name__", "temp"), ("room", "a\nb")]),
        lbl(&[("other", "x")]),
    ]
}

fn selectors() -> Vec<Vec<Matcher>> {
    use MatchOp::*;
    let one = |op, n: &str, v: &str| vec![m(op, n, v)];
    vec![
        vec![],
        one(Equal, "__name__", "up"),
        one(Equal, "job", "api"),
        one(Equal, "job", "nope"),
        one(Equal, "job", ""),
        one(NotEqual, "job", "api"),
        one(NotEqual, "job", ""),
        one(Regex, "job", "api|db"),
        one(Regex, "job", "api|"),
        one(Regex, "job", "ap.*"),
        one(Regex, "job", "a.*x"),
        one(Regex, "job", ".*"),
        one(Regex, "job", ".+"),
        one(Regex, "job", ""),
        one(Regex, "instance", "[a-c]"),
        one(Regex, "room", "a.b"),
        one(NotRegex, "job", "a.*"),
        one(NotRegex, "job", ".+"),
        one(NotRegex, "job", ""),
        vec![m(Equal, "__name__", "up"), m(NotEqual, "job", "api")],
        vec![m(Equal, "__name__", "up"), m(Equal, "job", "")],
        vec![m(Equal, "__name__", "up"), m(NotRegex, "job", "ap.*")],
        vec![m(Regex, "__name__", "up|http_requests_total"), m(Regex, "job", "api|db")],
        vec![m(Regex, "__name__", "http_.*"), m(Equal, "code", "200"), m(NotEqual, "job", "db")],
        vec![m(Equal, "__name__", "up"), m(Regex, "instance", "a|e"), m(Equal, "job", "")],
        vec![m(Regex, "__name__", ".+"), m(Regex, "job", "d.*"), m(Regex, "instance", ".*")],
        vec![m(Equal, "__name__", "up"), m(Equal, "__name__", "temp")],
    ]
}

#[test]
fn matchers_agree_with_the_reference_storage_in_head_blocks_and_both() {
    let dir = tempfile::tempdir().unwrap();
    let block = 1_000;
    let db = open(dir.path(), &opts(block));
    let mut reference = MemStorage::new();
    let series = fixture();
    let check = |db: &Tsdb, reference: &MemStorage, stage: &str| {
        for sel in selectors() {
            for (mint, maxt) in
                [(i64::MIN, i64::MAX), (0, 999), (500, 1_500), (1_200, 1_200), (2_001, 9_000)]
            {
                let want = to_dump(reference.select(&sel, mint, maxt).unwrap());
                let got = to_dump(db.select(&sel, mint, maxt).unwrap());
                assert_eq!(got, want, "{stage}: select {sel:?} [{mint}, {maxt}]");
                assert_eq!(
                    db.label_names(&sel, mint, maxt).unwrap(),
                    reference.label_names(&sel, mint, maxt).unwrap(),
                    "{stage}: label_names {sel:?} [{mint}, {maxt}]"
                );
                for name in ["job", "instance", "__name__", "nope"] {
                    assert_eq!(
                        db.label_values(name, &sel, mint, maxt).unwrap(),
                        reference.label_values(name, &sel, mint, maxt).unwrap(),
                        "{stage}: label_values {name} {sel:?} [{mint}, {maxt}]"
                    );
                }
            }
        }
    };
    // Series i has samples every (i + 1) * 50 ms over [0, 2000].
    let mut app = db.appender();
    for (i, l) in series.iter().enumerate() {
        let step = (i as i64 + 1) * 50;
        for t in (0..=2_000).step_by(step as usize) {
            let v = if t == 1_000 { stale_nan() } else { (t * i as i64) as f64 / 7.0 };
            app.append(l, t, v).unwrap();
            reference.append(l, t, v);
        }
    }
    app.commit().unwrap();
    check(&db, &reference, "head");
    assert_eq!(db.flush().unwrap(), 3);
    check(&db, &reference, "blocks");

    // More samples into the head, so queries span blocks and head.
    let mut app = db.appender();
    for (i, l) in series.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        app.append(l, 2_500, i as f64).unwrap();
        reference.append(l, 2_500, i as f64);
    }
    app.commit().unwrap();
    check(&db, &reference, "blocks and head");
    drop(db);
    let db = open(dir.path(), &opts(block));
    check(&db, &reference, "reopened");
}

#[test]
fn label_names_and_values_follow_matchers_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(7_200_000));
    let mut app = db.appender();
    app.append(&lbl(&[("__name__", "a"), ("job", "x"), ("zone", "eu")]), 100, 1.0).unwrap();
    app.append(&lbl(&[("__name__", "b"), ("job", "y")]), 200, 1.0).unwrap();
    app.append(&lbl(&[("__name__", "c"), ("env", "prod")]), 300, 1.0).unwrap();
    app.commit().unwrap();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(db.label_names(&[], 0, 1_000).unwrap(), s(&["__name__", "env", "job", "zone"]));
    assert_eq!(db.label_names(&[], 150, 250).unwrap(), s(&["__name__", "job"]));
    assert_eq!(db.label_values("job", &[], 0, 1_000).unwrap(), s(&["x", "y"]));
    assert_eq!(db.label_values("job", &[], 201, 1_000).unwrap(), s(&[]));
    assert_eq!(
        db.label_values("__name__", &[m(MatchOp::NotEqual, "job", "x")], 0, 1_000).unwrap(),
        s(&["b", "c"])
    );
    assert_eq!(
        db.label_names(&[m(MatchOp::Regex, "job", "x|y")], 0, 1_000).unwrap(),
        s(&["__name__", "job", "zone"])
    );
}

#[test]
fn out_of_order_duplicates_and_too_old_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(1_000));
    let a = lbl(&[("__name__", "a")]);
    let b = lbl(&[("__name__", "b")]);
    let mut app = db.appender();
    app.append(&a, 100, 1.0).unwrap();
    app.append(&a, 200, 2.0).unwrap();
    app.append(&a, 150, 9.0).unwrap(); // older than 200 in the same batch
    app.append(&a, 200, 2.0).unwrap(); // same time and value: ignored
    app.append(&a, 200, 3.0).unwrap(); // same time, new value
    app.append(&b, 50, 1.0).unwrap();
    let st = app.commit().unwrap();
    assert_eq!(
        (st.appended, st.unchanged, st.out_of_order, st.duplicate, st.too_old),
        (3, 1, 1, 1, 0)
    );
    assert_eq!(
        st.examples.iter().map(|r| (r.kind, r.t)).collect::<Vec<_>>(),
        vec![(RejectKind::OutOfOrder, 150), (RejectKind::DuplicateTimestamp, 200)]
    );

    // Against stored samples in a later commit.
    let mut app = db.appender();
    app.append(&a, 199, 1.0).unwrap();
    app.append(&a, 200, f64::NAN).unwrap();
    app.append(&b, 50, 1.0).unwrap();
    app.append(&b, 60, 1.0).unwrap();
    let st = app.commit().unwrap();
    assert_eq!((st.appended, st.unchanged, st.out_of_order, st.duplicate), (1, 1, 1, 1));
    assert_eq!(st.rejected(), 2);

    // NaN payloads compare by bits: the same stale marker twice is unchanged.
    let mut app = db.appender();
    app.append(&b, 70, stale_nan()).unwrap();
    app.commit().unwrap();
    let mut app = db.appender();
    app.append(&b, 70, stale_nan()).unwrap();
    assert_eq!(app.commit().unwrap().unchanged, 1);

    // After a flush everything up to the newest flushed sample is too old,
    // also for new series.
    db.flush().unwrap();
    let mut app = db.appender();
    app.append(&a, 150, 1.0).unwrap();
    app.append(&lbl(&[("__name__", "new")]), 199, 1.0).unwrap();
    app.append(&lbl(&[("__name__", "new")]), 201, 1.0).unwrap();
    let st = app.commit().unwrap();
    assert_eq!((st.appended, st.too_old), (1, 2));
    assert!(st.examples.iter().all(|r| r.kind == RejectKind::TooOld));

    let d = dump(&db);
    let got: Vec<(String, Vec<i64>)> =
        d.iter().map(|(l, s)| (l.series_string(), s.iter().map(|x| x.0).collect())).collect();
    assert_eq!(
        got,
        vec![
            ("a".to_string(), vec![100, 200]),
            ("b".to_string(), vec![50, 60, 70]),
            ("new".to_string(), vec![201]),
        ]
    );
    assert_eq!(d[1].1[2].1, andon_series::STALE_NAN_BITS);
}

#[test]
fn empty_label_sets_and_empty_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &opts(1_000));
    let mut app = db.appender();
    assert!(matches!(app.append(&Labels::empty(), 1, 1.0), Err(Error::InvalidSeries(_))));
    assert!(app.is_empty());
    assert_eq!(app.commit().unwrap(), CommitStats::default());
    let mut app = db.appender();
    app.append(&lbl(&[("a", "b")]), 1, 1.0).unwrap();
    app.rollback();
    assert_eq!(dump(&db), vec![]);
    assert_eq!(db.stats().series, 0);
}

#[test]
fn concurrent_writers_readers_and_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(dir.path(), &opts(1_000)));
    // Writers move in step so none falls behind the head's lower bound.
    let step = Arc::new(std::sync::Barrier::new(4));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (db, step) = (Arc::clone(&db), Arc::clone(&step));
            std::thread::spawn(move || {
                for t in 0..200 {
                    let mut app = db.appender();
                    for s in 0..10 {
                        let l =
                            lbl(&[("__name__", "m"), ("w", &w.to_string()), ("s", &s.to_string())]);
                        app.append(&l, t * 100, t as f64).unwrap();
                    }
                    assert_eq!(app.commit().unwrap().appended, 10);
                    step.wait();
                }
            })
        })
        .collect();
    let maintainer = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut cut = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                cut += db.maintain(0).unwrap().blocks_cut;
                std::thread::yield_now();
            }
            cut
        })
    };
    let reader = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            for _ in 0..50 {
                for s in db.select(&[Matcher::equal("__name__", "m")], i64::MIN, i64::MAX).unwrap()
                {
                    // Every commit is whole: a series' samples are a gapless prefix.
                    let ts: Vec<i64> = s.samples.iter().map(|x| x.t).collect();
                    let want: Vec<i64> = (0..ts.len() as i64).map(|i| i * 100).collect();
                    assert_eq!(ts, want);
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let cut = maintainer.join().unwrap() + db.maintain(0).unwrap().blocks_cut;
    // Samples span 0..=19900: windows [0, 1000) .. [18000, 19000) are cut,
    // each once, whenever the maintainer happened to run.
    assert_eq!(cut, 19);
    assert_eq!(db.stats().head_min_time, Some(19_000));
    let d = dump(&db);
    assert_eq!(d.len(), 40);
    assert!(d.iter().all(|(_, s)| s.len() == 200));
}
