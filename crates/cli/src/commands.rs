//! The client commands: each returns the process exit code (0 ok, 1 failure, 2 bad
//! input or usage, 3 server unreachable).

use std::path::PathBuf;

use andon_core::Timestamp;
use andon_core::time::human_age;
use andon_spec::kinds::{self, KINDS, KindInfo};
use andon_spec::lint::{Input, collect_inputs};
use clap::CommandFactory;
use hyper::Method;
use serde_json::Value;

use crate::client::{Client, ClientError, read_sse};
use crate::{
    AlertsCommand, Cli, Command, Format, PromqlCommand, RulesCommand, SilenceCommand, SloCommand,
    WorkflowCommand, output,
};

/// Runs a client command. `server` and `up` are the binary's to run.
pub async fn run(cli: Cli) -> u8 {
    let result = match cli.command {
        Command::Lint { paths } => Ok(lint(&paths)),
        Command::Run(args) => Ok(crate::workflow::run(&args).await),
        Command::Workflow { what: WorkflowCommand::Expr { expr, context } } => {
            Ok(crate::workflow::expr(&expr, context.as_deref()))
        }
        Command::Promql { what: PromqlCommand::Test { files, verbose } } => {
            Ok(promql_test(&files, verbose))
        }
        Command::Promql { what: PromqlCommand::Query { expr, time, start, end, step, output } } => {
            promql_query(&cli.server, &expr, time, start.zip(end), &step, output).await
        }
        Command::Rules {
            what: RulesCommand::Check { files, lint, lint_fatal, ignore_unknown_fields },
        } => Ok(rules_check(&files, &lint, lint_fatal, ignore_unknown_fields)),
        Command::Rules {
            what: RulesCommand::Test { files, run, ignore_unknown_fields, junit },
        } => Ok(rules_test(&files, run, ignore_unknown_fields, junit.as_deref())),
        Command::Slo {
            what:
                SloCommand::Generate {
                    file,
                    period,
                    windows,
                    extra_labels,
                    disable_recordings,
                    disable_alerts,
                },
        } => Ok(slo_generate(
            &file,
            period.as_deref(),
            windows.as_deref(),
            &extra_labels,
            disable_recordings,
            disable_alerts,
        )),
        Command::Alerts { what: AlertsCommand::List { output } } => {
            alerts_list(&cli.server, output).await
        }
        Command::Alerts { what: AlertsCommand::History { alertname, limit, output } } => {
            alerts_history(&cli.server, alertname.as_deref(), limit, output).await
        }
        Command::Alerts { what: AlertsCommand::Notifications { receiver, limit, output } } => {
            notifications(&cli.server, receiver.as_deref(), limit, output).await
        }
        Command::Silence { what: SilenceCommand::Add { matchers, duration, comment, author } } => {
            silence_add(&cli.server, &matchers, &duration, &comment, &author).await
        }
        Command::Silence { what: SilenceCommand::List { output } } => {
            silence_list(&cli.server, output).await
        }
        Command::Silence { what: SilenceCommand::Expire { id } } => {
            silence_expire(&cli.server, &id).await
        }
        Command::Slo { what: SloCommand::List { output } } => slo_list(&cli.server, output).await,
        Command::Slo { what: SloCommand::Status { id, output } } => {
            slo_status(&cli.server, &id, output).await
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "andon", &mut out);
            output::raw(&String::from_utf8_lossy(&out));
            Ok(0)
        }
        Command::Version => {
            output::line(&format!("client: andon {}", env!("CARGO_PKG_VERSION")));
            match Client::new(&cli.server) {
                Ok(c) => match c.get_json("/api/v1/version").await {
                    Ok(v) => output::line(&format!(
                        "server: andon {} at {}",
                        v["version"].as_str().unwrap_or("?"),
                        c.base()
                    )),
                    Err(e) => output::line(&format!("server: not reachable ({e})")),
                },
                Err(e) => output::line(&format!("server: {e}")),
            }
            Ok(0)
        }
        Command::Apply { files } => match Client::new(&cli.server) {
            Ok(c) => apply_paths(&c, &files, &cli.namespace).await,
            Err(e) => Err(e),
        },
        Command::Get { kind, name, output: fmt, all_namespaces } => {
            with_client(&cli.server, |c| async move {
                get(&c, &kind, name.as_deref(), fmt, &cli.namespace, all_namespaces).await
            })
            .await
        }
        Command::Delete { kind, name } => {
            with_client(
                &cli.server,
                |c| async move { delete(&c, &kind, &name, &cli.namespace).await },
            )
            .await
        }
        Command::Events { follow, after, limit, output: fmt } => {
            with_client(&cli.server, |c| async move { events(&c, follow, after, limit, fmt).await })
                .await
        }
        Command::Logs { service, follow, since, instance, timestamps } => {
            with_client(&cli.server, |c| async move {
                logs(&c, &cli.namespace, &service, follow, since.as_deref(), instance, timestamps)
                    .await
            })
            .await
        }
        Command::Set { what: crate::SetCommand::Env { service, changes } } => {
            with_client(&cli.server, |c| async move {
                set_env(&c, &cli.namespace, &service, &changes).await
            })
            .await
        }
        Command::Runs { what } => {
            with_client(&cli.server, |c| async move { crate::runs::run(&c, what).await }).await
        }
        Command::Rollout { what } => {
            with_client(&cli.server, |c| async move {
                crate::rollout::run(&c, &cli.namespace, what).await
            })
            .await
        }
        Command::Server(_) | Command::Up { .. } | Command::Tsdb { .. } => Ok(2),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::error(&e.to_string());
            e.exit_code()
        }
    }
}

async fn with_client<F, Fut>(server: &str, f: F) -> Result<u8, ClientError>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<u8, ClientError>>,
{
    f(Client::new(server)?).await
}

/// Reads and validates every input as one set, rule files checked in depth:
/// all problems, or all manifests.
pub fn load(
    inputs: &[Input],
    namespace: Option<&str>,
) -> Result<Vec<andon_spec::Manifest>, Vec<andon_spec::Diagnostic>> {
    let ms = andon_spec::lint::load(inputs, namespace)?;
    let source_of = |file: &str| {
        inputs
            .iter()
            .find(|i| i.name == file)
            .map(|i| String::from_utf8_lossy(&i.bytes).into_owned())
    };
    let mut diags = andon_rules::file::check_manifests(&ms, &source_of);
    diags.extend(andon_slo::check_manifests(&ms));
    diags.extend(andon_pipeline::check_manifests(&ms));
    diags.extend(andon_alertmanager::check_manifests(&ms, &andon_alertmanager::system_zones()));
    // Analysis templates the files do not define: `lint` has nowhere else to look;
    // `apply` leaves them to the server, which knows what is stored.
    let elsewhere = if namespace.is_some() {
        andon_delivery::check::referenced_elsewhere(&ms)
    } else {
        std::collections::BTreeSet::new()
    };
    diags.extend(andon_delivery::check::check_manifests(&ms, &elsewhere));
    if diags.is_empty() { Ok(ms) } else { Err(diags) }
}

fn lint(paths: &[PathBuf]) -> u8 {
    let inputs = match collect_inputs(paths) {
        Ok(i) => i,
        Err(diags) => {
            output::diagnostics(&diags, &[], true);
            return 2;
        }
    };
    match load(&inputs, None) {
        Ok(ms) => {
            output::line(&format!("ok: {} resources in {} files", ms.len(), inputs.len()));
            0
        }
        Err(diags) => {
            output::diagnostics(&diags, &inputs, true);
            output::note(&format!("{} problems found", diags.len()));
            2
        }
    }
}

/// Lints the files locally, then sends every resource in one request: all or nothing.
pub async fn apply_paths(
    c: &Client,
    paths: &[PathBuf],
    namespace: &str,
) -> Result<u8, ClientError> {
    let inputs: Vec<Input> = match collect_inputs(paths) {
        Ok(i) => i,
        Err(diags) => {
            output::diagnostics(&diags, &[], false);
            return Ok(2);
        }
    };
    let mut manifests = match load(&inputs, Some(namespace)) {
        Ok(ms) => ms,
        Err(diags) => {
            output::diagnostics(&diags, &inputs, false);
            output::note(&format!("{} problems found; nothing was applied", diags.len()));
            return Ok(2);
        }
    };
    if manifests.is_empty() {
        output::error("no resources found in the given paths");
        return Ok(2);
    }
    manifests.iter_mut().for_each(andon_alertmanager::absolute_templates);
    let list = serde_json::json!({
        "apiVersion": andon_spec::API_VERSION,
        "kind": "List",
        "items": manifests.iter().map(|m| m.to_document()).collect::<Vec<_>>(),
    });
    let path = format!("/api/v1/apply?namespace={namespace}");
    let resp = c
        .json(Method::POST, &path, Some(("application/json", list.to_string().into_bytes())))
        .await?;
    for r in resp["results"].as_array().into_iter().flatten() {
        let kind = r["kind"].as_str().unwrap_or_default();
        let singular = kinds::by_kind(kind).map_or(kind, |k| k.singular);
        let ns = r["namespace"].as_str().unwrap_or_default();
        let ns = if ns == namespace { String::new() } else { format!(" (namespace {ns})") };
        output::line(&format!(
            "{singular}/{} {}{ns}",
            r["name"].as_str().unwrap_or_default(),
            r["action"].as_str().unwrap_or_default()
        ));
    }
    Ok(0)
}

fn kind_arg(name: &str) -> Result<&'static KindInfo, ClientError> {
    kinds::lookup(name).ok_or_else(|| {
        let known: Vec<String> =
            KINDS.iter().map(|k| format!("{} ({})", k.singular, k.short.join(", "))).collect();
        ClientError::Problem(andon_api::Problem::new(
            andon_core::ErrorKind::InvalidArgument,
            format!("unknown resource type {name:?}; known: {}", known.join(", ")),
        ))
    })
}

async fn get(
    c: &Client,
    kind: &str,
    name: Option<&str>,
    fmt: Format,
    namespace: &str,
    all: bool,
) -> Result<u8, ClientError> {
    let k = kind_arg(kind)?;
    if let Some(name) = name {
        let doc =
            c.get_json(&format!("/api/v1/namespaces/{namespace}/{}/{name}", k.plural)).await?;
        match fmt {
            Format::Json => output::json(&doc),
            Format::Yaml => output::yaml(&doc),
            Format::Table => print_table(k, std::slice::from_ref(&doc), false),
        }
        return Ok(0);
    }
    let base = if all {
        format!("/api/v1/{}", k.plural)
    } else {
        format!("/api/v1/namespaces/{namespace}/{}", k.plural)
    };
    let mut items = Vec::new();
    let mut page = c.get_json(&base).await?;
    loop {
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["metadata"]["continue"].as_str() {
            Some(cursor) => page = c.get_json(&format!("{base}?continue={cursor}")).await?,
            None => break,
        }
    }
    let list =
        serde_json::json!({"apiVersion": andon_spec::API_VERSION, "kind": "List", "items": items});
    match fmt {
        Format::Json => output::json(&list),
        Format::Yaml => output::yaml(&list),
        Format::Table if items.is_empty() => {
            let scope = if all { String::new() } else { format!(" in namespace {namespace}") };
            output::note(&format!("No {} found{scope}.", k.plural));
        }
        Format::Table => print_table(k, &items, all),
    }
    Ok(0)
}

fn print_table(k: &KindInfo, items: &[Value], with_ns: bool) {
    let now = andon_core::Clock::now(&andon_core::SystemClock);
    let mut header: Vec<String> = Vec::new();
    if with_ns {
        header.push("NAMESPACE".into());
    }
    header.push("NAME".into());
    let extra: &[&str] = match k.kind {
        "Service" => &["REPLICAS", "PORTS", "COMMAND"],
        "Environment" => &["APPROVAL", "DESCRIPTION"],
        "PrometheusRule" => &["GROUPS", "RULES"],
        "PrometheusServiceLevel" => &["SERVICE", "SLOS"],
        "AnalysisTemplate" | "ClusterAnalysisTemplate" => &["METRICS"],
        "ErrorBudgetPolicy" => &["SLO", "FREEZE-BELOW", "SERVICES"],
        "Repository" => &["URL", "BRANCHES", "POLL"],
        _ => &[],
    };
    header.extend(extra.iter().map(|s| (*s).to_owned()));
    header.push("AGE".into());
    let mut rows = vec![header];
    for o in items {
        let mut r = Vec::new();
        if with_ns {
            r.push(o["metadata"]["namespace"].as_str().unwrap_or_default().to_owned());
        }
        r.push(o["metadata"]["name"].as_str().unwrap_or_default().to_owned());
        let spec = &o["spec"];
        match k.kind {
            "Service" => {
                r.push(spec["replicas"].to_string());
                let ports: Vec<String> = spec["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| match p["name"].as_str() {
                        Some(n) => format!("{n}:{}", p["port"]),
                        None => p["port"].to_string(),
                    })
                    .collect();
                r.push(if ports.is_empty() { "<none>".into() } else { ports.join(",") });
                let cmd: Vec<&str> = spec["command"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                r.push(cmd.join(" "));
            }
            "PrometheusRule" => {
                let groups = spec["groups"].as_array().map_or(&[][..], Vec::as_slice);
                r.push(groups.len().to_string());
                let rules: usize =
                    groups.iter().map(|g| g["rules"].as_array().map_or(0, Vec::len)).sum();
                r.push(rules.to_string());
            }
            "PrometheusServiceLevel" => {
                let doc = &spec["document"];
                let body = if doc["spec"].is_object() { &doc["spec"] } else { doc };
                let service = body["service"]
                    .as_str()
                    .unwrap_or(doc["metadata"]["name"].as_str().unwrap_or(""));
                r.push(service.to_owned());
                r.push(body["slos"].as_array().map_or(1, Vec::len).to_string());
            }
            "ErrorBudgetPolicy" => {
                r.push(spec["slo"].as_str().unwrap_or("").to_owned());
                r.push(format!("{}%", spec["freezeRolloutsBelow"].as_f64().unwrap_or(0.0)));
                let services: Vec<&str> = spec["services"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str())
                    .collect();
                r.push(if services.is_empty() {
                    "(the SLO's service)".into()
                } else {
                    services.join(",")
                });
            }
            "AnalysisTemplate" | "ClusterAnalysisTemplate" => {
                let names: Vec<&str> = spec["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["name"].as_str())
                    .collect();
                r.push(names.join(","));
            }
            "Repository" => {
                r.push(spec["url"].as_str().unwrap_or("").to_owned());
                let branches: Vec<&str> = spec["branches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                r.push(if branches.is_empty() { "(all)".into() } else { branches.join(",") });
                r.push(spec["pollInterval"].as_str().unwrap_or("").to_owned());
            }
            "Environment" => {
                r.push(if spec["requiresApproval"].as_bool() == Some(true) {
                    "required".into()
                } else {
                    "none".into()
                });
                r.push(spec["description"].as_str().unwrap_or("").to_owned());
            }
            _ => {}
        }
        let created =
            o["metadata"]["creationTimestamp"].as_str().and_then(Timestamp::parse_rfc3339);
        r.push(created.map_or_else(|| "?".into(), |t| human_age(t.until(now))));
        rows.push(r);
    }
    output::table(&rows);
}

async fn delete(c: &Client, kind: &str, name: &str, namespace: &str) -> Result<u8, ClientError> {
    let k = kind_arg(kind)?;
    c.json(Method::DELETE, &format!("/api/v1/namespaces/{namespace}/{}/{name}", k.plural), None)
        .await?;
    output::line(&format!("{} \"{name}\" deleted", k.singular));
    Ok(0)
}

fn event_row(e: &Value) -> Vec<String> {
    let time = e["time"].as_str().unwrap_or_default().replace('T', " ");
    vec![
        e["seq"].to_string(),
        time.get(..19).unwrap_or(&time).to_owned(),
        e["kind"].as_str().unwrap_or_default().to_owned(),
        e["subject"].as_str().unwrap_or_default().to_owned(),
        e["actor"].as_str().unwrap_or_default().to_owned(),
    ]
}

fn event_header() -> Vec<String> {
    ["SEQ", "TIME", "EVENT", "SUBJECT", "ACTOR"].iter().map(|s| (*s).to_owned()).collect()
}

async fn events(
    c: &Client,
    follow: bool,
    after: u64,
    limit: usize,
    fmt: Format,
) -> Result<u8, ClientError> {
    if !follow {
        let page = c.get_json(&format!("/api/v1/events?after={after}&limit={limit}")).await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        match fmt {
            Format::Json => {
                for e in &items {
                    output::line(&e.to_string());
                }
            }
            Format::Yaml => output::yaml(&Value::Array(items)),
            Format::Table => {
                let mut rows = vec![event_header()];
                rows.extend(items.iter().map(event_row));
                output::table(&rows);
            }
        }
        return Ok(0);
    }
    let resp =
        c.send(Method::GET, &format!("/api/v1/events?follow=true&after={after}"), None).await?;
    // Followed rows cannot be aligned after the fact: fixed widths instead.
    let fixed =
        |r: &[String]| format!("{:<6}  {:<19}  {:<21}  {:<36}  {}", r[0], r[1], r[2], r[3], r[4]);
    if fmt == Format::Table {
        output::line(fixed(&event_header()).trim_end());
    }
    read_sse(resp, |data| {
        match (fmt, serde_json::from_str::<Value>(data)) {
            (Format::Table, Ok(e)) => output::line(&fixed(&event_row(&e))),
            (Format::Yaml, Ok(e)) => {
                output::raw("---\n");
                output::yaml(&e);
            }
            _ => output::line(data),
        }
        true
    })
    .await?;
    output::error("the server closed the event stream");
    Ok(1)
}

fn print_log_line(l: &Value, timestamps: bool) {
    let text = l["text"].as_str().unwrap_or_default();
    let instance = l["instance"].as_u64().unwrap_or(0);
    let who =
        if instance == u64::from(u32::MAX) { "andon".to_owned() } else { instance.to_string() };
    if timestamps {
        output::line(&format!("{} [{who}] {text}", l["time"].as_str().unwrap_or_default()));
    } else {
        output::line(&format!("[{who}] {text}"));
    }
}

async fn logs(
    c: &Client,
    namespace: &str,
    service: &str,
    follow: bool,
    since: Option<&str>,
    instance: Option<u32>,
    timestamps: bool,
) -> Result<u8, ClientError> {
    let mut path =
        format!("/api/v1/namespaces/{namespace}/services/{service}/logs?follow={follow}");
    if let Some(s) = since {
        path.push_str(&format!("&since={s}"));
    }
    if let Some(i) = instance {
        path.push_str(&format!("&instance={i}"));
    }
    if !follow {
        let v = c.get_json(&path).await?;
        for l in v["items"].as_array().into_iter().flatten() {
            print_log_line(l, timestamps);
        }
        return Ok(0);
    }
    let resp = c.send(Method::GET, &path, None).await?;
    read_sse(resp, |data| {
        if let Ok(l) = serde_json::from_str::<Value>(data) {
            print_log_line(&l, timestamps);
        }
        true
    })
    .await?;
    Ok(0)
}

/// Applies `K=V` and `K-` changes to an env list; errors name the bad argument.
pub fn edit_env(env: &mut Vec<Value>, changes: &[String]) -> Result<(), String> {
    for ch in changes {
        if let Some(name) = ch.strip_suffix('-') {
            if name.is_empty() || name.contains('=') {
                return Err(format!("{ch:?}: expected NAME=VALUE or NAME-"));
            }
            env.retain(|e| e["name"].as_str() != Some(name));
        } else if let Some((name, value)) = ch.split_once('=') {
            if name.is_empty() {
                return Err(format!("{ch:?}: the variable name is empty"));
            }
            match env.iter_mut().find(|e| e["name"].as_str() == Some(name)) {
                Some(e) => e["value"] = Value::from(value),
                None => env.push(serde_json::json!({"name": name, "value": value})),
            }
        } else {
            return Err(format!("{ch:?}: expected NAME=VALUE or NAME-"));
        }
    }
    Ok(())
}

/// `kubectl set env`: read, edit, write back with the version read; retried on conflict.
async fn set_env(
    c: &Client,
    namespace: &str,
    service: &str,
    changes: &[String],
) -> Result<u8, ClientError> {
    let path = format!("/api/v1/namespaces/{namespace}/services/{service}");
    for attempt in 0..5 {
        let mut doc = c.get_json(&path).await?;
        let mut env = doc["spec"]["env"].as_array().cloned().unwrap_or_default();
        let before = env.clone();
        if let Err(e) = edit_env(&mut env, changes) {
            output::error(&e);
            return Ok(2);
        }
        if env == before {
            output::line(&format!("service/{service} unchanged"));
            return Ok(0);
        }
        doc["spec"]["env"] = Value::Array(env);
        if let Some(o) = doc.as_object_mut() {
            o.remove("status");
        }
        match c
            .json(Method::PUT, &path, Some(("application/json", doc.to_string().into_bytes())))
            .await
        {
            Ok(_) => {
                output::line(&format!("service/{service} env updated"));
                return Ok(0);
            }
            Err(ClientError::Problem(p)) if p.status == 409 && attempt < 4 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(1)
}

/// `andon up`'s session once the server runs: apply, wait for readiness, print the
/// addresses, then follow the journal compactly until the server stops.
pub async fn up_session(c: &Client, paths: &[PathBuf], namespace: &str) -> Result<u8, ClientError> {
    let code = apply_paths(c, paths, namespace).await?;
    if code != 0 {
        return Ok(code);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let services = loop {
        let list = c.get_json("/api/v1/services").await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        // A service whose address cannot be served will not get better by waiting.
        let unroutable = |s: &Value| {
            s["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Routed" && c["status"] == "False"))
        };
        let pending: Vec<&Value> = items
            .iter()
            .filter(|s| {
                let want = s["spec"]["replicas"].as_u64().unwrap_or(0);
                !unroutable(s)
                    && (s["status"]["readyReplicas"].as_u64().unwrap_or(0) < want
                        || s["status"]["url"].is_null())
            })
            .collect();
        if pending.is_empty() {
            for s in items.iter().filter(|s| unroutable(s)) {
                let msg = s["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"] == "Routed")
                    .and_then(|c| c["message"].as_str())
                    .unwrap_or_default();
                output::error(&format!(
                    "service {} has no address: {msg}",
                    s["metadata"]["name"].as_str().unwrap_or_default()
                ));
            }
        }
        if pending.is_empty() {
            break items;
        }
        if std::time::Instant::now() > deadline {
            for s in pending {
                let name = s["metadata"]["name"].as_str().unwrap_or_default();
                let ns = s["metadata"]["namespace"].as_str().unwrap_or_default();
                let conds: Vec<String> = s["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["type"] != "Progressing")
                    .map(|c| {
                        format!(
                            "{}: {}",
                            c["type"].as_str().unwrap_or(""),
                            c["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                output::error(&format!(
                    "service {ns}/{name} is not ready after 60s: {}",
                    conds.join("; ")
                ));
                let logs =
                    c.get_json(&format!("/api/v1/namespaces/{ns}/services/{name}/logs")).await?;
                let lines = logs["items"].as_array().cloned().unwrap_or_default();
                for l in lines.iter().rev().take(5).rev() {
                    output::note(&format!(
                        "  [{}] {}",
                        l["instance"],
                        l["text"].as_str().unwrap_or_default()
                    ));
                }
            }
            break items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let mut rows = vec![vec!["SERVICE".to_owned(), "READY".to_owned(), "URL".to_owned()]];
    for s in &services {
        rows.push(vec![
            s["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            format!(
                "{}/{}",
                s["status"]["readyReplicas"].as_u64().unwrap_or(0),
                s["spec"]["replicas"]
            ),
            s["status"]["url"].as_str().unwrap_or("-").to_owned(),
        ]);
    }
    output::table(&rows);
    output::line(&format!("\nUI: {}/   (Ctrl-C stops andon and every service)\n", c.base()));
    let resp = c.send(Method::GET, "/api/v1/events?follow=true&after=0", None).await?;
    read_sse(resp, |data| {
        if let Ok(e) = serde_json::from_str::<Value>(data) {
            let time = e["time"].as_str().unwrap_or_default();
            let subject = e["subject"].as_str().unwrap_or_default();
            let name = subject.rsplit('/').next().unwrap_or(subject);
            let who = match e["data"]["instance"].as_u64() {
                Some(i) => format!("{name}[{i}]"),
                None => name.to_owned(),
            };
            let detail = match e["kind"].as_str().unwrap_or_default() {
                "instance.exited" => {
                    format!(" {}", e["data"]["message"].as_str().unwrap_or_default())
                }
                "instance.unready" => {
                    format!(" {}", e["data"]["reason"].as_str().unwrap_or_default())
                }
                "instance.probe_failed" => {
                    format!(" {}", e["data"]["message"].as_str().unwrap_or_default())
                }
                _ => String::new(),
            };
            output::line(&format!(
                "{} {:<22} {who}{detail}",
                time.get(11..19).unwrap_or(time),
                e["kind"].as_str().unwrap_or_default()
            ));
        }
        true
    })
    .await?;
    Ok(0)
}

/// `andon promql test`: runs each script and prints its counts.
fn promql_test(files: &[std::path::PathBuf], verbose: bool) -> u8 {
    use andon_promql::promqltest::{Report, run_script, test_options};
    let mut total = Report::default();
    let mut unreadable = false;
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                output::error(&format!("{}: {e}", f.display()));
                unreadable = true;
                continue;
            }
        };
        let r = run_script(&text, &test_options());
        for fail in &r.failures {
            output::line(&format!("FAIL {}:{}", f.display(), fail.trim_start_matches("line ")));
        }
        if verbose {
            for skip in &r.skips {
                output::line(&format!("SKIP {}:{}", f.display(), skip.trim_start_matches("line ")));
            }
        }
        output::line(&format!(
            "{}: {} passed, {} failed, {} skipped",
            f.display(),
            r.passed,
            r.failed,
            r.skipped
        ));
        total.add(&r);
    }
    output::line(&format!(
        "total: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    ));
    u8::from(total.failed > 0 || unreadable)
}

/// `andon rules check`: reads and validates each rule file, then lints it,
/// reporting like `promtool check rules`.
fn rules_check(files: &[PathBuf], lint: &str, lint_fatal: bool, ignore_unknown_fields: bool) -> u8 {
    use andon_rules::file::{ReadOptions, duplicate_rules, parse};
    let lint_duplicates = match lint {
        "duplicate-rules" | "all" => true,
        "none" => false,
        other => {
            output::error(&format!(
                "unknown lint option {other:?} (expected duplicate-rules, all or none)"
            ));
            return 2;
        }
    };
    let (mut failed, mut has_errors) = (false, false);
    for f in files {
        output::line(&format!("Checking {}", f.display()));
        let name = f.display().to_string();
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                output::note(&format!("  FAILED:\n{name}: {e}"));
                (failed, has_errors) = (true, true);
                output::line("");
                continue;
            }
        };
        let rf = match parse(&bytes, &name, ReadOptions { ignore_unknown_fields }) {
            Ok(rf) => rf,
            Err(diags) => {
                output::note("  FAILED:");
                output::diagnostics(&diags, &[Input { name: name.clone(), bytes }], false);
                (failed, has_errors) = (true, true);
                output::line("");
                continue;
            }
        };
        let dups = if lint_duplicates { duplicate_rules(&rf) } else { Vec::new() };
        if dups.is_empty() {
            output::line(&format!("  SUCCESS: {} rules found", rf.rule_count()));
        } else {
            failed = true;
            let mut msg =
                format!("  FAILED:\nlint error {} duplicate rule(s) found.\n", dups.len());
            for (metric, labels) in &dups {
                msg.push_str(&format!("Metric: {metric}\nLabel(s):\n"));
                for (k, v) in labels {
                    msg.push_str(&format!("\t{k}: {v}\n"));
                }
            }
            msg.push_str("Might cause inconsistency while recording expressions");
            output::note(&msg);
        }
        output::line("");
    }
    if failed && has_errors {
        1
    } else if failed && lint_fatal {
        3
    } else {
        0
    }
}

/// `andon rules test`: runs promtool-format rule unit tests.
fn rules_test(
    files: &[PathBuf],
    run: Vec<String>,
    ignore_unknown_fields: bool,
    junit: Option<&std::path::Path>,
) -> u8 {
    use andon_rules::unittest::{RunOptions, junit_xml, run_file};
    let opts = RunOptions { run, ignore_unknown_fields };
    let mut failed = false;
    let mut reports = Vec::new();
    for f in files {
        let r = run_file(f, &opts);
        for w in &r.warnings {
            output::note(&format!("  WARNING: {w}"));
        }
        for s in &r.skipped {
            output::note(&format!("  SKIPPED:\n{s}"));
        }
        if r.errors.is_empty() && r.skipped.is_empty() {
            output::line("  SUCCESS");
        } else if !r.errors.is_empty() {
            output::note("  FAILED:");
            for e in &r.errors {
                output::note(e);
                output::line("");
            }
            failed = true;
        } else {
            output::note(
                "  NOT RUN: the cases above need native histograms, which andon does not support",
            );
            failed = true;
        }
        output::line("");
        reports.push((f.display().to_string(), r));
    }
    if let Some(path) = junit
        && let Err(e) = std::fs::write(path, junit_xml(&reports))
    {
        output::error(&format!("writing {}: {e}", path.display()));
        return 1;
    }
    u8::from(failed)
}

/// `andon slo generate`: prints the rules an SLO spec stands for.
fn slo_generate(
    file: &std::path::Path,
    period: Option<&str>,
    windows: Option<&std::path::Path>,
    extra_labels: &[String],
    disable_recordings: bool,
    disable_alerts: bool,
) -> u8 {
    let read = |p: &std::path::Path| match std::fs::read(p) {
        Ok(b) => Some(b),
        Err(e) => {
            output::error(&format!("{}: {e}", p.display()));
            None
        }
    };
    let mut opts = andon_slo::Options { disable_recordings, disable_alerts, ..Default::default() };
    if let Some(p) = period {
        match andon_slo::parse_prom_duration(p) {
            Some(ms) if ms > 0 => opts.period = Some(ms),
            _ => {
                output::error(&format!("--period {p:?}: expected a duration such as 30d or 28d"));
                return 2;
            }
        }
    }
    if let Some(w) = windows {
        let Some(bytes) = read(w) else { return 2 };
        let name = w.display().to_string();
        match andon_slo::read_windows(&bytes, &name) {
            Ok(aw) => opts.windows = Some(aw),
            Err(diags) => {
                output::diagnostics(&diags, &[Input { name, bytes }], false);
                return 2;
            }
        }
    }
    match crate::workflow::parse_pairs(extra_labels, '=', "--extra-labels") {
        Ok(pairs) => opts.extra_labels.extend(pairs),
        Err(e) => {
            output::error(&e);
            return 2;
        }
    }
    let Some(bytes) = read(file) else { return 2 };
    let name = file.display().to_string();
    match andon_slo::generate(&bytes, &name, &opts) {
        Ok(g) => {
            output::raw(&andon_slo::render_generated(&g, &opts));
            0
        }
        Err(diags) => {
            output::diagnostics(&diags, &[Input { name, bytes }], false);
            output::note(&format!("{} problems found", diags.len()));
            2
        }
    }
}

pub(crate) fn print_value(v: &Value, format: Format) {
    match format {
        Format::Yaml => output::yaml(v),
        _ => output::json(v),
    }
}

fn percent(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".to_string(), |x| format!("{:.3}%", x * 100.0))
}

fn rate(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".to_string(), |x| format!("{x:.2}x"))
}

fn exhaustion(v: &Value) -> String {
    v.as_f64().map_or_else(
        || "-".to_string(),
        |s| human_age(std::time::Duration::from_secs_f64(s.clamp(0.0, 1e12))),
    )
}

fn label_text(labels: &Value, skip: &str) -> String {
    labels
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != skip)
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn since(rfc3339: &str) -> String {
    let now = andon_core::Clock::now(&andon_core::SystemClock);
    Timestamp::parse_rfc3339(rfc3339).map_or_else(|| "?".into(), |t| human_age(t.until(now)))
}

/// `andon silence add`.
async fn silence_add(
    server: &str,
    matchers: &[String],
    duration: &str,
    comment: &str,
    author: &str,
) -> Result<u8, ClientError> {
    let Some(ms) = andon_core::prom::parse_prom_duration(duration).filter(|d| *d > 0) else {
        output::error(&format!("--duration {duration:?}: expected a duration such as 30m or 2h"));
        return Ok(2);
    };
    let mut list = Vec::new();
    for m in matchers {
        match andon_alertmanager::parse_matchers(m) {
            Ok(parsed) => list.extend(parsed.iter().map(andon_alertmanager::Matcher::to_api)),
            Err(e) => {
                output::error(&format!("matcher {m:?}: {e}"));
                return Ok(2);
            }
        }
    }
    let now = andon_core::Clock::now(&andon_core::SystemClock);
    let end = Timestamp::from_millis(now.millis() + ms);
    let body = serde_json::json!({
        "matchers": list,
        "startsAt": now.to_string(),
        "endsAt": end.to_string(),
        "createdBy": author,
        "comment": comment,
    });
    let c = Client::new(server)?.with_actor(author);
    let v = c
        .json(
            Method::POST,
            "/alertmanager/api/v2/silences",
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await?;
    output::line(v["silenceID"].as_str().unwrap_or(""));
    Ok(0)
}

/// `andon silence list`.
async fn silence_list(server: &str, format: Format) -> Result<u8, ClientError> {
    let c = Client::new(server)?;
    let v = c.get_json("/alertmanager/api/v2/silences").await?;
    if format != Format::Table {
        print_value(&v, format);
        return Ok(0);
    }
    let items = v.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        output::note("no silences");
        return Ok(0);
    }
    let mut rows = vec![vec![
        "ID".to_string(),
        "STATE".into(),
        "MATCHERS".into(),
        "ENDS".into(),
        "BY".into(),
        "COMMENT".into(),
    ]];
    for s in &items {
        let ms: Vec<String> = s["matchers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let op = match (
                    m["isRegex"].as_bool() == Some(true),
                    m["isEqual"].as_bool() != Some(false),
                ) {
                    (false, true) => "=",
                    (false, false) => "!=",
                    (true, true) => "=~",
                    (true, false) => "!~",
                };
                format!(
                    "{}{op}{:?}",
                    m["name"].as_str().unwrap_or(""),
                    m["value"].as_str().unwrap_or("")
                )
            })
            .collect();
        rows.push(vec![
            s["id"].as_str().unwrap_or("").to_string(),
            s["status"]["state"].as_str().unwrap_or("").to_string(),
            ms.join(","),
            s["endsAt"].as_str().unwrap_or("").to_string(),
            s["createdBy"].as_str().unwrap_or("").to_string(),
            s["comment"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows);
    Ok(0)
}

/// `andon silence expire`.
async fn silence_expire(server: &str, id: &str) -> Result<u8, ClientError> {
    let c = Client::new(server)?;
    c.json(Method::DELETE, &format!("/alertmanager/api/v2/silence/{}", form_escape(id)), None)
        .await?;
    output::line(&format!("silence {id} expired"));
    Ok(0)
}

/// `andon alerts list`.
async fn alerts_list(server: &str, format: Format) -> Result<u8, ClientError> {
    let c = Client::new(server)?;
    let v = c.get_json("/prometheus/api/v1/alerts").await?;
    let mut alerts: Vec<Value> = v["data"]["alerts"].as_array().cloned().unwrap_or_default();
    alerts.sort_by_key(|a| {
        (a["state"] != "firing", a["labels"]["alertname"].as_str().unwrap_or("").to_string())
    });
    if format != Format::Table {
        print_value(&Value::Array(alerts), format);
        return Ok(0);
    }
    if alerts.is_empty() {
        output::note("no alerts pending or firing");
        return Ok(0);
    }
    let mut rows = vec![vec![
        "ALERT".to_string(),
        "STATE".into(),
        "SINCE".into(),
        "LABELS".into(),
        "SUMMARY".into(),
    ]];
    for a in &alerts {
        rows.push(vec![
            a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
            a["state"].as_str().unwrap_or("").to_string(),
            since(a["activeAt"].as_str().unwrap_or("")),
            label_text(&a["labels"], "alertname"),
            a["annotations"]["summary"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows);
    Ok(0)
}

/// Reads a list of journal events from `path` (`?limit=` and one optional filter).
/// Printed whole unless the format is a table; `None` when nothing is left to print.
async fn journal_items(
    server: &str,
    path: &str,
    limit: usize,
    filter: Option<(&str, &str)>,
    format: Format,
    empty: &str,
) -> Result<Option<Vec<serde_json::Value>>, ClientError> {
    let c = Client::new(server)?;
    let mut path = format!("{path}?limit={limit}");
    if let Some((k, v)) = filter {
        path.push_str(&format!("&{k}={}", form_escape(v)));
    }
    let v = c.get_json(&path).await?;
    if format != Format::Table {
        print_value(&v["items"], format);
        return Ok(None);
    }
    let items = v["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        output::note(empty);
        return Ok(None);
    }
    Ok(Some(items))
}

/// `andon alerts history`.
async fn alerts_history(
    server: &str,
    alertname: Option<&str>,
    limit: usize,
    format: Format,
) -> Result<u8, ClientError> {
    let filter = alertname.map(|n| ("alertname", n));
    let Some(items) = journal_items(
        server,
        "/api/v1/alert-history",
        limit,
        filter,
        format,
        "no alert has fired yet",
    )
    .await?
    else {
        return Ok(0);
    };
    let mut rows = vec![vec![
        "TIME".to_string(),
        "ALERT".into(),
        "EVENT".into(),
        "LABELS".into(),
        "SUMMARY".into(),
    ]];
    for e in &items {
        rows.push(vec![
            e["data"]["at"].as_str().unwrap_or("").to_string(),
            e["subject"].as_str().unwrap_or("").trim_start_matches("Alert/").to_string(),
            e["kind"].as_str().unwrap_or("").trim_start_matches("alert.").to_string(),
            label_text(&e["data"]["labels"], "alertname"),
            e["data"]["annotations"]["summary"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows);
    Ok(0)
}

/// `andon alerts notifications`: the notification log.
async fn notifications(
    server: &str,
    receiver: Option<&str>,
    limit: usize,
    format: Format,
) -> Result<u8, ClientError> {
    let filter = receiver.map(|r| ("receiver", r));
    let note = "no notification has been sent yet";
    let Some(items) =
        journal_items(server, "/api/v1/notifications", limit, filter, format, note).await?
    else {
        return Ok(0);
    };
    let mut rows = vec![
        ["TIME", "RECEIVER", "INTEGRATION", "RESULT", "STATUS", "ALERTS", "GROUP", "ERROR"]
            .map(String::from)
            .to_vec(),
    ];
    for e in &items {
        let d = &e["data"];
        let text = |k: &str| d[k].as_str().unwrap_or("").to_string();
        rows.push(vec![
            e["time"].as_str().unwrap_or("").to_string(),
            text("receiver"),
            text("integration"),
            e["kind"].as_str().unwrap_or("").trim_start_matches("notification.").to_string(),
            text("status"),
            d["alerts"].as_u64().unwrap_or(0).to_string(),
            text("groupKey"),
            text("error"),
        ]);
    }
    output::table(&rows);
    Ok(0)
}

/// `andon slo list`.
async fn slo_list(server: &str, format: Format) -> Result<u8, ClientError> {
    let c = Client::new(server)?;
    let v = c.get_json("/api/v1/slo-status").await?;
    if format != Format::Table {
        print_value(&v, format);
        return Ok(0);
    }
    let mut rows = vec![vec![
        "ID".to_string(),
        "OBJECTIVE".into(),
        "PERIOD".into(),
        "ERRORS 5M".into(),
        "BUDGET LEFT".into(),
        "BURN 1H".into(),
        "EXHAUSTED IN".into(),
        "FIRING".into(),
    ]];
    for s in v["items"].as_array().into_iter().flatten() {
        rows.push(vec![
            s["id"].as_str().unwrap_or("").to_string(),
            format!("{}%", s["objective"]),
            s["period"].as_str().unwrap_or("").to_string(),
            percent(&s["sliErrorRatio"]),
            percent(&s["budgetRemaining"]),
            rate(&s["burnRates"]["1h"]),
            exhaustion(&s["exhaustionSeconds"]),
            s["firingAlerts"].as_array().map_or(0, Vec::len).to_string(),
        ]);
    }
    if rows.len() == 1 {
        output::note("no SLOs (apply a Sloth or OpenSLO spec with `andon apply -f`)");
        return Ok(0);
    }
    output::table(&rows);
    Ok(0)
}

/// `andon slo status ID`.
async fn slo_status(server: &str, id: &str, format: Format) -> Result<u8, ClientError> {
    let c = Client::new(server)?;
    let s = c.get_json(&format!("/api/v1/slo-status/{}", form_escape(id))).await?;
    if format != Format::Table {
        print_value(&s, format);
        return Ok(0);
    }
    let mut lines = vec![
        format!(
            "SLO:          {} ({} / {}, from {})",
            s["id"].as_str().unwrap_or(""),
            s["service"].as_str().unwrap_or(""),
            s["name"].as_str().unwrap_or(""),
            s["source"].as_str().unwrap_or("")
        ),
        format!("Objective:    {}% over {}", s["objective"], s["period"].as_str().unwrap_or("")),
        format!("Errors (5m):  {}", percent(&s["sliErrorRatio"])),
        format!(
            "Errors ({}): {}",
            s["period"].as_str().unwrap_or(""),
            percent(&s["periodErrorRatio"])
        ),
        format!("Budget left:  {}", percent(&s["budgetRemaining"])),
        format!(
            "Exhausted in: {} (at the last hour's burn rate)",
            exhaustion(&s["exhaustionSeconds"])
        ),
        "Burn rates:".to_string(),
    ];
    for w in ["5m", "1h", "6h", "1d", "3d"] {
        lines.push(format!("  {w:>3}  {}", rate(&s["burnRates"][w])));
    }
    let firing: Vec<&str> =
        s["firingAlerts"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    lines.push(format!(
        "Firing:       {}",
        if firing.is_empty() { "none".to_string() } else { firing.join(", ") }
    ));
    output::line(&lines.join("\n"));
    Ok(0)
}

/// `andon promql query`: one query against the server's Prometheus API.
async fn promql_query(
    server: &str,
    expr: &str,
    time: Option<String>,
    range: Option<(String, String)>,
    step: &str,
    format: Format,
) -> Result<u8, ClientError> {
    let client = Client::new(server)?;
    let mut form: Vec<(&str, String)> = vec![("query", expr.to_string())];
    let path = match range {
        Some((start, end)) => {
            form.extend([("start", start), ("end", end), ("step", step.to_string())]);
            "/prometheus/api/v1/query_range"
        }
        None => {
            form.extend(time.map(|t| ("time", t)));
            "/prometheus/api/v1/query"
        }
    };
    let body =
        form.iter().map(|(k, v)| format!("{k}={}", form_escape(v))).collect::<Vec<_>>().join("&");
    let resp = client
        .send(Method::POST, path, Some(("application/x-www-form-urlencoded", body.into_bytes())))
        .await?;
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .map_err(|e| ClientError::Unreachable(format!("reading the answer failed: {e}")))?
        .to_bytes();
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::Other(format!("the server sent invalid JSON: {e}")))?;
    if v["status"] != "success" {
        output::error(&format!(
            "{}: {}",
            v["errorType"].as_str().unwrap_or("error"),
            v["error"].as_str().unwrap_or("")
        ));
        return Ok(if v["errorType"] == "bad_data" || v["errorType"] == "execution" {
            2
        } else {
            1
        });
    }
    for w in v["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(v["infos"].as_array().into_iter().flatten())
    {
        output::error(w.as_str().unwrap_or(""));
    }
    if format != Format::Table {
        match format {
            Format::Yaml => output::yaml(&v["data"]),
            _ => output::json(&v["data"]),
        }
        return Ok(0);
    }
    let data = &v["data"];
    let metric = |m: &Value| -> String {
        let map = m.as_object().cloned().unwrap_or_default();
        let name = map.get("__name__").and_then(Value::as_str).unwrap_or("").to_string();
        let rest: Vec<String> = map
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={}", v))
            .collect();
        format!("{name}{{{}}}", rest.join(", "))
    };
    match data["resultType"].as_str() {
        Some("vector") => {
            for s in data["result"].as_array().into_iter().flatten() {
                output::line(&format!(
                    "{} => {} @{}",
                    metric(&s["metric"]),
                    s["value"][1].as_str().unwrap_or(""),
                    s["value"][0]
                ));
            }
        }
        Some("matrix") => {
            for s in data["result"].as_array().into_iter().flatten() {
                let points: Vec<String> = s["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| format!("{} @{}", p[1].as_str().unwrap_or(""), p[0]))
                    .collect();
                output::line(&format!("{} =>\n{}", metric(&s["metric"]), points.join("\n")));
            }
        }
        _ => output::line(&format!(
            "{} @{}",
            data["result"][1].as_str().unwrap_or(""),
            data["result"][0]
        )),
    }
    Ok(0)
}

/// `application/x-www-form-urlencoded` escaping: percent-encoding with `+` for spaces.
pub(crate) fn form_escape(s: &str) -> String {
    andon_core::url::encode_component(s).replace("%20", "+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_edits_follow_kubectl_set_env() {
        let mut env = vec![
            serde_json::json!({"name": "A", "value": "1"}),
            serde_json::json!({"name": "B", "value": "2"}),
        ];
        edit_env(&mut env, &["A=9".into(), "C=x=y".into(), "B-".into()]).unwrap();
        assert_eq!(
            env,
            [
                serde_json::json!({"name": "A", "value": "9"}),
                serde_json::json!({"name": "C", "value": "x=y"})
            ]
        );
        assert_eq!(
            edit_env(&mut env, &["nonsense".into()]),
            Err("\"nonsense\": expected NAME=VALUE or NAME-".into())
        );
        assert_eq!(
            edit_env(&mut env, &["=v".into()]),
            Err("\"=v\": the variable name is empty".into())
        );
    }
}
