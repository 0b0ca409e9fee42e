//! Benchmarks that compare andon with a peer in the same run and print ratios:
//! - journal: durable appends, 8 concurrent writers, group commit vs one commit per event
//!   on the same SQLite settings, and the same store on PostgreSQL;
//! - http: `GET /api/v1/services/{name}` paced at ~1,000 rps by wrk, andon vs nginx
//!   serving the same JSON as a static file;
//! - startup: spawn to `/readyz` on an existing data dir, and idle RSS (nginx beside it);
//! - rules-eval, rules-test: see `bench_rules`; delivery and autoscale: see `bench_delivery`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use andon_core::{NewEvent, SystemClock};
use andon_store::Store;
use anyhow::{Context, bail};
use sqlx::Executor;

pub(crate) fn run(which: &[&str]) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let all = which.is_empty() || which == ["all"];
    if all || which.contains(&"journal") {
        rt.block_on(journal())?;
    }
    if all || which.contains(&"rules-eval") {
        crate::bench_rules::eval()?;
    }
    if which.contains(&"autoscale") {
        crate::bench_delivery::autoscale();
    }
    if all
        || which.contains(&"http")
        || which.contains(&"startup")
        || which.contains(&"router")
        || which.contains(&"tsdb")
        || which.contains(&"rules-test")
        || which.contains(&"notify")
        || which.contains(&"delivery")
        || which.contains(&"pipeline")
    {
        let bin = build_release()?;
        if all || which.contains(&"router") {
            rt.block_on(router(&bin))?;
        }
        if all || which.contains(&"http") {
            rt.block_on(http(&bin))?;
        }
        if all || which.contains(&"startup") {
            rt.block_on(startup(&bin))?;
        }
        if all || which.contains(&"tsdb") {
            rt.block_on(crate::bench_tsdb::tsdb(&bin))?;
        }
        if all || which.contains(&"rules-test") {
            crate::bench_rules::unit_tests(&bin)?;
        }
        if all || which.contains(&"notify") {
            rt.block_on(crate::bench_rules::notify(&bin))?;
        }
        if all || which.contains(&"delivery") {
            rt.block_on(crate::bench_delivery::delivery(&bin))?;
        }
        if all || which.contains(&"pipeline") {
            rt.block_on(crate::bench_pipeline::pipeline(&bin))?;
        }
    }
    Ok(())
}

const WRITERS: usize = 8;

fn event(w: usize, i: usize) -> NewEvent {
    NewEvent {
        kind: "bench.tick".into(),
        subject: format!("Service/default/w{w}"),
        actor: "bench".into(),
        data: serde_json::json!({"i": i, "note": "a typical small event payload"}),
    }
}

/// Runs `WRITERS` tasks, each calling `append(writer, i)` for i in 0..per_writer one after
/// another; returns appends per second over all of them.
async fn writers_rate<F, Fut>(per_writer: usize, append: F) -> anyhow::Result<f64>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let append = append.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                append(w, i).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((WRITERS * per_writer) as f64 / started.elapsed().as_secs_f64())
}

/// Events per second for `WRITERS` tasks each appending `per_writer` events one at a time.
async fn store_appends(url: &str, per_writer: usize) -> anyhow::Result<f64> {
    let store = Store::open(url, Arc::new(SystemClock)).await?;
    let store_for_tasks = store.clone();
    let rate = writers_rate(per_writer, move |w, i| {
        let s = store_for_tasks.clone();
        async move {
            s.append(vec![event(w, i)]).await?;
            Ok(())
        }
    })
    .await?;
    store.close().await;
    Ok(rate)
}

/// The same load without group commit: each event its own durable transaction.
async fn naive_sqlite_appends(path: &Path, per_writer: usize) -> anyhow::Result<f64> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(WRITERS as u32)
        .after_connect(|c, _| {
            Box::pin(async move {
                c.execute("PRAGMA journal_mode = WAL").await?;
                c.execute("PRAGMA synchronous = FULL").await?;
                c.execute("PRAGMA busy_timeout = 60000").await?;
                Ok(())
            })
        })
        .connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await?;
    pool.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time BIGINT, kind TEXT, subject TEXT, actor TEXT, data TEXT)").await?;
    let insert_pool = pool.clone();
    let rate = writers_rate(per_writer, move |w, i| {
        let pool = insert_pool.clone();
        async move {
            let e = event(w, i);
            sqlx::query(
                "INSERT INTO events (time, kind, subject, actor, data) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(0i64)
            .bind(e.kind)
            .bind(e.subject)
            .bind(e.actor)
            .bind(e.data.to_string())
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await?;
    pool.close().await;
    Ok(rate)
}

async fn journal() -> anyhow::Result<()> {
    println!("== journal: durable appends, {WRITERS} concurrent writers, one event per append");
    let dir = tempfile::tempdir()?;
    let per_writer = 5000;
    let group =
        store_appends(&format!("sqlite://{}", dir.path().join("g.db").display()), per_writer)
            .await?;
    let naive = naive_sqlite_appends(&dir.path().join("n.db"), 500).await?;
    println!("sqlite, andon group commit:        {group:>10.0} events/s");
    println!("sqlite, one commit per event:      {naive:>10.0} events/s");
    println!("ratio group commit / per-event:    {:>10.1}x", group / naive);
    match std::env::var("ANDON_TEST_DATABASE_URL") {
        Ok(admin) => {
            let url = fresh_pg(&admin).await?;
            let pg = store_appends(&url, 2000).await?;
            println!("postgres, andon group commit:      {pg:>10.0} events/s");
            println!("ratio sqlite / postgres:           {:>10.1}x", group / pg);
        }
        Err(_) => println!("postgres: skipped (set ANDON_TEST_DATABASE_URL, see scripts/setup)"),
    }
    Ok(())
}

async fn fresh_pg(admin: &str) -> anyhow::Result<String> {
    sqlx::any::install_default_drivers();
    let name = format!("andon_bench_{}", std::process::id());
    let pool = sqlx::AnyPool::connect(admin).await?;
    pool.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await?;
    pool.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    pool.close().await;
    Ok(format!("{}/{name}", admin.rsplit_once('/').context("database URL has no path")?.0))
}

fn build_release() -> anyhow::Result<PathBuf> {
    let root = crate::tidy::workspace_root();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "andon", "-p", "andon-demo"])
        .current_dir(&root)
        .status()?;
    anyhow::ensure!(status.success(), "release build failed");
    Ok(root.join("target/release/andon"))
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let c = andon_cli::client::Client::new(url).map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = c.send(hyper_method_get(), "/readyz", None).await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn hyper_method_get() -> andon_cli::client::Method {
    andon_cli::client::Method::GET
}

/// A new andon server on a free port with its data dir in `dir`, ready, and a client to it.
pub(crate) async fn fresh_andon(
    bin: &Path,
    dir: &Path,
) -> anyhow::Result<(Proc, andon_cli::client::Client)> {
    let port = free_port()?;
    let p = start_andon(bin, &dir.join("data"), port)?;
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url).await?;
    let c = andon_cli::client::Client::new(&url).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((p, c))
}

pub(crate) async fn apply(c: &andon_cli::client::Client, yaml: &str) -> anyhow::Result<()> {
    let body = Some(("application/yaml", yaml.as_bytes().to_vec()));
    c.json(andon_cli::client::Method::POST, "/api/v1/apply", body)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn start_andon(bin: &Path, data: &Path, port: u16) -> anyhow::Result<Proc> {
    let child = Command::new(bin)
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .env("ANDON_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Proc(child))
}

const SERVICE: &str = "apiVersion: andon.dev/v1\nkind: Service\nmetadata:\n  name: api\n  labels: {team: payments}\nspec:\n  replicas: 3\n  command: [andon-demo]\n  env: [{name: VERSION, value: '1.0.0'}]\n  ports: [{name: http, port: 8080}]\n  readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 5}\n";

/// Starts nginx serving `body` at `path` on `port`, when nginx is installed.
fn start_nginx(dir: &Path, port: u16, path: &str, body: &str) -> anyhow::Result<Option<Proc>> {
    let Some(nginx) =
        ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists())
    else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir.join("www"))?;
    std::fs::write(dir.join("www/body.json"), body)?;
    let conf = format!(
        "daemon off; master_process off; worker_processes 1; error_log {d}/error.log; pid {d}/nginx.pid;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
           server {{ listen 127.0.0.1:{port}; location = {path} {{ default_type application/json; alias {d}/www/body.json; }} location = /readyz {{ return 200 'ready'; }} }} }}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf)?;
    let child = Command::new(nginx)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Some(Proc(child)))
}

/// Runs wrk paced to about 1,000 requests/s; returns (requests/s, p50 ms, p99 ms).
fn wrk_paced(url: &str, dir: &Path) -> anyhow::Result<(f64, f64, f64)> {
    // Four connections, each waiting 4 ms between its requests: about 1,000 requests/s.
    let script = dir.join("pace.lua");
    std::fs::write(&script, "function delay() return 4 end\n")?;
    let script = script.display().to_string();
    wrk_run(&["-t2", "-c4", "-d10s", "--latency", "-s", &script], url)
}

fn wrk_run(args: &[&str], url: &str) -> anyhow::Result<(f64, f64, f64)> {
    let out = Command::new("wrk")
        .args(args)
        .arg(url)
        .output()
        .context("wrk is not installed (scripts/setup installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ms = |label: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
        let v = line.split_whitespace().nth(1)?;
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = num.parse().ok()?;
        Some(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            _ => return None,
        })
    };
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    match (rps, ms("50%"), ms("99%")) {
        (Some(r), Some(p50), Some(p99)) => Ok((r, p50, p99)),
        _ => bail!("could not read wrk's output:\n{text}"),
    }
}

async fn http(bin: &Path) -> anyhow::Result<()> {
    println!("== http: GET /api/v1/services/api under wrk paced at ~1,000 rps for 10 s");
    let dir = tempfile::tempdir()?;
    let (_andon, c) = fresh_andon(bin, dir.path()).await?;
    apply(&c, SERVICE).await?;
    let body = get(&c, "/api/v1/services/api").await?.to_string();
    let (rps, p50, p99) = wrk_paced(&format!("{}/api/v1/services/api", c.base()), dir.path())?;
    println!("andon:  {rps:>7.0} req/s   p50 {p50:>6.3} ms   p99 {p99:>6.3} ms");
    let nport = free_port()?;
    match start_nginx(&dir.path().join("nginx"), nport, "/api/v1/services/api", &body)? {
        Some(_nginx) => {
            let nurl = format!("http://127.0.0.1:{nport}");
            wait_ready(&nurl).await?;
            let (nrps, n50, n99) = wrk_paced(&format!("{nurl}/api/v1/services/api"), dir.path())?;
            println!(
                "nginx:  {nrps:>7.0} req/s   p50 {n50:>6.3} ms   p99 {n99:>6.3} ms   (the same JSON as a static file)"
            );
            println!("ratio andon / nginx p99: {:.2}x", p99 / n99);
        }
        None => println!("nginx: skipped (not installed; scripts/setup installs it)"),
    }
    Ok(())
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

async fn startup(bin: &Path) -> anyhow::Result<()> {
    println!(
        "== startup: spawn to /readyz on an existing data dir (1,000 resources, 20,000 events); idle RSS"
    );
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    {
        std::fs::create_dir_all(&data)?;
        let store = Store::open(
            &format!("sqlite://{}", data.join("andon.db").display()),
            Arc::new(SystemClock),
        )
        .await?;
        let mut items = Vec::new();
        for i in 0..1000 {
            items.push(andon_store::Desired {
                kind: "Service".into(),
                namespace: "default".into(),
                name: format!("svc-{i}"),
                labels: serde_json::json!({}),
                annotations: serde_json::json!({}),
                spec: serde_json::json!({"replicas": 1, "command": ["x"]}),
                expected_version: None,
                must_exist: false,
            });
        }
        store.apply(items, "bench").await?;
        for chunk in 0..19 {
            store.append((0..1000).map(|i| event(chunk, i)).collect()).await?;
        }
        store.close().await;
    }
    let mut times = Vec::new();
    let mut rss = 0;
    for run in 0..10 {
        let port = free_port()?;
        let started = Instant::now();
        let p = start_andon(bin, &data, port)?;
        wait_ready(&format!("http://127.0.0.1:{port}")).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if run == 9 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            rss = rss_kib(p.0.id()).unwrap_or(0);
        }
        drop(p);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "andon start to ready: median {:.1} ms, max {:.1} ms over 10 runs",
        times[5], times[9]
    );
    println!("andon idle RSS: {:.1} MiB", rss as f64 / 1024.0);
    let nport = free_port()?;
    if let Some(n) = start_nginx(&dir.path().join("nginx"), nport, "/x", "{}")? {
        wait_ready(&format!("http://127.0.0.1:{nport}")).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let nrss = rss_kib(n.0.id()).unwrap_or(0);
        println!(
            "nginx idle RSS: {:.1} MiB; ratio andon / nginx: {:.1}x",
            nrss as f64 / 1024.0,
            rss as f64 / nrss.max(1) as f64
        );
    }
    Ok(())
}

async fn get(c: &andon_cli::client::Client, path: &str) -> anyhow::Result<serde_json::Value> {
    c.get_json(path).await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Waits for the service's status to satisfy `pred`.
async fn wait_status(
    c: &andon_cli::client::Client,
    name: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> anyhow::Result<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let doc = get(c, &format!("/api/v1/services/{name}")).await?;
        if pred(&doc["status"]) {
            return Ok(doc["status"].clone());
        }
        if Instant::now() > deadline {
            bail!("service {name} did not reach the expected state: {}", doc["status"]);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn event_time(
    events: &serde_json::Value,
    kind: &str,
    after_seq: u64,
) -> Option<andon_core::Timestamp> {
    events["items"]
        .as_array()?
        .iter()
        .find(|e| e["kind"] == kind && e["seq"].as_u64() > Some(after_seq))
        .and_then(|e| andon_core::Timestamp::parse_rfc3339(e["time"].as_str()?))
}

async fn router(bin: &Path) -> anyhow::Result<()> {
    println!(
        "== router: GET /sum through andon's router vs nginx (proxy_pass, keepalive) to the same instance; wrk -t2 -c32 -d5s x3 rounds, then paced"
    );
    let dir = tempfile::tempdir()?;
    let (_andon, c) = fresh_andon(bin, dir.path()).await?;
    let svc = "apiVersion: andon.dev/v1\nkind: Service\nmetadata: {name: demo}\nspec:\n  replicas: 1\n  command: [andon-demo]\n  ports: [{name: http, port: 0}]\n  readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 1, failureThreshold: 1}\n";
    apply(&c, svc).await?;
    let st = wait_status(&c, "demo", |s| s["readyReplicas"] == 1).await?;
    let router_url = st["url"].as_str().context("no router address")?.to_owned();
    let instance = format!("127.0.0.1:{}", st["instances"][0]["port"]);
    let path = "/sum?a=1&b=2";

    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists());
    let nport = free_port()?;
    let _nginx = match nginx {
        Some(nginx) => {
            let nd = dir.path().join("nginx");
            std::fs::create_dir_all(&nd)?;
            let conf = format!(
                "daemon off; master_process off; worker_processes 1; error_log {d}/error.log; pid {d}/nginx.pid;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
                   upstream demo {{ server {instance}; keepalive 64; }}\n\
                   server {{ listen 127.0.0.1:{nport}; location / {{ proxy_pass http://demo; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }} }}\n",
                d = nd.display()
            );
            std::fs::write(nd.join("nginx.conf"), conf)?;
            let p = Proc(
                Command::new(nginx)
                    .arg("-c")
                    .arg(nd.join("nginx.conf"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()?,
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            Some(p)
        }
        None => {
            println!("nginx: skipped (not installed; scripts/setup installs it)");
            None
        }
    };
    // Three rounds, alternating the targets so that machine noise hits all of them alike;
    // the medians are reported.
    let mut targets = vec![
        ("direct to the instance", format!("http://{instance}{path}")),
        ("andon router", format!("{router_url}{path}")),
    ];
    if _nginx.is_some() {
        targets.push(("nginx proxy", format!("http://127.0.0.1:{nport}{path}")));
    }
    let mut results: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); targets.len()];
    for round in 0..3 {
        for (i, (name, url)) in targets.iter().enumerate() {
            let r = wrk_run(&["-t2", "-c32", "-d5s", "--latency"], url)?;
            println!(
                "round {}: {name:<22} {:>8.0} req/s   p50 {:>6.3} ms   p99 {:>6.3} ms",
                round + 1,
                r.0,
                r.1,
                r.2
            );
            results[i].push(r);
        }
    }
    let median = |v: &[(f64, f64, f64)], f: fn(&(f64, f64, f64)) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    let med: Vec<(f64, f64)> =
        results.iter().map(|r| (median(r, |t| t.0), median(r, |t| t.2))).collect();
    for ((name, _), (rps, p99)) in targets.iter().zip(&med) {
        println!("median: {name:<22} {rps:>8.0} req/s   p99 {p99:>6.3} ms");
    }
    if med.len() == 3 {
        println!("throughput andon / nginx (medians): {:.2}x", med[1].0 / med[2].0);
    }
    // Latency added is compared below saturation: wrk paced at about 1,000 requests/s,
    // five rounds alternating the targets (a p99 of 10,000 requests on a shared machine
    // swings by a millisecond from one run to the next); the added p99 is taken within
    // each round, then the median over rounds.
    let mut added: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for round in 0..5 {
        let mut p99s = Vec::new();
        for (name, url) in &targets {
            let (rps, p50, p99) = wrk_paced(url, dir.path())?;
            println!(
                "paced round {}: {name:<22} {rps:>6.0} req/s   p50 {p50:>6.3} ms   p99 {p99:>6.3} ms",
                round + 1
            );
            p99s.push(p99);
        }
        for (i, p) in p99s.iter().enumerate() {
            added[i].push(p - p99s[0]);
        }
    }
    if added.len() == 3 {
        let med = |v: &[f64]| {
            let mut x = v.to_vec();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        let wins = added[1].iter().zip(&added[2]).filter(|(a, n)| a <= n).count();
        println!(
            "p99 added over direct at ~1,000 req/s (median of 5 rounds): andon {:.3} ms, nginx {:.3} ms; andon added less in {wins} of 5 rounds",
            med(&added[1]),
            med(&added[2])
        );
    }

    // Crash: from kill -9 of the instance to its replacement being ready (the first restart has no backoff).
    let before = get(&c, "/api/v1/events?limit=10000").await?["last"].as_u64().unwrap_or(0);
    let pid = st["instances"][0]["pid"].as_u64().context("no pid")?;
    let killed = andon_core::Clock::now(&SystemClock);
    Command::new("kill").args(["-9", &pid.to_string()]).status()?;
    wait_status(&c, "demo", |s| s["readyReplicas"] == 1 && s["restarts"] == 1).await?;
    // Events are committed in batches a few tens of milliseconds behind the live status.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = get(&c, &format!("/api/v1/events?after={before}&limit=10000")).await?;
    if let Some(ready) = event_time(&events, "instance.ready", before) {
        println!("crash to replacement ready: {} ms", ready.millis() - killed.millis());
    }
    // Readiness failure: health fails from 3 s after start; readiness period 1 s, threshold 1.
    let failing =
        svc.replace("  ports:", "  env: [{name: FAIL_HEALTH_AFTER_S, value: \"3\"}]\n  ports:");
    let before = get(&c, "/api/v1/events?limit=10000").await?["last"].as_u64().unwrap_or(0);
    apply(&c, &failing).await?;
    wait_status(&c, "demo", |s| {
        s["readyReplicas"] == 0
            && s["updatedReplicas"] == 1
            && s["instances"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = get(&c, &format!("/api/v1/events?after={before}&limit=10000")).await?;
    let items = events["items"].as_array().cloned().unwrap_or_default();
    let time = |e: &serde_json::Value| andon_core::Timestamp::parse_rfc3339(e["time"].as_str()?);
    // The new instance: the last one started; out of rotation: its unready event.
    let newest = items.iter().rfind(|e| e["kind"] == "instance.started").cloned();
    let started = newest.as_ref().and_then(time);
    let unready = newest.as_ref().and_then(|n| {
        items
            .iter()
            .find(|e| {
                e["kind"] == "instance.unready" && e["data"]["instance"] == n["data"]["instance"]
            })
            .and_then(time)
    });
    if let (Some(s), Some(u)) = (started, unready) {
        println!(
            "health failing to out of rotation: {} ms after the failure began (probe period 1000 ms)",
            u.millis() - s.millis() - 3000
        );
    }
    Ok(())
}

/// `YYYY_MM` of a Unix-ms time in UTC (VictoriaMetrics' partition names).
pub(crate) fn utc_month(ms: i64) -> String {
    let (y, m, _) = andon_core::time::civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}_{m:02}")
}
