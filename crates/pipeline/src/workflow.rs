//! A workflow file read into its model: events and their filters, jobs with their
//! normalised `if:` conditions, `needs` checked (unknown jobs, cycles, a job to
//! start from), step ids given or generated as GitHub generates them, `uses`
//! references, runner groups, container images and matrix vectors checked. Values
//! that may hold expressions stay [`Token`]s for the runner to evaluate.

use std::collections::BTreeMap;

use andon_spec::diag::Pos;

use crate::cron::Cron;
use crate::pattern;
use crate::read::{Problem, Reader};
use crate::schema::{self, EVENTS};
use crate::token::{Kind, Token};

/// One event a workflow runs on, with its configuration (`branches:`, `types:`, …).
#[derive(Clone, Debug)]
pub struct Event {
    pub name: String,
    pub config: Option<Token>,
}

impl Event {
    /// The strings of a filter key (`branches`, `paths-ignore`, `types`, …).
    pub fn filter(&self, key: &str) -> Option<Vec<String>> {
        self.config.as_ref()?.get(key).map(Token::strings)
    }
}

/// A `workflow_dispatch` input.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub name: String,
    pub kind: String,
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<Token>,
    pub options: Vec<String>,
}

/// Permissions: scope → `read`/`write`/`none`.
pub type Permissions = BTreeMap<String, String>;

/// The 13 scopes `read-all` and `write-all` grant.
pub const ALL_SCOPES: &[&str] = &[
    "actions",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

#[derive(Clone, Debug)]
pub struct Workflow {
    pub file: String,
    pub name: Option<String>,
    pub run_name: Option<Token>,
    pub events: Vec<Event>,
    pub dispatch_inputs: Vec<Input>,
    pub env: Option<Token>,
    pub defaults: Option<Token>,
    pub permissions: Option<Permissions>,
    pub concurrency: Option<Token>,
    pub jobs: Vec<Job>,
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub pos: Pos,
    pub name: Token,
    pub needs: Vec<(String, Pos)>,
    /// The `if:` condition, normalised (`success() && (…)` unless it calls a status
    /// function).
    pub condition: String,
    pub strategy: Option<Token>,
    pub continue_on_error: Option<Token>,
    pub timeout_minutes: Option<Token>,
    pub cancel_timeout_minutes: Option<Token>,
    pub concurrency: Option<Token>,
    pub permissions: Option<Permissions>,
    pub env: Option<Token>,
    pub environment: Option<Token>,
    pub defaults: Option<Token>,
    pub runs_on: Option<Token>,
    pub container: Option<Token>,
    pub services: Option<Token>,
    pub outputs: Option<Token>,
    pub steps: Vec<Step>,
    pub snapshot: Option<Token>,
    /// A reusable workflow the job calls (`uses:`), with its `with` and `secrets`.
    pub uses: Option<Token>,
    pub with: Option<Token>,
    pub secrets: Option<Token>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub id: String,
    /// The id was generated (`__run`, `__actions_checkout`, …).
    pub generated_id: bool,
    pub pos: Pos,
    pub name: Option<Token>,
    pub condition: String,
    pub continue_on_error: Option<Token>,
    pub timeout_minutes: Option<Token>,
    pub env: Option<Token>,
    pub run: Option<Token>,
    pub shell: Option<String>,
    pub working_directory: Option<Token>,
    pub uses: Option<String>,
    pub uses_pos: Pos,
    pub with: Option<Token>,
}

/// Options for reading (GitHub's limits).
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// The largest file read, in characters.
    pub max_file_size: usize,
    /// The deepest nesting of mappings and sequences.
    pub max_depth: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { max_file_size: 512 * 1024, max_depth: 50 }
    }
}

/// Reads and checks a workflow file. `file` names it in the problems.
pub fn read(file: &str, bytes: &[u8]) -> Result<Workflow, Vec<Problem>> {
    read_with(file, bytes, &ReadOptions::default())
}

pub fn read_with(file: &str, bytes: &[u8], opts: &ReadOptions) -> Result<Workflow, Vec<Problem>> {
    if String::from_utf8_lossy(bytes).chars().count() > opts.max_file_size {
        return Err(vec![Problem {
            pos: None,
            message: format!(
                "The maximum file size of {} characters has been exceeded",
                opts.max_file_size
            ),
        }]);
    }
    let root = read_root(bytes, &schema::WORKFLOW, opts.max_depth, "jobs")?;
    let mut c = Converter { problems: Vec::new() };
    let wf = c.workflow(file, &root);
    if c.problems.is_empty() { Ok(wf) } else { Err(c.problems) }
}

/// The first YAML document read against `ty`: its token tree, or every problem.
/// `required` names what an empty file lacks.
fn read_root(
    bytes: &[u8],
    ty: &schema::Ty,
    max_depth: usize,
    required: &str,
) -> Result<Token, Vec<Problem>> {
    let docs = andon_spec::yaml::parse_without_anchors(bytes)
        .map_err(|d| vec![Problem::at(Pos::new(d.line.max(1), d.column.max(1)), d.message)])?;
    let Some(doc) = docs.first() else {
        return Err(vec![Problem::at(
            Pos::new(1, 1),
            format!("Required property is missing: {required}"),
        )]);
    };
    let mut reader = Reader::new(max_depth);
    let root = reader.read(&doc.root, ty, &[]);
    if !reader.problems.is_empty() {
        return Err(reader.problems);
    }
    root.ok_or_else(|| vec![Problem::at(doc.root.pos, "The file could not be read")])
}

struct Converter {
    problems: Vec<Problem>,
}

fn valid_id(id: &str) -> bool {
    let mut cs = id.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && id.len() < 100
}

/// The normalised text of an `if:` condition: empty means `success()`; one that
/// calls no status function gets `success() && (…)`.
pub fn normalize_condition(text: &str, ctx: &[&str]) -> Result<String, andon_expr::Error> {
    let t = text.trim_matches(char::is_whitespace);
    if t.is_empty() {
        return Ok("success()".into());
    }
    match andon_expr::parse(t, &schema::allowed(ctx))? {
        Some(n) if n.calls_any(andon_expr::STATUS_FUNCTIONS) => Ok(t.to_string()),
        Some(_) => Ok(format!("success() && ({t})")),
        None => Ok("success()".into()),
    }
}

/// Whether a `uses:` reference has a form the runner understands.
pub fn valid_uses(uses: &str) -> bool {
    if uses.starts_with("docker://") || uses.starts_with("./") {
        return true;
    }
    let Some((path, git_ref)) = uses.split_once('@') else { return false };
    let mut parts = path.split('/');
    let (owner, repo) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    !git_ref.is_empty() && !owner.is_empty() && !repo.is_empty()
}

/// The base of a generated step id: `run`, the action's `owner/repo`, the image of
/// `docker://image`, or `self` for a local action.
fn id_base(step: &Token) -> String {
    if let Some(uses) = step.get("uses").and_then(Token::as_str) {
        if let Some(image) = uses.strip_prefix("docker://") {
            return image.to_string();
        }
        if uses.starts_with("./") || uses.starts_with(".\\") {
            return "self".into();
        }
        let path = uses.split('@').next().unwrap_or(uses);
        let mut parts = path.split('/');
        return match (parts.next(), parts.next()) {
            (Some(o), Some(r)) => format!("{o}/{r}"),
            (Some(o), None) => o.to_string(),
            _ => path.to_string(),
        };
    }
    "run".into()
}

impl Converter {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem::at(pos, message));
    }

    fn check_id(&mut self, id: &str, pos: Pos) -> bool {
        if id.starts_with("__") {
            self.err(
                pos,
                format!("The identifier '{id}' is invalid. IDs starting with '__' are reserved."),
            );
            return false;
        }
        if !valid_id(id) {
            self.err(
                pos,
                format!(
                    "The identifier '{id}' is invalid. IDs may only contain alphanumeric characters, '_', and '-'. IDs must start with a letter or '_' and must be less than 100 characters."
                ),
            );
            return false;
        }
        true
    }

    fn permissions(&mut self, t: &Token) -> Permissions {
        match &t.kind {
            Kind::String(s) => {
                let level = if s == "write-all" { "write" } else { "read" };
                ALL_SCOPES.iter().map(|k| (k.to_string(), level.to_string())).collect()
            }
            Kind::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                .collect(),
            _ => Permissions::new(),
        }
    }

    fn condition(&mut self, t: Option<&Token>, ctx: &[&str]) -> String {
        let Some(t) = t else { return "success()".into() };
        let text = match &t.kind {
            Kind::Expr(e) => e.clone(),
            Kind::String(s) => s.clone(),
            _ => t.literal().to_display(),
        };
        match normalize_condition(&text, ctx) {
            Ok(c) => c,
            Err(e) => {
                self.err(t.pos, e.describe(text.trim()));
                text
            }
        }
    }

    fn workflow(&mut self, file: &str, root: &Token) -> Workflow {
        let on = root.get("on");
        let mut events = Vec::new();
        let mut dispatch_inputs = Vec::new();
        if let Some(on) = on {
            match &on.kind {
                Kind::String(s) => events.push(Event { name: s.clone(), config: None }),
                Kind::Seq(items) => {
                    for i in items {
                        if let Some(s) = i.as_str() {
                            events.push(Event { name: s.to_string(), config: None });
                        }
                    }
                }
                Kind::Map(entries) => {
                    for (k, v) in entries {
                        let name = k.as_str().unwrap_or_default().to_string();
                        let config = (!matches!(v.kind, Kind::Null)).then(|| v.clone());
                        events.push(Event { name, config });
                    }
                }
                _ => {}
            }
        }
        for e in &events {
            debug_assert!(EVENTS.contains(&e.name.as_str()));
            let Some(cfg) = &e.config else { continue };
            if e.name == "schedule" {
                for item in cfg.as_seq().unwrap_or_default() {
                    if let Some(cron) = item.get("cron")
                        && let Some(text) = cron.as_str()
                        && let Err(why) = Cron::parse(text)
                    {
                        self.err(cron.pos, format!("Invalid cron expression '{text}': {why}"));
                    }
                }
                continue;
            }
            for key in
                ["branches", "branches-ignore", "tags", "tags-ignore", "paths", "paths-ignore"]
            {
                if let Some(t) = cfg.get(key) {
                    for p in t.strings() {
                        if let Err(why) = pattern::Pattern::new(&p) {
                            self.err(t.pos, why);
                        }
                    }
                }
            }
            if e.name == "workflow_dispatch"
                && let Some(inputs) = cfg.get("inputs").and_then(Token::as_map)
            {
                for (k, v) in inputs {
                    let text = |key: &str| v.get(key).and_then(Token::as_str).map(str::to_owned);
                    dispatch_inputs.push(Input {
                        name: k.as_str().unwrap_or_default().to_string(),
                        kind: text("type").unwrap_or_else(|| "string".into()),
                        description: text("description"),
                        required: matches!(
                            v.get("required").map(|t| &t.kind),
                            Some(Kind::Bool(true))
                        ),
                        default: v.get("default").cloned(),
                        options: v.get("options").map(Token::strings).unwrap_or_default(),
                    });
                }
            }
        }
        let permissions = root.get("permissions").map(|t| self.permissions(t));
        let jobs_token = root.get("jobs");
        let mut jobs = Vec::new();
        if let Some(jt) = jobs_token {
            for (k, v) in jt.as_map().unwrap_or_default() {
                jobs.push(self.job(k, v));
            }
            self.check_needs(&jobs, jt.pos);
        }
        Workflow {
            file: file.to_string(),
            name: root.get("name").and_then(Token::as_str).map(str::to_owned),
            run_name: root.get("run-name").cloned(),
            events,
            dispatch_inputs,
            env: root.get("env").cloned(),
            defaults: root.get("defaults").cloned(),
            permissions,
            concurrency: root.get("concurrency").cloned(),
            jobs,
        }
    }

    fn job(&mut self, key: &Token, v: &Token) -> Job {
        let id = key.as_str().unwrap_or_default().to_string();
        self.check_id(&id, key.pos);
        let needs: Vec<(String, Pos)> = match v.get("needs").map(|t| &t.kind) {
            Some(Kind::String(s)) => vec![(s.clone(), v.get("needs").map_or(key.pos, |t| t.pos))],
            Some(Kind::Seq(items)) => {
                items.iter().filter_map(|i| Some((i.as_str()?.to_string(), i.pos))).collect()
            }
            _ => Vec::new(),
        };
        let condition = self.condition(v.get("if"), schema::JOB_IF);
        if let Some(strategy) = v.get("strategy")
            && let Some(matrix) = strategy.get("matrix").and_then(Token::as_map)
        {
            for (mk, mv) in matrix {
                let name = mk.as_str().unwrap_or_default();
                if name == "include" || name == "exclude" {
                    continue;
                }
                if mv.as_seq().is_some_and(<[Token]>::is_empty) {
                    self.err(mv.pos, format!("Matrix vector '{name}' does not contain any values"));
                }
            }
        }
        if let Some(group) = v.get("runs-on").and_then(|r| r.get("group"))
            && let Some(g) = group.as_str()
            && let Some((prefix, rest)) = g.split_once('/')
        {
            if !matches!(prefix, "org" | "organization" | "ent" | "enterprise") {
                self.err(
                    group.pos,
                    format!(
                        "Invalid runs-on group name '{g}'. Please use 'organization/' or 'enterprise/' prefix to target a single runner group."
                    ),
                );
            } else if rest.is_empty() || rest.contains('/') {
                self.err(group.pos, format!("Invalid runs-on group name '{g}'."));
            }
        }
        let image_missing = |t: &Token| {
            t.as_map().is_some()
                && !t.has_expressions()
                && t.get("image").and_then(Token::as_str).is_none_or(str::is_empty)
        };
        if let Some(c) = v.get("container")
            && image_missing(c)
        {
            self.err(c.pos, "Container image cannot be empty");
        }
        if let Some(services) = v.get("services").and_then(Token::as_map) {
            for (_, s) in services {
                if image_missing(s) {
                    self.err(s.pos, "Container image cannot be empty");
                }
            }
        }
        let steps =
            v.get("steps").and_then(Token::as_seq).map(|s| self.steps(s)).unwrap_or_default();
        Job {
            id: id.clone(),
            pos: key.pos,
            name: v.get("name").cloned().unwrap_or_else(|| Token::new(Kind::String(id), key.pos)),
            needs,
            condition,
            strategy: v.get("strategy").cloned(),
            continue_on_error: v.get("continue-on-error").cloned(),
            timeout_minutes: v.get("timeout-minutes").cloned(),
            cancel_timeout_minutes: v.get("cancel-timeout-minutes").cloned(),
            concurrency: v.get("concurrency").cloned(),
            permissions: v.get("permissions").map(|t| self.permissions(t)),
            env: v.get("env").cloned(),
            environment: v.get("environment").cloned(),
            defaults: v.get("defaults").cloned(),
            runs_on: v.get("runs-on").cloned(),
            container: v.get("container").cloned(),
            services: v.get("services").cloned(),
            outputs: v.get("outputs").cloned(),
            steps,
            snapshot: v.get("snapshot").cloned(),
            uses: v.get("uses").cloned(),
            with: v.get("with").cloned(),
            secrets: v.get("secrets").cloned(),
        }
    }

    fn steps(&mut self, items: &[Token]) -> Vec<Step> {
        // Explicit ids first, then generated ones that avoid them.
        // Ids taken, lower-cased; the next suffix to try per generated base.
        let mut ids: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut next_suffix: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        for s in items {
            if let Some(idt) = s.get("id")
                && let Some(id) = idt.as_str()
            {
                if ids.contains(&id.to_ascii_lowercase()) {
                    self.err(
                        idt.pos,
                        format!("The identifier '{id}' may not be used more than once within the same scope."),
                    );
                } else if self.check_id(id, idt.pos) {
                    ids.insert(id.to_ascii_lowercase());
                }
            }
        }
        let mut out = Vec::new();
        for s in items {
            if s.get("parallel").is_some() {
                self.err(s.pos, "Parallel steps are not supported");
                continue;
            }
            let (id, generated) = match s.get("id").and_then(Token::as_str) {
                Some(id) => (id.to_string(), false),
                None => {
                    let base: String = format!("__{}", id_base(s))
                        .chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }
                        })
                        .collect();
                    let mut candidate: String = base.chars().take(100).collect();
                    let n = next_suffix.entry(base.to_ascii_lowercase()).or_insert(2);
                    while ids.contains(&candidate.to_ascii_lowercase()) {
                        let suffix = format!("_{n}");
                        candidate =
                            base.chars().take(100 - suffix.len()).collect::<String>() + &suffix;
                        *n += 1;
                    }
                    ids.insert(candidate.to_ascii_lowercase());
                    (candidate, true)
                }
            };
            let uses_t = s.get("uses");
            if let Some(u) = uses_t
                && let Some(text) = u.as_str()
                && !valid_uses(text)
            {
                self.err(
                    u.pos,
                    format!("Expected format {{org}}/{{repo}}[/path]@ref. Actual '{text}'"),
                );
            }
            out.push(Step {
                id,
                generated_id: generated,
                pos: s.pos,
                name: s.get("name").cloned(),
                condition: self.condition(s.get("if"), schema::STEP_IF),
                continue_on_error: s.get("continue-on-error").cloned(),
                timeout_minutes: s.get("timeout-minutes").cloned(),
                env: s.get("env").cloned(),
                run: s.get("run").cloned(),
                shell: s.get("shell").and_then(Token::as_str).map(str::to_owned),
                working_directory: s.get("working-directory").cloned(),
                uses: uses_t.and_then(Token::as_str).map(str::to_owned),
                uses_pos: uses_t.map_or(s.pos, |u| u.pos),
                with: s.get("with").cloned(),
            });
        }
        out
    }

    /// `needs`: every named job exists, and the graph has a start and no cycle.
    fn check_needs(&mut self, jobs: &[Job], jobs_pos: Pos) {
        let known = |id: &str| jobs.iter().any(|j| j.id.eq_ignore_ascii_case(id));
        let mut unknown = false;
        for j in jobs {
            for (n, pos) in &j.needs {
                if !known(n) {
                    unknown = true;
                    self.err(*pos, format!("Job '{}' depends on unknown job '{n}'.", j.id));
                }
            }
        }
        if unknown {
            return;
        }
        if !jobs.iter().any(|j| j.needs.is_empty()) {
            self.err(jobs_pos, "The workflow must contain at least one job with no dependencies.");
            return;
        }
        let mut done: Vec<String> = Vec::new();
        loop {
            let ready: Vec<&Job> = jobs
                .iter()
                .filter(|j| !done.iter().any(|d| d.eq_ignore_ascii_case(&j.id)))
                .filter(|j| {
                    j.needs.iter().all(|(n, _)| done.iter().any(|d| d.eq_ignore_ascii_case(n)))
                })
                .collect();
            if ready.is_empty() {
                break;
            }
            done.extend(ready.iter().map(|j| j.id.clone()));
        }
        for j in jobs {
            if done.iter().any(|d| d.eq_ignore_ascii_case(&j.id)) {
                continue;
            }
            for (n, pos) in &j.needs {
                if !done.iter().any(|d| d.eq_ignore_ascii_case(n)) {
                    self.err(
                        *pos,
                        format!("Job '{}' depends on job '{n}' which creates a cycle in the dependency graph.", j.id),
                    );
                }
            }
        }
    }
}

/// An input of an action.
#[derive(Clone, Debug)]
pub struct ActionInput {
    pub name: String,
    pub required: bool,
    pub default: Option<Token>,
}

/// An action's metadata (`action.yml`): what it takes, gives and runs.
#[derive(Clone, Debug)]
pub struct Action {
    pub file: String,
    pub name: Option<String>,
    /// `runs.using`: `composite`, `node20`, `docker`, …
    pub using: String,
    pub inputs: Vec<ActionInput>,
    pub outputs: Vec<(String, Token)>,
    /// A composite action's steps.
    pub steps: Vec<Step>,
}

/// Reads an action's `action.yml`.
pub fn read_action(file: &str, bytes: &[u8]) -> Result<Action, Vec<Problem>> {
    let root = read_root(bytes, &schema::ACTION, ReadOptions::default().max_depth, "runs")?;
    let mut c = Converter { problems: Vec::new() };
    let runs = root.get("runs");
    let steps = runs
        .and_then(|r| r.get("steps"))
        .and_then(Token::as_seq)
        .map(|s| c.steps(s))
        .unwrap_or_default();
    let inputs = root
        .get("inputs")
        .and_then(Token::as_map)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| ActionInput {
            name: k.as_str().unwrap_or_default().to_string(),
            required: matches!(v.get("required").map(|t| &t.kind), Some(Kind::Bool(true))),
            default: v.get("default").cloned(),
        })
        .collect();
    let outputs = root
        .get("outputs")
        .and_then(Token::as_map)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.get("value")?.clone())))
        .collect();
    let action = Action {
        file: file.to_string(),
        name: root.get("name").and_then(Token::as_str).map(str::to_owned),
        using: runs
            .and_then(|r| r.get("using"))
            .and_then(Token::as_str)
            .unwrap_or_default()
            .to_string(),
        inputs,
        outputs,
        steps,
    };
    if c.problems.is_empty() { Ok(action) } else { Err(c.problems) }
}
