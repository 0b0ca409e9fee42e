//! The `andon` binary: parses the command line, runs the server for `server` and
//! `up`, and hands every other command to the CLI.

use std::process::ExitCode;
use std::time::Duration;

use andon_cli::{Cli, Command, LogFormat, ServerArgs};
use clap::Parser;

fn main() -> ExitCode {
    // The helper that kills what andon ran once andon is gone (see andon-supervisor's reaper).
    if std::env::args().nth(1).as_deref() == Some(andon_supervisor::reaper::ARG) {
        return ExitCode::from(u8::try_from(andon_supervisor::reaper::main()).unwrap_or(1));
    }
    let cli = Cli::parse();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("andon").build()
        {
            Ok(rt) => rt,
            Err(e) => {
                andon_cli::output::error(&format!("cannot start the runtime: {e}"));
                return ExitCode::from(1);
            }
        };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => serve(args, Vec::new(), &cli.namespace).await,
            Command::Up { server, paths } => serve(server, paths, &cli.namespace).await,
            Command::Tsdb { what: andon_cli::TsdbCommand::Import { file, data_dir } } => {
                tsdb_import(&file, &data_dir)
            }
            _ => andon_cli::run(cli).await,
        }
    });
    ExitCode::from(code)
}

/// `andon tsdb import`: backfills under the data dir's lock.
fn tsdb_import(file: &std::path::Path, data_dir: &std::path::Path) -> u8 {
    let input = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            andon_cli::output::error(&format!("{}: {e}", file.display()));
            return 1;
        }
    };
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        andon_cli::output::error(&format!("{}: {e}", data_dir.display()));
        return 1;
    }
    let _lock = match andon_server::lock_data_dir(data_dir) {
        Ok(l) => l,
        Err(e) => {
            andon_cli::output::error(&e.to_string());
            return 1;
        }
    };
    match andon_metrics::import::openmetrics(&data_dir.join("tsdb"), &input) {
        Ok(r) => {
            andon_cli::output::line(&format!(
                "imported {} samples of {} series into {} block(s) from {} to {} ({} rejected)",
                r.samples,
                r.series,
                r.blocks,
                andon_metrics::time::format_rfc3339(r.min_time),
                andon_metrics::time::format_rfc3339(r.max_time),
                r.rejected
            ));
            u8::from(r.rejected > 0)
        }
        Err(e) => {
            andon_cli::output::error(&format!("{}: {e}", file.display()));
            1
        }
    }
}

fn init_logs(format: &LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ANDON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Runs the server until SIGTERM/SIGINT; with `paths`, applies them once it is ready.
async fn serve(args: ServerArgs, paths: Vec<std::path::PathBuf>, namespace: &str) -> u8 {
    init_logs(&args.log_format);
    if !paths.is_empty() {
        // Refuse bad files before starting anything.
        let checked = andon_spec::lint::collect_inputs(&paths)
            .and_then(|inputs| andon_cli::load(&inputs, Some(namespace)).map(|_| inputs));
        if let Err(diags) = checked {
            andon_cli::output::diagnostics(&diags, &[], false);
            return 2;
        }
    }
    // `up DIR` keeps its state beside the files: DIR/.andon.
    let data_dir = args.data_dir.clone().unwrap_or_else(|| match paths.first() {
        Some(p) if p.is_dir() => p.join(".andon"),
        Some(p) => p.parent().map_or_else(|| ".andon".into(), |d| d.join(".andon")),
        None => ".andon".into(),
    });
    let mut external_labels = std::collections::BTreeMap::new();
    for kv in &args.external_labels {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                external_labels.insert(k.to_string(), v.to_string());
            }
            _ => {
                andon_cli::output::error(&format!("--external-label {kv:?}: expected NAME=VALUE"));
                return 2;
            }
        }
    }
    let config = andon_server::Config {
        listen: args.listen.clone(),
        data_dir,
        database_url: args.database_url.clone(),
        request_timeout: Duration::from_secs(args.request_timeout),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        reaper: std::env::current_exe().ok(),
        autoscaler_interval: Duration::from_secs(args.autoscaler_interval.max(1)),
        metrics: andon_metrics::Options {
            scrape_interval: Duration::from_secs(args.scrape_interval.max(1)),
            scrape_timeout: Duration::from_secs(args.scrape_interval.clamp(1, 10)),
            remote_write: args.remote_write_url.clone(),
            evaluation_interval: Duration::from_secs(args.evaluation_interval.max(1)),
            default_rules: !args.no_default_rules,
            external_labels,
            external_url: args
                .external_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", args.listen)),
            query: andon_promql::Options {
                max_samples: args.query_max_samples,
                timeout: Duration::from_secs(args.query_timeout.max(1)),
                ..andon_promql::Options::default()
            },
            ..andon_metrics::Options::default()
        },
    };
    let mut server = match andon_server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            andon_cli::output::error(&e.to_string());
            return 1;
        }
    };
    let url = format!("http://{}", server.addr());
    let mut code = 0;
    if paths.is_empty() {
        server.wait_for(shutdown_signal()).await;
    } else {
        let client = match andon_cli::client::Client::new(&url) {
            Ok(c) => c,
            Err(e) => {
                andon_cli::output::error(&e.to_string());
                let _ = server.shutdown().await;
                return 1;
            }
        };
        andon_cli::output::note(&format!("andon is up: UI and API at {url}"));
        let session = andon_cli::up_session(&client, &paths, namespace);
        tokio::pin!(session);
        let signal = shutdown_signal();
        tokio::pin!(signal);
        tokio::select! {
            _ = &mut signal => {}
            r = &mut session => {
                match r {
                    Ok(0) => server.wait_for(signal).await,
                    Ok(c) => code = c,
                    Err(e) => {
                        andon_cli::output::error(&e.to_string());
                        code = e.exit_code();
                    }
                }
            }
        }
    }
    tracing::info!("shutting down");
    match server.shutdown().await {
        Ok(()) => code,
        Err(e) => {
            andon_cli::output::error(&e.to_string());
            1
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
