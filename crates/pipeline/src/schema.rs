//! The workflow format as a table: which keys each mapping has, which are required,
//! what type each value is, and which named values and functions expressions may use
//! where — the facts of GitHub's workflow schema (`workflow-v1.0`), written here as
//! Rust data. `tests/schema_table.rs` checks this table against GitHub's schema file
//! read in place.

use andon_expr::Function;

/// A value's type.
#[derive(Debug)]
pub enum Ty {
    /// Anything (matrix values).
    Any,
    Null,
    Bool,
    Number,
    Str,
    NonEmpty,
    Const(&'static str),
    /// One of these strings.
    Values(&'static [&'static str]),
    Seq(&'static Ty),
    Map(&'static Mapping),
    OneOf(&'static [&'static Ty]),
    /// Expressions below may use these named values and functions (the whole list
    /// that applies here; lists only grow going down).
    Ctx(&'static [&'static str], &'static Ty),
}

#[derive(Debug)]
pub struct Mapping {
    pub props: &'static [Prop],
    /// Keys not in `props`: their type, and their values' type.
    pub loose: Option<(&'static Ty, &'static Ty)>,
}

#[derive(Debug)]
pub struct Prop {
    pub name: &'static str,
    pub ty: &'static Ty,
    pub required: bool,
}

const fn p(name: &'static str, ty: &'static Ty) -> Prop {
    Prop { name, ty, required: false }
}

const fn req(name: &'static str, ty: &'static Ty) -> Prop {
    Prop { name, ty, required: true }
}

// Named values and functions, by place.
pub const W: &[&str] = &["github", "inputs", "vars"];
pub const W_SECRETS: &[&str] = &["github", "inputs", "vars", "secrets"];
pub const W_JOBS: &[&str] = &["github", "inputs", "vars", "jobs"];
pub const J: &[&str] = &["github", "inputs", "vars", "needs"];
pub const JOB_IF: &[&str] = &[
    "github",
    "inputs",
    "vars",
    "needs",
    "always(0,0)",
    "failure(0,MAX)",
    "cancelled(0,0)",
    "success(0,MAX)",
];
pub const M: &[&str] = &["github", "inputs", "vars", "needs", "strategy", "matrix"];
pub const M_SECRETS: &[&str] =
    &["github", "inputs", "vars", "needs", "strategy", "matrix", "secrets"];
pub const M_ENV: &[&str] = &["github", "inputs", "vars", "needs", "strategy", "matrix", "env"];
pub const CREDENTIALS: &[&str] =
    &["github", "inputs", "vars", "needs", "strategy", "matrix", "secrets", "env"];
pub const R: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "secrets", "steps", "job", "runner",
    "env",
];
pub const R_NO_SECRETS: &[&str] =
    &["github", "inputs", "vars", "needs", "strategy", "matrix", "steps", "job", "runner", "env"];
pub const S: &[&str] = &[
    "github",
    "inputs",
    "vars",
    "needs",
    "strategy",
    "matrix",
    "secrets",
    "steps",
    "job",
    "runner",
    "env",
    "hashFiles(1,255)",
];
pub const STEP_IF: &[&str] = &[
    "github",
    "inputs",
    "vars",
    "needs",
    "strategy",
    "matrix",
    "steps",
    "job",
    "runner",
    "env",
    "always(0,0)",
    "failure(0,0)",
    "cancelled(0,0)",
    "success(0,0)",
    "hashFiles(1,255)",
];

/// Every named value a workflow expression can use anywhere.
pub const ALL_NAMED: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "secrets", "steps", "job", "runner",
    "env", "jobs",
];
/// Every function beyond the built-in ones.
pub const ALL_FUNCTIONS: &[Function] = &[
    Function { name: "always", min: 0, max: 0 },
    Function { name: "failure", min: 0, max: usize::MAX },
    Function { name: "cancelled", min: 0, max: 0 },
    Function { name: "success", min: 0, max: usize::MAX },
    Function { name: "hashfiles", min: 1, max: 255 },
];

/// Every named value and function any place allows: what evaluation at run time
/// parses with (each expression was checked against its own place when the file was
/// read). Built once.
pub fn everything() -> &'static andon_expr::Allowed {
    static ALL: std::sync::OnceLock<andon_expr::Allowed> = std::sync::OnceLock::new();
    ALL.get_or_init(|| andon_expr::Allowed {
        named_values: ALL_NAMED.iter().map(|s| s.to_string()).collect(),
        functions: ALL_FUNCTIONS.to_vec(),
    })
}

/// The named values and functions of a context list.
pub fn allowed(list: &[&str]) -> andon_expr::Allowed {
    let mut a = andon_expr::Allowed::default();
    for entry in list {
        match entry.split_once('(') {
            None => a.named_values.push(entry.to_string()),
            Some((name, args)) => {
                let (min, max) = args.trim_end_matches(')').split_once(',').unwrap_or(("0", "0"));
                let name = ALL_FUNCTIONS
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(name))
                    .map_or("success", |f| f.name);
                a.functions.push(Function {
                    name,
                    min: min.parse().unwrap_or(0),
                    max: if max == "MAX" { usize::MAX } else { max.parse().unwrap_or(0) },
                });
            }
        }
    }
    a
}

pub static ANY: Ty = Ty::Any;
pub static NULL: Ty = Ty::Null;
pub static BOOL: Ty = Ty::Bool;
pub static NUMBER: Ty = Ty::Number;
pub static STRING: Ty = Ty::Str;
pub static NON_EMPTY: Ty = Ty::NonEmpty;
static SEQ_NON_EMPTY: Ty = Ty::Seq(&NON_EMPTY);
static SEQ_STRING: Ty = Ty::Seq(&STRING);
static SEQ_ANY: Ty = Ty::Seq(&ANY);
static STR_OR_SEQ: Ty = Ty::OneOf(&[&NON_EMPTY, &SEQ_NON_EMPTY]);
static SCALAR: Ty = Ty::OneOf(&[&STRING, &BOOL, &NUMBER]);

/// The events a workflow can name.
pub const EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "image_version",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];
static EVENT_NAME: Ty = Ty::Values(EVENTS);
static EVENT_NAMES: Ty = Ty::Seq(&EVENT_NAME);

/// An event whose configuration is only `types:` from a list.
macro_rules! types_event {
    ($name:ident, $values:expr) => {
        static $name: Ty = {
            static VALUES: Ty = Ty::Values($values);
            static SEQ: Ty = Ty::Seq(&VALUES);
            static TYPES: Ty = Ty::OneOf(&[&VALUES, &SEQ]);
            static MAP: Mapping = Mapping { props: &[p("types", &TYPES)], loose: None };
            static AS_MAP: Ty = Ty::Map(&MAP);
            Ty::OneOf(&[&NULL, &AS_MAP])
        };
    };
}

types_event!(BRANCH_PROTECTION_RULE, &["created", "edited", "deleted"]);
types_event!(CHECK_RUN, &["completed", "created", "rerequested", "requested_action"]);
types_event!(CHECK_SUITE, &["completed"]);
types_event!(
    DISCUSSION,
    &[
        "created",
        "edited",
        "deleted",
        "transferred",
        "pinned",
        "unpinned",
        "labeled",
        "unlabeled",
        "locked",
        "unlocked",
        "category_changed",
        "answered",
        "unanswered",
    ]
);
types_event!(CREATED_EDITED_DELETED, &["created", "edited", "deleted"]);
types_event!(
    ISSUES,
    &[
        "opened",
        "edited",
        "deleted",
        "transferred",
        "pinned",
        "unpinned",
        "closed",
        "reopened",
        "assigned",
        "unassigned",
        "labeled",
        "unlabeled",
        "locked",
        "unlocked",
        "milestoned",
        "demilestoned",
        "field_added",
        "field_removed",
        "typed",
        "untyped",
    ]
);
types_event!(MILESTONE, &["created", "closed", "opened", "edited", "deleted"]);
types_event!(PROJECT, &["created", "closed", "reopened", "edited", "deleted"]);
types_event!(PROJECT_CARD, &["created", "moved", "converted", "edited", "deleted"]);
types_event!(PROJECT_COLUMN, &["created", "updated", "moved", "deleted"]);
types_event!(PULL_REQUEST_REVIEW, &["submitted", "edited", "dismissed"]);
types_event!(REGISTRY_PACKAGE, &["published", "updated"]);
types_event!(
    RELEASE,
    &["published", "unpublished", "created", "edited", "deleted", "prereleased", "released"]
);
types_event!(WATCH, &["started"]);

const PR_TYPES: &[&str] = &[
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
    "opened",
    "edited",
    "closed",
    "reopened",
    "synchronize",
    "converted_to_draft",
    "locked",
    "unlocked",
    "enqueued",
    "dequeued",
    "milestoned",
    "demilestoned",
    "ready_for_review",
    "review_requested",
    "review_request_removed",
    "auto_merge_enabled",
    "auto_merge_disabled",
    "stacked",
];

/// `types:` from a list, or one of them.
macro_rules! types_of {
    ($values:expr) => {{
        static VALUES: Ty = Ty::Values($values);
        static SEQ: Ty = Ty::Seq(&VALUES);
        static TYPES: Ty = Ty::OneOf(&[&VALUES, &SEQ]);
        &TYPES
    }};
}

/// An event with a mapping configuration, or null.
macro_rules! mapping_event {
    ($name:ident, [$($prop:expr),* $(,)?]) => {
        static $name: Ty = {
            static MAP: Mapping = Mapping { props: &[$($prop),*], loose: None };
            static AS_MAP: Ty = Ty::Map(&MAP);
            Ty::OneOf(&[&NULL, &AS_MAP])
        };
    };
}

mapping_event!(
    PULL_REQUEST,
    [
        p("types", types_of!(PR_TYPES)),
        p("branches", &STR_OR_SEQ),
        p("branches-ignore", &STR_OR_SEQ),
        p("paths", &STR_OR_SEQ),
        p("paths-ignore", &STR_OR_SEQ),
    ]
);
mapping_event!(
    PUSH,
    [
        p("branches", &STR_OR_SEQ),
        p("branches-ignore", &STR_OR_SEQ),
        p("tags", &STR_OR_SEQ),
        p("tags-ignore", &STR_OR_SEQ),
        p("paths", &STR_OR_SEQ),
        p("paths-ignore", &STR_OR_SEQ),
    ]
);
mapping_event!(
    MERGE_GROUP,
    [
        p("types", types_of!(&["checks_requested"])),
        p("branches", &STR_OR_SEQ),
        p("branches-ignore", &STR_OR_SEQ),
    ]
);
mapping_event!(
    WORKFLOW_RUN,
    [
        p("types", types_of!(&["requested", "completed", "in_progress"])),
        p("workflows", &STR_OR_SEQ),
        p("branches", &STR_OR_SEQ),
        p("branches-ignore", &STR_OR_SEQ),
    ]
);
mapping_event!(
    IMAGE_VERSION,
    [
        p("types", types_of!(&["created", "ready", "deleted"])),
        p("names", &STR_OR_SEQ),
        p("versions", &STR_OR_SEQ),
    ]
);
mapping_event!(REPOSITORY_DISPATCH, [p("types", &SEQ_NON_EMPTY)]);

static CRON_MAP: Mapping =
    Mapping { props: &[req("cron", &NON_EMPTY), p("timezone", &NON_EMPTY)], loose: None };
static CRON: Ty = Ty::Map(&CRON_MAP);
static SCHEDULE: Ty = Ty::Seq(&CRON);

static CALL_INPUT_TYPE: Ty = Ty::Values(&["string", "boolean", "number"]);
static CALL_INPUT_DEFAULT: Ty = Ty::Ctx(W, &SCALAR);
static CALL_INPUT_MAP: Mapping = Mapping {
    props: &[
        p("description", &STRING),
        req("type", &CALL_INPUT_TYPE),
        p("required", &BOOL),
        p("default", &CALL_INPUT_DEFAULT),
    ],
    loose: None,
};
static CALL_INPUT: Ty = Ty::Map(&CALL_INPUT_MAP);
static CALL_INPUTS_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &CALL_INPUT)) };
static CALL_SECRET_MAP: Mapping =
    Mapping { props: &[p("description", &STRING), p("required", &BOOL)], loose: None };
static CALL_SECRET_AS_MAP: Ty = Ty::Map(&CALL_SECRET_MAP);
static CALL_SECRET: Ty = Ty::OneOf(&[&NULL, &CALL_SECRET_AS_MAP]);
static CALL_SECRETS_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &CALL_SECRET)) };
static CALL_OUTPUT_VALUE: Ty = Ty::Ctx(W_JOBS, &STRING);
static CALL_OUTPUT_MAP: Mapping =
    Mapping { props: &[p("description", &STRING), req("value", &CALL_OUTPUT_VALUE)], loose: None };
static CALL_OUTPUT: Ty = Ty::Map(&CALL_OUTPUT_MAP);
static CALL_OUTPUTS_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &CALL_OUTPUT)) };
mapping_event!(
    WORKFLOW_CALL,
    [
        p("inputs", &Ty::Map(&CALL_INPUTS_MAP)),
        p("secrets", &Ty::Map(&CALL_SECRETS_MAP)),
        p("outputs", &Ty::Map(&CALL_OUTPUTS_MAP)),
    ]
);

pub const DISPATCH_INPUT_TYPES: &[&str] = &["string", "boolean", "number", "environment", "choice"];
static DISPATCH_INPUT_TYPE: Ty = Ty::Values(DISPATCH_INPUT_TYPES);
static DISPATCH_INPUT_MAP: Mapping = Mapping {
    props: &[
        p("description", &STRING),
        p("type", &DISPATCH_INPUT_TYPE),
        p("required", &BOOL),
        p("default", &SCALAR),
        p("options", &SEQ_STRING),
    ],
    loose: None,
};
static DISPATCH_INPUT_AS_MAP: Ty = Ty::Map(&DISPATCH_INPUT_MAP);
// GitHub accepts `input: ` with nothing under it (a string input).
static DISPATCH_INPUT: Ty = Ty::OneOf(&[&NULL, &DISPATCH_INPUT_AS_MAP]);
static DISPATCH_INPUTS_MAP: Mapping =
    Mapping { props: &[], loose: Some((&NON_EMPTY, &DISPATCH_INPUT)) };
static DISPATCH_INPUTS_AS_MAP: Ty = Ty::Map(&DISPATCH_INPUTS_MAP);
static DISPATCH_INPUTS: Ty = Ty::OneOf(&[&NULL, &DISPATCH_INPUTS_AS_MAP]);
mapping_event!(WORKFLOW_DISPATCH, [p("inputs", &DISPATCH_INPUTS)]);

static ON_MAP: Mapping = Mapping {
    props: &[
        p("branch_protection_rule", &BRANCH_PROTECTION_RULE),
        p("check_run", &CHECK_RUN),
        p("check_suite", &CHECK_SUITE),
        p("create", &NULL),
        p("delete", &NULL),
        p("deployment", &NULL),
        p("deployment_status", &NULL),
        p("discussion", &DISCUSSION),
        p("discussion_comment", &CREATED_EDITED_DELETED),
        p("fork", &NULL),
        p("gollum", &NULL),
        p("image_version", &IMAGE_VERSION),
        p("issue_comment", &CREATED_EDITED_DELETED),
        p("issues", &ISSUES),
        p("label", &CREATED_EDITED_DELETED),
        p("merge_group", &MERGE_GROUP),
        p("milestone", &MILESTONE),
        p("page_build", &NULL),
        p("project", &PROJECT),
        p("project_card", &PROJECT_CARD),
        p("project_column", &PROJECT_COLUMN),
        p("public", &NULL),
        p("pull_request", &PULL_REQUEST),
        p("pull_request_comment", &CREATED_EDITED_DELETED),
        p("pull_request_review", &PULL_REQUEST_REVIEW),
        p("pull_request_review_comment", &CREATED_EDITED_DELETED),
        p("pull_request_target", &PULL_REQUEST),
        p("push", &PUSH),
        p("registry_package", &REGISTRY_PACKAGE),
        p("release", &RELEASE),
        p("repository_dispatch", &REPOSITORY_DISPATCH),
        p("schedule", &SCHEDULE),
        p("status", &NULL),
        p("watch", &WATCH),
        p("workflow_call", &WORKFLOW_CALL),
        p("workflow_dispatch", &WORKFLOW_DISPATCH),
        p("workflow_run", &WORKFLOW_RUN),
    ],
    loose: None,
};
static ON_AS_MAP: Ty = Ty::Map(&ON_MAP);
static ON: Ty = Ty::OneOf(&[&EVENT_NAME, &EVENT_NAMES, &ON_AS_MAP]);

const ANY_LEVEL: &[&str] = &["read", "write", "none"];
static LEVEL_ANY: Ty = Ty::Values(ANY_LEVEL);
static LEVEL_WRITE: Ty = Ty::Values(&["write", "none"]);
static LEVEL_READ: Ty = Ty::Values(&["read", "none"]);
static PERMISSIONS_MAP: Mapping = Mapping {
    props: &[
        p("actions", &LEVEL_ANY),
        p("artifact-metadata", &LEVEL_ANY),
        p("attestations", &LEVEL_ANY),
        p("checks", &LEVEL_ANY),
        p("code-quality", &LEVEL_ANY),
        p("contents", &LEVEL_ANY),
        p("copilot-requests", &LEVEL_WRITE),
        p("deployments", &LEVEL_ANY),
        p("discussions", &LEVEL_ANY),
        p("drives", &LEVEL_ANY),
        p("id-token", &LEVEL_WRITE),
        p("issues", &LEVEL_ANY),
        p("models", &LEVEL_READ),
        p("packages", &LEVEL_ANY),
        p("pages", &LEVEL_ANY),
        p("pull-requests", &LEVEL_ANY),
        p("repository-projects", &LEVEL_ANY),
        p("security-events", &LEVEL_ANY),
        p("statuses", &LEVEL_ANY),
        p("vulnerability-alerts", &LEVEL_READ),
    ],
    loose: None,
};
static PERMISSIONS_AS_MAP: Ty = Ty::Map(&PERMISSIONS_MAP);
static READ_ALL: Ty = Ty::Const("read-all");
static WRITE_ALL: Ty = Ty::Const("write-all");
static PERMISSIONS: Ty = Ty::OneOf(&[&PERMISSIONS_AS_MAP, &READ_ALL, &WRITE_ALL]);

static DEFAULTS_RUN_MAP: Mapping =
    Mapping { props: &[p("shell", &NON_EMPTY), p("working-directory", &NON_EMPTY)], loose: None };
static DEFAULTS_RUN: Ty = Ty::Map(&DEFAULTS_RUN_MAP);
static WF_DEFAULTS_MAP: Mapping = Mapping { props: &[p("run", &DEFAULTS_RUN)], loose: None };
static JOB_DEFAULTS_RUN: Ty = Ty::Ctx(M_ENV, &DEFAULTS_RUN);
static JOB_DEFAULTS_MAP: Mapping = Mapping { props: &[p("run", &JOB_DEFAULTS_RUN)], loose: None };

static QUEUE: Ty = Ty::Values(&["single", "max"]);
static CONCURRENCY_MAP: Mapping = Mapping {
    props: &[req("group", &NON_EMPTY), p("cancel-in-progress", &BOOL), p("queue", &QUEUE)],
    loose: None,
};
static CONCURRENCY_AS_MAP: Ty = Ty::Map(&CONCURRENCY_MAP);
static WF_CONCURRENCY: Ty = Ty::OneOf(&[&STRING, &CONCURRENCY_AS_MAP]);
static JOB_CONCURRENCY: Ty = Ty::OneOf(&[&NON_EMPTY, &CONCURRENCY_AS_MAP]);

static ENV_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &STRING)) };
static ENV: Ty = Ty::Map(&ENV_MAP);

static NEEDS: Ty = Ty::OneOf(&[&SEQ_NON_EMPTY, &NON_EMPTY]);
static MATRIX_ENTRY_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &ANY)) };
static MATRIX_ENTRY: Ty = Ty::Map(&MATRIX_ENTRY_MAP);
static MATRIX_ENTRIES: Ty = Ty::Seq(&MATRIX_ENTRY);
static MATRIX_MAP: Mapping = Mapping {
    props: &[p("include", &MATRIX_ENTRIES), p("exclude", &MATRIX_ENTRIES)],
    loose: Some((&NON_EMPTY, &SEQ_ANY)),
};
static MATRIX: Ty = Ty::Map(&MATRIX_MAP);
static STRATEGY_MAP: Mapping = Mapping {
    props: &[p("fail-fast", &BOOL), p("max-parallel", &NUMBER), p("matrix", &MATRIX)],
    loose: None,
};
static STRATEGY: Ty = Ty::Ctx(J, &Ty::Map(&STRATEGY_MAP));

static RUNS_ON_MAP: Mapping =
    Mapping { props: &[p("group", &NON_EMPTY), p("labels", &STR_OR_SEQ)], loose: None };
static RUNS_ON_AS_MAP: Ty = Ty::Map(&RUNS_ON_MAP);
static RUNS_ON: Ty = Ty::Ctx(M, &Ty::OneOf(&[&NON_EMPTY, &SEQ_NON_EMPTY, &RUNS_ON_AS_MAP]));

static ENVIRONMENT_URL: Ty = Ty::Ctx(R_NO_SECRETS, &STRING);
static ENVIRONMENT_MAP: Mapping = Mapping {
    props: &[req("name", &STRING), p("url", &ENVIRONMENT_URL), p("deployment", &BOOL)],
    loose: None,
};
static ENVIRONMENT_AS_MAP: Ty = Ty::Map(&ENVIRONMENT_MAP);
static ENVIRONMENT: Ty = Ty::Ctx(M, &Ty::OneOf(&[&STRING, &ENVIRONMENT_AS_MAP]));

static RUNNER_STRING: Ty = Ty::Ctx(R, &STRING);
static CONTAINER_ENV_MAP: Mapping =
    Mapping { props: &[], loose: Some((&NON_EMPTY, &RUNNER_STRING)) };
static CONTAINER_ENV: Ty = Ty::Map(&CONTAINER_ENV_MAP);
static CREDENTIALS_MAP: Mapping =
    Mapping { props: &[p("username", &NON_EMPTY), p("password", &NON_EMPTY)], loose: None };
static CREDENTIALS_TY: Ty = Ty::Ctx(CREDENTIALS, &Ty::Map(&CREDENTIALS_MAP));
static CONTAINER_MAP: Mapping = Mapping {
    props: &[
        p("image", &NON_EMPTY),
        p("options", &STRING),
        p("env", &CONTAINER_ENV),
        p("ports", &SEQ_NON_EMPTY),
        p("volumes", &SEQ_NON_EMPTY),
        p("credentials", &CREDENTIALS_TY),
    ],
    loose: None,
};
static CONTAINER_AS_MAP: Ty = Ty::Map(&CONTAINER_MAP);
static CONTAINER: Ty = Ty::Ctx(M, &Ty::OneOf(&[&STRING, &CONTAINER_AS_MAP]));
static SERVICE_MAP: Mapping = Mapping {
    props: &[
        p("image", &NON_EMPTY),
        p("options", &STRING),
        p("env", &CONTAINER_ENV),
        p("ports", &SEQ_NON_EMPTY),
        p("volumes", &SEQ_NON_EMPTY),
        p("credentials", &CREDENTIALS_TY),
        p("entrypoint", &STRING),
        p("command", &STRING),
    ],
    loose: None,
};
static SERVICE_AS_MAP: Ty = Ty::Map(&SERVICE_MAP);
static SERVICE: Ty = Ty::OneOf(&[&NON_EMPTY, &SERVICE_AS_MAP]);
static SERVICES_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &SERVICE)) };
static SERVICES: Ty = Ty::Ctx(M, &Ty::Map(&SERVICES_MAP));

static SNAPSHOT_IF: Ty = Ty::Ctx(M, &STRING);
static SNAPSHOT_MAP: Mapping = Mapping {
    props: &[req("image-name", &NON_EMPTY), p("if", &SNAPSHOT_IF), p("version", &NON_EMPTY)],
    loose: None,
};
static SNAPSHOT_AS_MAP: Ty = Ty::Map(&SNAPSHOT_MAP);
static SNAPSHOT: Ty = Ty::OneOf(&[&NON_EMPTY, &SNAPSHOT_AS_MAP]);

static OUTPUTS_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &RUNNER_STRING)) };
static OUTPUTS: Ty = Ty::Map(&OUTPUTS_MAP);

static STEP_STRING: Ty = Ty::Ctx(S, &STRING);
static STEP_NON_EMPTY: Ty = Ty::Ctx(S, &NON_EMPTY);
static STEP_NUMBER: Ty = Ty::Ctx(S, &NUMBER);
static STEP_BOOL: Ty = Ty::Ctx(S, &BOOL);
static STEP_IF_TY: Ty = Ty::Ctx(STEP_IF, &STRING);
static STEP_ENV: Ty = Ty::Ctx(S, &ENV);
static WITH_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &STRING)) };
static STEP_WITH: Ty = Ty::Ctx(S, &Ty::Map(&WITH_MAP));
static RUN_STEP_MAP: Mapping = Mapping {
    props: &[
        p("name", &STEP_STRING),
        p("id", &NON_EMPTY),
        p("if", &STEP_IF_TY),
        p("timeout-minutes", &STEP_NUMBER),
        req("run", &STEP_STRING),
        p("continue-on-error", &STEP_BOOL),
        p("env", &STEP_ENV),
        p("working-directory", &STEP_NON_EMPTY),
        p("shell", &NON_EMPTY),
    ],
    loose: None,
};
static USES_STEP_MAP: Mapping = Mapping {
    props: &[
        p("name", &STEP_STRING),
        p("id", &NON_EMPTY),
        p("if", &STEP_IF_TY),
        p("continue-on-error", &STEP_BOOL),
        p("timeout-minutes", &STEP_NUMBER),
        req("uses", &NON_EMPTY),
        p("with", &STEP_WITH),
        p("env", &STEP_ENV),
    ],
    loose: None,
};
static PARALLEL_STEP_MAP: Mapping = Mapping { props: &[req("parallel", &STEPS)], loose: None };
static STEP: Ty =
    Ty::OneOf(&[&Ty::Map(&RUN_STEP_MAP), &Ty::Map(&USES_STEP_MAP), &Ty::Map(&PARALLEL_STEP_MAP)]);
static STEPS: Ty = Ty::Seq(&STEP);

static JOB_IF_TY: Ty = Ty::Ctx(JOB_IF, &STRING);
static M_STRING: Ty = Ty::Ctx(M, &STRING);
static M_NUMBER: Ty = Ty::Ctx(M, &NUMBER);
static M_BOOL: Ty = Ty::Ctx(M, &BOOL);
static JOB_ENV: Ty = Ty::Ctx(M_SECRETS, &ENV);
static JOB_CONCURRENCY_CTX: Ty = Ty::Ctx(M, &JOB_CONCURRENCY);
static JOB_FACTORY: Mapping = Mapping {
    props: &[
        p("needs", &NEEDS),
        p("if", &JOB_IF_TY),
        p("strategy", &STRATEGY),
        p("name", &M_STRING),
        req("runs-on", &RUNS_ON),
        p("timeout-minutes", &M_NUMBER),
        p("cancel-timeout-minutes", &M_NUMBER),
        p("continue-on-error", &M_BOOL),
        p("container", &CONTAINER),
        p("services", &SERVICES),
        p("env", &JOB_ENV),
        p("environment", &ENVIRONMENT),
        p("permissions", &PERMISSIONS),
        p("concurrency", &JOB_CONCURRENCY_CTX),
        p("outputs", &OUTPUTS),
        p("defaults", &Ty::Map(&JOB_DEFAULTS_MAP)),
        p("steps", &STEPS),
        p("snapshot", &SNAPSHOT),
    ],
    loose: None,
};
static WITH_VALUE: Ty = Ty::Ctx(M, &SCALAR);
static JOB_WITH_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &WITH_VALUE)) };
static SECRET_VALUE: Ty = Ty::Ctx(M_SECRETS, &SCALAR);
static JOB_SECRETS_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &SECRET_VALUE)) };
static JOB_SECRETS_AS_MAP: Ty = Ty::Map(&JOB_SECRETS_MAP);
static INHERIT: Ty = Ty::Const("inherit");
static JOB_SECRETS: Ty = Ty::OneOf(&[&JOB_SECRETS_AS_MAP, &INHERIT]);
static WORKFLOW_JOB: Mapping = Mapping {
    props: &[
        p("name", &M_STRING),
        req("uses", &NON_EMPTY),
        p("with", &Ty::Map(&JOB_WITH_MAP)),
        p("secrets", &JOB_SECRETS),
        p("needs", &NEEDS),
        p("if", &JOB_IF_TY),
        p("permissions", &PERMISSIONS),
        p("concurrency", &JOB_CONCURRENCY_CTX),
        p("strategy", &STRATEGY),
    ],
    loose: None,
};
static JOB: Ty = Ty::OneOf(&[&Ty::Map(&JOB_FACTORY), &Ty::Map(&WORKFLOW_JOB)]);
static JOBS_MAP: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &JOB)) };

static WF_ENV: Ty = Ty::Ctx(W_SECRETS, &ENV);
static RUN_NAME: Ty = Ty::Ctx(W, &STRING);
static WF_CONCURRENCY_CTX: Ty = Ty::Ctx(W, &WF_CONCURRENCY);
static ROOT_MAP: Mapping = Mapping {
    props: &[
        req("on", &ON),
        p("name", &STRING),
        p("description", &STRING),
        p("run-name", &RUN_NAME),
        p("defaults", &Ty::Map(&WF_DEFAULTS_MAP)),
        p("env", &WF_ENV),
        p("permissions", &PERMISSIONS),
        p("concurrency", &WF_CONCURRENCY_CTX),
        req("jobs", &Ty::Map(&JOBS_MAP)),
    ],
    loose: None,
};

/// A workflow file.
pub static WORKFLOW: Ty = Ty::Map(&ROOT_MAP);

static ACTION_DEFAULT: Ty = Ty::Ctx(R_NO_SECRETS, &STRING);
static ACTION_INPUT_MAP: Mapping = Mapping {
    props: &[
        p("description", &STRING),
        p("required", &BOOL),
        p("default", &ACTION_DEFAULT),
        p("deprecationMessage", &STRING),
    ],
    loose: None,
};
static ACTION_INPUT_AS_MAP: Ty = Ty::Map(&ACTION_INPUT_MAP);
static ACTION_INPUT: Ty = Ty::OneOf(&[&NULL, &ACTION_INPUT_AS_MAP]);
static ACTION_INPUTS: Mapping = Mapping { props: &[], loose: Some((&NON_EMPTY, &ACTION_INPUT)) };
static ACTION_OUTPUT_VALUE: Ty = Ty::Ctx(S, &STRING);
static ACTION_OUTPUT_MAP: Mapping =
    Mapping { props: &[p("description", &STRING), p("value", &ACTION_OUTPUT_VALUE)], loose: None };
static ACTION_OUTPUTS: Mapping =
    Mapping { props: &[], loose: Some((&NON_EMPTY, &Ty::Map(&ACTION_OUTPUT_MAP))) };
static ACTION_RUNS: Mapping = Mapping {
    props: &[
        req("using", &NON_EMPTY),
        p("steps", &STEPS),
        p("main", &STRING),
        p("pre", &STRING),
        p("post", &STRING),
        p("pre-if", &STRING),
        p("post-if", &STRING),
        p("image", &STRING),
        p("args", &ANY),
        p("entrypoint", &STRING),
        p("pre-entrypoint", &STRING),
        p("post-entrypoint", &STRING),
        p("env", &ANY),
    ],
    loose: None,
};
static ACTION_ROOT: Mapping = Mapping {
    props: &[
        p("name", &STRING),
        p("description", &STRING),
        p("author", &STRING),
        p("inputs", &Ty::Map(&ACTION_INPUTS)),
        p("outputs", &Ty::Map(&ACTION_OUTPUTS)),
        req("runs", &Ty::Map(&ACTION_RUNS)),
        p("branding", &ANY),
    ],
    loose: None,
};

/// An action's metadata file (`action.yml`).
pub static ACTION: Ty = Ty::Map(&ACTION_ROOT);
