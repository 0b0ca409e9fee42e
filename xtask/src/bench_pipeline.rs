//! `cargo xtask bench pipeline`: the GitHub Actions engine against its targets —
//! per-step overhead of `andon run` against the same commands in one bash script,
//! reading and planning a 200-job DAG with matrices, the time from a need finishing to
//! its dependent starting, output captured through masking, and `andon run --list`
//! start-up.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use andon_expr::Object;
use andon_runner::mask::Masker;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let ok = Command::new("git")
        .args(["-c", "user.name=bench", "-c", "user.email=bench@example.com"])
        .args(args)
        .current_dir(dir)
        .output()?
        .status
        .success();
    anyhow::ensure!(ok, "git {args:?} failed");
    Ok(())
}

fn time_cmd(cmd: &mut Command) -> anyhow::Result<f64> {
    let t = Instant::now();
    let out = cmd.output()?;
    anyhow::ensure!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// 500 trivial steps through `andon run` against one bash script with the same 500
/// commands; and `andon run --list` start-up.
fn steps_overhead(bin: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf)?;
    let mut yaml = String::from("on: push\njobs:\n  many:\n    runs-on: x\n    steps:\n");
    for i in 0..500 {
        yaml.push_str(&format!("      - run: \"true {i}\"\n"));
    }
    std::fs::write(wf.join("many.yml"), yaml)?;
    git(dir.path(), &["init", "-q", "-b", "main"])?;
    git(dir.path(), &["add", "-A"])?;
    git(dir.path(), &["commit", "-q", "-m", "bench"])?;
    let script = dir.path().join("all.sh");
    std::fs::write(&script, (0..500).map(|i| format!("true {i}\n")).collect::<String>())?;
    let mut andon = Vec::new();
    let mut bash = Vec::new();
    for _ in 0..3 {
        andon.push(time_cmd(Command::new(bin).args(["run"]).current_dir(dir.path()))?);
        bash.push(time_cmd(Command::new("bash").arg("-e").arg(&script))?);
    }
    let (a, b) = (median(andon), median(bash));
    println!(
        "pipeline: 500 trivial steps: andon run {a:.0} ms, one bash script {b:.1} ms; overhead {:.2} ms per step (target <= 2 ms)",
        (a - b) / 500.0
    );
    let mut list = Vec::new();
    for _ in 0..20 {
        list.push(time_cmd(Command::new(bin).args(["run", "--list"]).current_dir(dir.path()))?);
    }
    println!(
        "pipeline: andon run --list cold start, median of 20: {:.1} ms (target < 30 ms)",
        median(list)
    );
    Ok(())
}

/// A 200-job workflow: 50 levels of 4 jobs, every job needing the jobs of the level
/// before, one in four with a 2×2 matrix.
fn big_workflow() -> String {
    let mut y = String::from("on: push\njobs:\n");
    for level in 0..50 {
        for k in 0..4 {
            y.push_str(&format!("  j{level}_{k}:\n    runs-on: x\n"));
            if level > 0 {
                let needs: Vec<String> = (0..4).map(|p| format!("j{}_{p}", level - 1)).collect();
                y.push_str(&format!("    needs: [{}]\n", needs.join(", ")));
            }
            if k == 0 {
                y.push_str("    strategy:\n      matrix:\n        os: [a, b]\n        v: [1, 2]\n");
            }
            y.push_str("    steps:\n      - run: echo ${{ matrix.os }}\n");
        }
    }
    y
}

fn planning() -> anyhow::Result<()> {
    let text = big_workflow();
    let mut read = Vec::new();
    let mut planned = Vec::new();
    let mut jobs = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let wf = andon_pipeline::read("big.yml", text.as_bytes())
            .map_err(|p| anyhow::anyhow!("{:?}", p.first()))?;
        read.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let plan = andon_pipeline::plan::plan(&wf, &Object::new()).map_err(anyhow::Error::msg)?;
        planned.push(t.elapsed().as_secs_f64() * 1e3);
        jobs = plan.jobs.len();
    }
    println!(
        "pipeline: 200-job DAG with matrices ({jobs} planned jobs, 50 levels): read {:.2} ms, planned {:.3} ms (median of 20; target < 10 ms)",
        median(read),
        median(planned)
    );
    // From a need finishing to its dependents being started, in the scheduler.
    let wf = andon_pipeline::read("big.yml", text.as_bytes())
        .map_err(|p| anyhow::anyhow!("{:?}", p.first()))?;
    let plan = andon_pipeline::plan::plan(&wf, &Object::new()).map_err(anyhow::Error::msg)?;
    let n = wf.jobs.len();
    let mut s = andon_pipeline::schedule::Scheduler::new(
        &wf,
        &plan,
        64,
        vec![true; n],
        vec![None; n],
        vec![false; n],
    );
    let mut running = s.next(|_, _| true);
    let mut gaps = Vec::new();
    while !running.is_empty() {
        let mut next = Vec::new();
        for i in running {
            let t = Instant::now();
            s.finished(i, andon_pipeline::schedule::Status::Success);
            let started = s.next(|_, _| true);
            if !started.is_empty() {
                gaps.push(t.elapsed().as_secs_f64() * 1e6);
            }
            next.extend(started);
        }
        running = next;
    }
    println!(
        "pipeline: a need finishing to its dependents started (scheduler, 200-job DAG): p50 {:.1} µs, max {:.1} µs (target < 5 ms)",
        median(gaps.clone()),
        gaps.iter().copied().fold(0.0, f64::max)
    );
    Ok(())
}

/// A step printing 100 MB (base64 lines) with a secret registered: how fast the
/// output is captured, masked and passed on.
async fn masking() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let step = andon_runner::step::Script {
        script: "head -c 75000000 /dev/urandom | base64 -w 76".into(),
        working_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let mut masker = Masker::new();
    masker.add("not-in-the-output-s3cr3t");
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut bytes = 0usize;
    let t = Instant::now();
    let f = andon_runner::step::run(&step, &dir.path().join("_temp"), &mut masker, rx, &mut |e| {
        if let andon_runner::step::Event::Out(l) = e {
            bytes += l.len() + 1;
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(f.success(), "the output step failed");
    // The producer alone, for reference.
    let produce = time_cmd(
        Command::new("bash")
            .args(["-c", "head -c 75000000 /dev/urandom | base64 -w 76 > /dev/null"]),
    )?;
    println!(
        "pipeline: a step printing {:.0} MB with masking on: {:.0} MB/s captured ({:.2} s; producing alone {:.2} s; target >= 200 MB/s)",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs,
        secs,
        produce / 1e3
    );
    Ok(())
}

pub(crate) async fn pipeline(bin: &Path) -> anyhow::Result<()> {
    planning()?;
    masking().await?;
    steps_overhead(bin)?;
    Ok(())
}
