//! andon's command line: `andon <noun> <verb>`. Client commands talk to a server over
//! HTTP; `lint` needs none. `server` and `up` are parsed here and run by the binary.

pub mod client;
mod commands;
pub mod output;
mod rollout;
mod runs;
mod workflow;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use commands::{apply_paths, load, run, up_session};

/// The DevOps loop in one binary.
#[derive(Debug, Parser)]
#[command(name = "andon", version, about, propagate_version = true)]
pub struct Cli {
    /// The andon server to talk to.
    #[arg(long, global = true, env = "ANDON_SERVER", default_value = "http://127.0.0.1:7070")]
    pub server: String,
    /// Namespace of the resources to act on.
    #[arg(short, long, global = true, env = "ANDON_NAMESPACE", default_value = "default")]
    pub namespace: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate resource files and store them: created, configured or unchanged.
    Apply {
        /// Files or directories (`*.yaml`, `*.yml`, `*.json`), or `-` for standard input.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
    },
    /// Show resources of a kind, or one resource.
    Get {
        /// Kind: service (svc), environment (env), in singular or plural.
        kind: String,
        name: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
        /// List across all namespaces.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },
    /// Delete a resource.
    Delete { kind: String, name: String },
    /// Print a service's logs (every instance, each line prefixed with its instance).
    Logs {
        service: String,
        #[arg(short, long)]
        follow: bool,
        /// Only lines newer than this (30s, 5m, 1h).
        #[arg(long)]
        since: Option<String>,
        /// Only this instance's lines.
        #[arg(long)]
        instance: Option<u32>,
        /// Prefix each line with its time.
        #[arg(long)]
        timestamps: bool,
    },
    /// Change resources in place.
    Set {
        #[command(subcommand)]
        what: SetCommand,
    },
    /// Show the event journal; with -f, follow it live.
    Events {
        #[arg(short, long)]
        follow: bool,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Most events to show (without -f).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Check resource files without a server: every problem as file:line:col: field: message.
    Lint {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the andon server.
    Server(ServerArgs),
    /// Run the server on the embedded default and apply the given files to it.
    Up {
        #[command(flatten)]
        server: ServerArgs,
        /// Files or directories to apply once the server is ready.
        paths: Vec<PathBuf>,
    },
    /// The metrics database in a data dir.
    Tsdb {
        #[command(subcommand)]
        what: TsdbCommand,
    },
    /// PromQL tools.
    Promql {
        #[command(subcommand)]
        what: PromqlCommand,
    },
    /// Prometheus rule files: check them (`promtool check rules`) and run their
    /// unit tests (`promtool test rules`), locally.
    Rules {
        #[command(subcommand)]
        what: RulesCommand,
    },
    /// Run the repository's GitHub Actions workflows locally (`--list` and `--dry-run`
    /// show what would run).
    Run(RunArgs),
    /// GitHub Actions workflows: expression evaluation.
    Workflow {
        #[command(subcommand)]
        what: WorkflowCommand,
    },
    /// Alerts from the server's rules: the ones pending and firing now, and their history.
    Alerts {
        #[command(subcommand)]
        what: AlertsCommand,
    },
    /// Silences: mute alerts that match, for a while (Alertmanager's silences).
    Silence {
        #[command(subcommand)]
        what: SilenceCommand,
    },
    /// SLO specs (Sloth `prometheus/v1`, Sloth's `PrometheusServiceLevel`, OpenSLO).
    Slo {
        #[command(subcommand)]
        what: SloCommand,
    },
    /// Follow and steer a service's rollout (canary, blue-green, rolling update).
    Rollout {
        #[command(subcommand)]
        what: RolloutCommand,
    },
    /// Workflow runs on the server (from watched `Repository` resources): list them,
    /// show one, read or follow its logs, cancel or run it again.
    Runs {
        #[command(subcommand)]
        what: RunsCommand,
    },
    /// Print the client's version and, when reachable, the server's.
    Version,
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Subcommand)]
pub enum TsdbCommand {
    /// Backfill an OpenMetrics file (every sample with a timestamp, ending in `# EOF`)
    /// as blocks in DATA_DIR/tsdb, like `promtool tsdb create-blocks-from openmetrics`;
    /// run it while no server uses the data dir.
    Import {
        file: PathBuf,
        #[arg(long, env = "ANDON_DATA_DIR", default_value = ".andon")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PromqlCommand {
    /// Run promqltest scripts (Prometheus's PromQL test language): prints
    /// per-file and total `N passed, N failed, N skipped`; exits 1 on any failure.
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list every skipped eval with its reason.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Evaluate an expression on the server: an instant query at --time (default now),
    /// or a range query with --start/--end/--step. Times are Unix seconds or RFC 3339.
    Query {
        expr: String,
        #[arg(long)]
        time: Option<String>,
        #[arg(long, requires_all = ["end"])]
        start: Option<String>,
        #[arg(long, requires_all = ["start"])]
        end: Option<String>,
        /// Range step: seconds or a duration (15s, 1m); default 15s.
        #[arg(long, default_value = "15s")]
        step: String,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files for syntax errors, invalid expressions and templates, and
    /// lint them; prints `SUCCESS: N rules found` per file. Exits 1 on an error,
    /// 3 on a lint finding with --lint-fatal.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Lints: duplicate-rules (the default), all, none.
        #[arg(long, default_value = "duplicate-rules")]
        lint: String,
        /// Exit 3 when a lint finds something.
        #[arg(long)]
        lint_fatal: bool,
        /// Ignore fields Prometheus does not know instead of failing.
        #[arg(long)]
        ignore_unknown_fields: bool,
    },
    /// Run rule unit tests written for `promtool test rules`; exits 1 when a test fails.
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only run test groups whose name matches this regex (repeatable).
        #[arg(long)]
        run: Vec<String>,
        /// Ignore fields Prometheus does not know in the rule files.
        #[arg(long)]
        ignore_unknown_fields: bool,
        /// Also write the results as JUnit XML to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A workflow file, or a directory of them (default: the repository's
    /// `.github/workflows`).
    #[arg(short = 'W', long = "workflows")]
    pub workflows: Option<PathBuf>,
    /// Only this job (and the jobs it needs).
    #[arg(short, long)]
    pub job: Option<String>,
    /// The event to run for.
    #[arg(long, default_value = "push")]
    pub event: String,
    /// A `workflow_dispatch` input, `name=value` (repeatable).
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Only matrix combinations with this value, `key:value` (repeatable).
    #[arg(long = "matrix", value_name = "KEY:VALUE")]
    pub matrix: Vec<String>,
    /// A secret, `NAME=VALUE` (repeatable).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,
    /// Secrets from a file of `NAME=VALUE` lines.
    #[arg(long = "secret-file")]
    pub secret_file: Option<PathBuf>,
    /// List the workflows, their events and jobs.
    #[arg(long)]
    pub list: bool,
    /// Print the plan (triggered workflows, expanded matrices, the job graph) without
    /// running anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Evaluate one `${{ }}` expression (without the braces) and print the result as
    /// JSON; exit 1 with the message on a parse or evaluation error.
    Expr {
        expr: String,
        /// A JSON object of contexts keyed by name (`{"github": {...}, "matrix": {...}}`).
        #[arg(long)]
        context: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Pending and firing alerts, firing first.
    List {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Notifications sent to receivers, and those that failed after their retries,
    /// newest first (the notification log, kept in the journal).
    Notifications {
        /// Only this receiver.
        #[arg(long)]
        receiver: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// When alerts fired and resolved, newest first (kept in the journal).
    History {
        /// Only this alert.
        #[arg(long)]
        alertname: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence alerts matching every matcher (`alertname=HighErrorRate`, `job=~"api.*"`,
    /// `severity!=page`); prints the new silence's ID.
    Add {
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long from now (Prometheus duration).
        #[arg(long, default_value = "1h")]
        duration: String,
        #[arg(long, default_value = "")]
        comment: String,
        /// Who silenced (default: $USER).
        #[arg(long, env = "USER", default_value = "andon")]
        author: String,
    },
    /// Every silence with its state (active, pending, expired).
    List {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// End a silence now.
    Expire { id: String },
}

#[derive(Debug, Subcommand)]
pub enum SloCommand {
    /// Print the Prometheus rules an SLO spec stands for: SLI recording rules per
    /// window, metadata (objective, error budget, burn rates, remaining budget) and
    /// multi-window multi-burn-rate alerts, with Sloth's names, labels and layout.
    Generate {
        file: PathBuf,
        /// The SLO period (30d by default; 28d has built-in windows, other periods need --windows).
        #[arg(long)]
        period: Option<String>,
        /// Alert windows in Sloth's `AlertWindows` format.
        #[arg(long)]
        windows: Option<PathBuf>,
        /// A label added to every generated rule (K=V, repeatable).
        #[arg(long = "extra-labels", value_delimiter = ',')]
        extra_labels: Vec<String>,
        #[arg(long)]
        disable_recordings: bool,
        #[arg(long)]
        disable_alerts: bool,
    },
    /// Every SLO the server evaluates: objective, SLI now, error budget left over
    /// the period, the last hour's burn rate, projected exhaustion.
    List {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// One SLO in detail (by `service-name` id or by name), with burn rates over 5m, 1h,
    /// 6h, 1d and 3d and the SLO alerts firing now.
    Status {
        id: String,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Phase, step, traffic weights, revisions and analysis measurements; with -w, watch
    /// until the rollout is Healthy (exit 0) or Degraded (exit 1).
    Status {
        service: String,
        #[arg(short, long)]
        watch: bool,
        /// With -w: give up after this long (30s, 5m); 0 waits forever.
        #[arg(long, default_value = "0")]
        timeout: String,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Go past the current pause, analysis gate or step; --full skips everything left.
    Promote {
        service: String,
        #[arg(long)]
        full: bool,
    },
    /// Send all traffic back to the stable revision, then scale the new one down.
    Abort { service: String },
    /// Start an aborted rollout again from its first step.
    Retry { service: String },
    /// Hold the rollout where it is.
    Pause { service: String },
    /// Lift a pause made with `andon rollout pause`.
    Resume { service: String },
    /// Go back to the previous revision (or --to-revision N), like `kubectl rollout undo`.
    Undo {
        service: String,
        #[arg(long)]
        to_revision: Option<u64>,
    },
    /// Replace every instance through the service's strategy, like `kubectl rollout restart`.
    Restart { service: String },
    /// Let a rollout an error-budget policy holds back start anyway (recorded in the
    /// journal with who and why).
    OverrideFreeze {
        service: String,
        #[arg(long, required = true)]
        reason: String,
    },
    /// The revisions kept for undo.
    History {
        service: String,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The newest runs, newest first.
    List {
        /// Only this repository's runs.
        #[arg(long)]
        repository: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// One run: commit, jobs and steps with their results, artifacts, step summaries.
    Show {
        id: u64,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// A run's log; with -f, follow it until the run ends (exit 1 unless it succeeded).
    Logs {
        id: u64,
        #[arg(short, long)]
        follow: bool,
        /// Only this job (its name or its workflow job id).
        #[arg(long)]
        job: Option<String>,
    },
    /// Cancel a queued or running run (its steps' processes are stopped).
    Cancel { id: u64 },
    /// Run a workflow by hand (`workflow_dispatch`), like `gh workflow run`.
    Dispatch {
        /// The Repository.
        repository: String,
        /// The workflow file (`ci.yml`, or its path in the repository).
        workflow: String,
        /// A branch or tag (default: the repository's default branch).
        #[arg(long = "ref")]
        git_ref: Option<String>,
        /// An input as NAME=VALUE (repeatable).
        #[arg(long = "input", short = 'f')]
        inputs: Vec<String>,
        #[arg(short, long, default_value = "default")]
        namespace: String,
    },
    /// Run a finished run again: the same commit and workflow, the next attempt.
    Rerun { id: u64 },
}

#[derive(Debug, Subcommand)]
pub enum SetCommand {
    /// Set (K=V) or remove (K-) environment variables of a service, like `kubectl set env`;
    /// a change replaces the instances one at a time.
    Env {
        service: String,
        #[arg(required = true)]
        changes: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to serve the API and UI on.
    #[arg(long, env = "ANDON_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: String,
    /// Where andon keeps its state (SQLite database, lock file); `.andon`, or DIR/.andon for `up DIR`.
    #[arg(long, env = "ANDON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use PostgreSQL (postgres://user:pass@host/db) instead of SQLite in the data dir.
    #[arg(long, env = "ANDON_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[arg(long, env = "ANDON_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds between scrapes of every metrics target (services' instances, andon itself).
    #[arg(long, env = "ANDON_SCRAPE_INTERVAL", default_value_t = 15)]
    pub scrape_interval: u64,
    /// Seconds between evaluations of autoscaled services (Kubernetes' HPA sync period).
    #[arg(long, env = "ANDON_AUTOSCALER_INTERVAL", default_value_t = 15)]
    pub autoscaler_interval: u64,
    /// Seconds between evaluations of rule groups that set no `interval` of their own.
    #[arg(long, env = "ANDON_EVALUATION_INTERVAL", default_value_t = 15)]
    pub evaluation_interval: u64,
    /// Do not evaluate the alerting rules andon ships for the services it runs.
    #[arg(long, env = "ANDON_NO_DEFAULT_RULES")]
    pub no_default_rules: bool,
    /// A label every alert carries and alert templates see as `$externalLabels` (K=V, repeatable).
    #[arg(long = "external-label", env = "ANDON_EXTERNAL_LABELS", value_delimiter = ',')]
    pub external_labels: Vec<String>,
    /// The URL alert templates see as `$externalURL` (default: the server's own address).
    #[arg(long, env = "ANDON_EXTERNAL_URL")]
    pub external_url: Option<String>,
    /// Most samples a PromQL query may hold at one step; beyond it the query fails (422).
    #[arg(long, env = "ANDON_QUERY_MAX_SAMPLES", default_value_t = 50_000_000)]
    pub query_max_samples: usize,
    /// Seconds a PromQL query may run; beyond it the query fails (503).
    #[arg(long, env = "ANDON_QUERY_TIMEOUT", default_value_t = 120)]
    pub query_timeout: u64,
    /// Forward every stored sample to this Prometheus remote-write endpoint (repeatable;
    /// e.g. http://127.0.0.1:8428/api/v1/write for VictoriaMetrics).
    #[arg(long = "remote-write-url", env = "ANDON_REMOTE_WRITE_URL", value_delimiter = ',')]
    pub remote_write_url: Vec<String>,
    /// Seconds to let in-flight requests finish on SIGTERM/SIGINT.
    #[arg(long, env = "ANDON_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,
    /// Seconds a request may take before it is answered with 504.
    #[arg(long, env = "ANDON_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
}
