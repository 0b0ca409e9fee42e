//! Alertmanager's configuration file (`alertmanager.yml`) read with positions and
//! checked the way Alertmanager checks it: the routing tree, receivers and their
//! integrations, inhibition rules, time intervals and templates, with every problem
//! reported at once as `file:line:col: field: message`.
//!
//! Receiver types andon does not deliver (OpsGenie, Telegram, …) and the options of the
//! supported ones that it does not apply are accepted and reported as warnings.

use std::collections::{BTreeMap, BTreeSet};

use andon_spec::decode::{Ctx, Obj, field, index};
use andon_spec::diag::{Diagnostic, Pos};
use andon_spec::yaml::{self, Node, Value};

use crate::duration::parse_duration;
use crate::matcher::{MatchOp, Matcher, parse_matchers};
use crate::text::is_classic_label_name;
use crate::timeinterval::{
    Intervals, TimeInterval, parse_day_of_month_range, parse_month_range, parse_time_range,
    parse_weekday_range, parse_year_range,
};
use crate::tz::{Zone, ZoneLookup, resolve_zone};

/// Alertmanager's default `resolve_timeout` (5m).
pub const DEFAULT_RESOLVE_TIMEOUT_MS: i64 = 300_000;
/// Alertmanager's default PagerDuty Events API v2 endpoint.
pub const DEFAULT_PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A parsed, valid configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub global: Global,
    pub route: RouteConfig,
    pub receivers: Vec<Receiver>,
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// `time_intervals` and the older `mute_time_intervals`, by name.
    pub time_intervals: Intervals,
    /// Template file paths (globs) as written; the caller loads them.
    pub templates: Vec<String>,
    /// Accepted input andon does not act on (unsupported receiver types and options).
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

/// The `global` section (only what andon uses is kept; the rest is accepted).
#[derive(Clone, Debug, PartialEq)]
pub struct Global {
    pub resolve_timeout_ms: i64,
    pub smtp_from: String,
    pub smtp_hello: String,
    pub smtp_smarthost: String,
    pub smtp_auth_username: String,
    pub smtp_auth_password: String,
    pub smtp_auth_password_file: String,
    pub smtp_auth_identity: String,
    pub smtp_auth_secret: String,
    pub smtp_require_tls: bool,
    /// `smtp_tls_config` as written (applied by the SMTP client).
    pub smtp_tls_config: Option<serde_json::Value>,
    pub smtp_force_implicit_tls: Option<bool>,
    pub slack_api_url: Option<String>,
    pub slack_api_url_file: Option<String>,
    pub pagerduty_url: String,
    /// The HTTP client settings as written (not applied by this crate).
    pub http_config: Option<serde_json::Value>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            resolve_timeout_ms: DEFAULT_RESOLVE_TIMEOUT_MS,
            smtp_from: String::new(),
            smtp_hello: "localhost".into(),
            smtp_smarthost: String::new(),
            smtp_auth_username: String::new(),
            smtp_auth_password: String::new(),
            smtp_auth_password_file: String::new(),
            smtp_auth_identity: String::new(),
            smtp_auth_secret: String::new(),
            smtp_require_tls: true,
            smtp_tls_config: None,
            smtp_force_implicit_tls: None,
            slack_api_url: None,
            slack_api_url_file: None,
            pagerduty_url: DEFAULT_PAGERDUTY_URL.into(),
            http_config: None,
        }
    }
}

/// One node of the routing tree as written (inheritance is applied by [`crate::route`]).
#[derive(Clone, Debug)]
pub struct RouteConfig {
    pub receiver: Option<String>,
    /// `group_by` as written without `...`; `None` when absent (inherit).
    pub group_by: Option<Vec<String>>,
    /// `group_by: ['...']`: group by every label.
    pub group_by_all: bool,
    /// `match`, `match_re` and `matchers` together, sorted as Alertmanager sorts them.
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    pub group_wait_ms: Option<i64>,
    pub group_interval_ms: Option<i64>,
    pub repeat_interval_ms: Option<i64>,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<RouteConfig>,
    pub pos: Pos,
}

impl Default for RouteConfig {
    fn default() -> Self {
        RouteConfig {
            receiver: None,
            group_by: None,
            group_by_all: false,
            matchers: Vec::new(),
            continue_matching: false,
            group_wait_ms: None,
            group_interval_ms: None,
            repeat_interval_ms: None,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            routes: Vec::new(),
            pos: Pos::new(1, 1),
        }
    }
}

/// A receiver: a name and the integrations it notifies.
#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    pub name: String,
    pub integrations: Vec<Integration>,
    /// Receiver types present in the file that andon does not deliver (`opsgenie_configs`…).
    pub unsupported: Vec<String>,
    pub pos: Pos,
}

/// The integration types andon delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IntegrationKind {
    Webhook,
    Slack,
    Email,
    PagerDuty,
}

impl IntegrationKind {
    /// Alertmanager's integration name (`webhook`, `slack`, `email`, `pagerduty`).
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Webhook => "webhook",
            IntegrationKind::Slack => "slack",
            IntegrationKind::Email => "email",
            IntegrationKind::PagerDuty => "pagerduty",
        }
    }
}

/// One integration of a receiver: its kind and position among the receiver's
/// integrations of that kind (`webhook_configs[1]` is `(Webhook, 1)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Integration {
    pub kind: IntegrationKind,
    pub index: usize,
    pub send_resolved: bool,
    pub settings: Settings,
}

/// An integration's own settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Settings {
    Webhook(WebhookConfig),
    Slack(SlackConfig),
    Email(EmailConfig),
    PagerDuty(PagerDutyConfig),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookConfig {
    pub url: Option<String>,
    /// A file holding the URL (read by the caller).
    pub url_file: Option<String>,
    /// The most alerts one message carries; 0 is no limit.
    pub max_alerts: u64,
    pub timeout_ms: Option<i64>,
    pub http_config: Option<serde_json::Value>,
}

/// Slack incoming-webhook settings. Text fields are templates; `None` means andon's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlackConfig {
    /// The webhook URL (falls back to `global.slack_api_url`).
    pub api_url: Option<String>,
    pub api_url_file: Option<String>,
    pub channel: Option<String>,
    pub username: Option<String>,
    pub title: Option<String>,
    pub title_link: Option<String>,
    pub text: Option<String>,
    pub pretext: Option<String>,
    pub fallback: Option<String>,
    pub footer: Option<String>,
    pub color: Option<String>,
    pub icon_emoji: Option<String>,
    pub icon_url: Option<String>,
    pub link_names: bool,
    pub http_config: Option<serde_json::Value>,
}

/// E-mail settings, with the `global.smtp_*` values already filled in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmailConfig {
    pub to: String,
    pub from: String,
    pub smarthost: String,
    pub hello: String,
    pub auth_username: String,
    pub auth_password: String,
    pub auth_password_file: String,
    pub auth_identity: String,
    pub auth_secret: String,
    pub require_tls: bool,
    /// `tls_config` (or `global.smtp_tls_config`) as written.
    pub tls_config: Option<serde_json::Value>,
    /// Implicit TLS; `None`: only on port 465.
    pub force_implicit_tls: Option<bool>,
    /// Extra or overriding headers, names in canonical form (`X-Team`), values templates.
    pub headers: BTreeMap<String, String>,
    /// The HTML body template; `None` is andon's default, `""` sends no HTML part.
    pub html: Option<String>,
    /// The plain-text body template; `None` is andon's default, `""` sends no text part.
    pub text: Option<String>,
}

/// PagerDuty Events API v2 settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PagerDutyConfig {
    pub routing_key: Option<String>,
    pub routing_key_file: Option<String>,
    /// The Events API v1 key (accepted; andon sends v2 events with it as routing key).
    pub service_key: Option<String>,
    pub service_key_file: Option<String>,
    /// The endpoint (falls back to `global.pagerduty_url`).
    pub url: String,
    pub client: Option<String>,
    pub client_url: Option<String>,
    /// The summary template; `None` is andon's default.
    pub description: Option<String>,
    /// `payload.severity` template; `None` is `error`.
    pub severity: Option<String>,
    pub source: Option<String>,
    pub class: Option<String>,
    pub component: Option<String>,
    pub group: Option<String>,
    /// `custom_details` templates added to andon's defaults.
    pub details: BTreeMap<String, String>,
    pub timeout_ms: Option<i64>,
    pub http_config: Option<serde_json::Value>,
}

/// An inhibition rule as written (`*_match` and `*_match_re` folded into matchers).
#[derive(Clone, Debug)]
pub struct InhibitRuleConfig {
    pub name: Option<String>,
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    pub equal: Vec<String>,
    pub pos: Pos,
}

/// Reads a configuration file. Only the first YAML document is read.
pub fn parse(bytes: &[u8], file: &str, zones: &dyn ZoneLookup) -> Result<Config, Vec<Diagnostic>> {
    let with_file = |ds: Vec<Diagnostic>| ds.into_iter().map(|d| d.with_file(file)).collect();
    let docs = yaml::parse(bytes).map_err(|d| with_file(vec![d]))?;
    let empty = Node { value: Value::Null, pos: Pos::new(1, 1) };
    let root = docs.first().map_or(&empty, |d| &d.root);
    from_node(root, zones).map_err(with_file).map(|mut c| {
        c.warnings = with_file(std::mem::take(&mut c.warnings));
        c
    })
}

/// Reads a configuration from an already parsed YAML document.
pub fn from_node(root: &Node, zones: &dyn ZoneLookup) -> Result<Config, Vec<Diagnostic>> {
    let mut r = Reader { ctx: Ctx::default(), warnings: Vec::new(), zones };
    let cfg = r.root(root);
    match cfg {
        Some(mut c) if r.ctx.diags.is_empty() => {
            c.warnings = r.warnings;
            Ok(c)
        }
        _ => {
            let mut diags = r.ctx.diags;
            diags.sort_by_key(|d| (d.line, d.column));
            Err(diags)
        }
    }
}

const TOP: &[&str] = &[
    "global",
    "route",
    "receivers",
    "inhibit_rules",
    "templates",
    "time_intervals",
    "mute_time_intervals",
];
const TOP_IGNORED: &[&str] = &["tracing"];

const GLOBAL: &[&str] = &[
    "resolve_timeout",
    "http_config",
    "smtp_from",
    "smtp_hello",
    "smtp_smarthost",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_password_file",
    "smtp_auth_secret",
    "smtp_auth_identity",
    "smtp_require_tls",
    "smtp_tls_config",
    "smtp_force_implicit_tls",
    "slack_api_url",
    "slack_api_url_file",
    "pagerduty_url",
];
/// Global settings of integrations andon does not deliver: accepted silently.
const GLOBAL_OTHER: &[&str] = &[
    "smtp_auth_secret_file",
    "slack_app_token",
    "slack_app_token_file",
    "slack_app_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_secret_file",
    "wechat_api_corp_id",
    "victorops_api_url",
    "victorops_api_key",
    "victorops_api_key_file",
    "telegram_api_url",
    "telegram_bot_token",
    "telegram_bot_token_file",
    "webex_api_url",
    "jira_api_url",
    "rocketchat_api_url",
    "rocketchat_token",
    "rocketchat_token_file",
    "rocketchat_token_id",
    "rocketchat_token_id_file",
    "mattermost_webhook_url",
    "mattermost_webhook_url_file",
];

const ROUTE: &[&str] = &[
    "receiver",
    "group_by",
    "match",
    "match_re",
    "matchers",
    "mute_time_intervals",
    "active_time_intervals",
    "continue",
    "routes",
    "group_wait",
    "group_interval",
    "repeat_interval",
];
const ROUTE_IGNORED: &[&str] = &["labels"];

const RECEIVER: &[&str] =
    &["name", "webhook_configs", "slack_configs", "email_configs", "pagerduty_configs"];
const RECEIVER_UNSUPPORTED: &[&str] = &[
    "discord_configs",
    "incidentio_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "msteams_configs",
    "msteamsv2_configs",
    "jira_configs",
    "rocketchat_configs",
    "mattermost_configs",
];
const RECEIVER_IGNORED: &[&str] = &["labels"];

const WEBHOOK: &[&str] =
    &["send_resolved", "http_config", "url", "url_file", "max_alerts", "timeout"];
const WEBHOOK_IGNORED: &[&str] = &["payload"];
const SLACK: &[&str] = &[
    "send_resolved",
    "http_config",
    "api_url",
    "api_url_file",
    "channel",
    "username",
    "color",
    "title",
    "title_link",
    "pretext",
    "text",
    "footer",
    "fallback",
    "icon_emoji",
    "icon_url",
    "link_names",
];
const SLACK_IGNORED: &[&str] = &[
    "app_token",
    "app_token_file",
    "app_url",
    "message_text",
    "fields",
    "short_fields",
    "callback_id",
    "image_url",
    "thumb_url",
    "mrkdwn_in",
    "actions",
    "update_message",
    "timeout",
];
const EMAIL: &[&str] = &[
    "send_resolved",
    "to",
    "from",
    "hello",
    "smarthost",
    "auth_username",
    "auth_password",
    "auth_password_file",
    "auth_secret",
    "auth_identity",
    "headers",
    "html",
    "text",
    "require_tls",
    "tls_config",
    "force_implicit_tls",
];
const TLS: &[&str] = &[
    "ca_file",
    "cert_file",
    "key_file",
    "server_name",
    "insecure_skip_verify",
    "min_version",
    "max_version",
];
/// Inline PEM and secret references: accepted, not used.
const TLS_IGNORED: &[&str] = &["ca", "cert", "key", "ca_ref", "cert_ref", "key_ref"];
const EMAIL_IGNORED: &[&str] = &["auth_secret_file", "threading"];
const PAGERDUTY: &[&str] = &[
    "send_resolved",
    "http_config",
    "service_key",
    "service_key_file",
    "routing_key",
    "routing_key_file",
    "url",
    "client",
    "client_url",
    "description",
    "details",
    "source",
    "severity",
    "class",
    "component",
    "group",
    "timeout",
];
const PAGERDUTY_IGNORED: &[&str] = &["images", "links"];

const INHIBIT: &[&str] = &[
    "name",
    "source_match",
    "source_match_re",
    "source_matchers",
    "target_match",
    "target_match_re",
    "target_matchers",
    "equal",
];
const TI_ENTRY: &[&str] = &["name", "time_intervals"];
const TI: &[&str] = &["times", "weekdays", "days_of_month", "months", "years", "location"];

struct Reader<'z> {
    ctx: Ctx,
    warnings: Vec<Diagnostic>,
    zones: &'z dyn ZoneLookup,
}

/// Cross-references gathered before the routing tree is read.
struct Names {
    receivers: BTreeSet<String>,
    intervals: BTreeSet<String>,
}

impl Reader<'_> {
    fn err(&mut self, pos: Pos, path: impl Into<String>, msg: impl Into<String>) {
        self.ctx.error(pos, path, msg);
    }

    fn warn(&mut self, pos: Pos, path: impl Into<String>, msg: impl Into<String>) {
        self.warnings.push(Diagnostic::at(pos, path, msg));
    }

    /// A mapping with `known` fields, plus `ignored` ones that are accepted with a warning.
    fn obj<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&str],
        ignored: &[&str],
    ) -> Option<Obj<'n>> {
        let all: Vec<&str> = known.iter().chain(ignored).copied().collect();
        let o = self.ctx.object(node, path, &all)?;
        for name in ignored {
            if let Some(p) = o.key_pos(name) {
                self.warn(p, field(path, name), "not supported by andon; ignored");
            }
        }
        Some(o)
    }

    /// A scalar read as text (YAML numbers and booleans become their text, as in Go).
    fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a string, found {}", node.value.type_name()),
                );
                None
            }
        }
    }

    fn opt_text(&mut self, o: &Obj<'_>, name: &str) -> Option<String> {
        let n = o.opt(name)?;
        self.text(n, &o.path_of(name))
    }

    /// Checks a `tls_config` block: key names, types, versions.
    fn check_tls(&mut self, node: &Node, path: &str) {
        let Some(t) = self.obj(node, path, TLS, TLS_IGNORED) else { return };
        for k in ["ca_file", "cert_file", "key_file", "server_name"] {
            let _ = self.opt_text(&t, k);
        }
        let _ = self.opt_bool(&t, "insecure_skip_verify");
        for k in ["min_version", "max_version"] {
            if let Some(n) = t.opt(k)
                && let Some(v) = self.text(n, &t.path_of(k))
                && !matches!(v.as_str(), "TLS10" | "TLS11" | "TLS12" | "TLS13")
            {
                let m = format!("unknown TLS version {v:?} (TLS10, TLS11, TLS12 or TLS13)");
                self.err(n.pos, t.path_of(k), m);
            }
        }
        if t.opt("cert_file").is_some() != t.opt("key_file").is_some() {
            self.err(node.pos, path, "cert_file and key_file must be given together");
        }
    }

    /// A `tls_config` block, checked and kept as written.
    fn tls_config(&mut self, o: &Obj<'_>, name: &str) -> Option<serde_json::Value> {
        let node = o.opt(name)?;
        self.check_tls(node, &o.path_of(name));
        Some(node.to_json())
    }

    /// An `http_config` block: its `tls_config` checked, the rest kept as written.
    fn http_config(&mut self, o: &Obj<'_>) -> Option<serde_json::Value> {
        let node = o.opt("http_config")?;
        if let Value::Map(entries) = &node.value
            && let Some((_, t)) = entries.iter().find(|(k, _)| k.key_text() == "tls_config")
        {
            self.check_tls(t, &field(&o.path_of("http_config"), "tls_config"));
        }
        Some(node.to_json())
    }

    fn opt_bool(&mut self, o: &Obj<'_>, name: &str) -> Option<bool> {
        let n = o.opt(name)?;
        self.ctx.bool(n, &o.path_of(name))
    }

    fn texts(&mut self, node: &Node, path: &str) -> Option<Vec<(String, Pos)>> {
        let items = self.ctx.list(node, path)?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.text(item, &index(path, i)) {
                out.push((s, item.pos));
            }
        }
        Some(out)
    }

    fn text_map(&mut self, node: &Node, path: &str) -> Option<Vec<(String, String, Pos)>> {
        let Value::Map(entries) = &node.value else {
            self.err(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.value.type_name()),
            );
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let key = k.key_text().into_owned();
            if let Some(val) = self.text(v, &field(path, &key)) {
                out.push((key, val, k.pos));
            }
        }
        Some(out)
    }

    fn duration(&mut self, o: &Obj<'_>, name: &str) -> Option<i64> {
        let n = o.opt(name)?;
        let path = o.path_of(name);
        let s = self.text(n, &path)?;
        match parse_duration(&s) {
            Ok(ms) => Some(ms),
            Err(e) => {
                self.err(n.pos, path, e);
                None
            }
        }
    }

    fn url(&mut self, o: &Obj<'_>, name: &str) -> Option<String> {
        let n = o.opt(name)?;
        let path = o.path_of(name);
        let s = self.text(n, &path)?;
        if let Err(e) = check_url(&s) {
            self.err(n.pos, path, e);
            return None;
        }
        Some(s)
    }

    fn root(&mut self, root: &Node) -> Option<Config> {
        if root.value == Value::Null {
            self.err(root.pos, "", "no route provided in config");
            return None;
        }
        let o = self.obj(root, "", TOP, TOP_IGNORED)?;
        let global = match o.opt("global") {
            Some(n) => self.global(n),
            None => Global::default(),
        };
        let mut time_intervals = Intervals::new();
        for list in ["mute_time_intervals", "time_intervals"] {
            if let Some(n) = o.opt(list) {
                self.intervals(n, list, &mut time_intervals);
            }
        }
        let mut receivers = Vec::new();
        if let Some(n) = o.opt("receivers")
            && let Some(items) = self.ctx.list(n, "receivers")
        {
            let mut seen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let path = index("receivers", i);
                if let Some(rcv) = self.receiver(item, &path, &global) {
                    if !rcv.name.is_empty() && !seen.insert(rcv.name.clone()) {
                        self.err(
                            item.pos,
                            field(&path, "name"),
                            format!("notification config name {:?} is not unique", rcv.name),
                        );
                    }
                    receivers.push(rcv);
                }
            }
        }
        let names = Names {
            receivers: receivers.iter().map(|r| r.name.clone()).collect(),
            intervals: time_intervals.keys().cloned().collect(),
        };
        let route = match o.opt("route") {
            Some(n) => self.route(n, "route", &names, true),
            None => {
                self.err(root.pos, "route", "no route provided in config");
                None
            }
        };
        let mut inhibit_rules = Vec::new();
        if let Some(n) = o.opt("inhibit_rules")
            && let Some(items) = self.ctx.list(n, "inhibit_rules")
        {
            for (i, item) in items.iter().enumerate() {
                if let Some(r) = self.inhibit_rule(item, &index("inhibit_rules", i)) {
                    inhibit_rules.push(r);
                }
            }
        }
        let templates = match o.opt("templates") {
            Some(n) => self.texts(n, "templates").unwrap_or_default(),
            None => Vec::new(),
        };
        Some(Config {
            global,
            route: route?,
            receivers,
            inhibit_rules,
            time_intervals,
            templates: templates.into_iter().map(|(s, _)| s).collect(),
            warnings: Vec::new(),
        })
    }

    fn global(&mut self, node: &Node) -> Global {
        let mut g = Global::default();
        // Settings of integrations andon does not deliver are accepted without a warning.
        let all: Vec<&str> = GLOBAL.iter().chain(GLOBAL_OTHER).copied().collect();
        let Some(o) = self.ctx.object(node, "global", &all) else { return g };
        if let Some(d) = self.duration(&o, "resolve_timeout") {
            g.resolve_timeout_ms = d;
        }
        g.http_config = self.http_config(&o);
        let set = |r: &mut Self, name: &str, slot: &mut String| {
            if let Some(v) = r.opt_text(&o, name) {
                *slot = v;
            }
        };
        set(self, "smtp_from", &mut g.smtp_from);
        set(self, "smtp_hello", &mut g.smtp_hello);
        set(self, "smtp_auth_username", &mut g.smtp_auth_username);
        set(self, "smtp_auth_password", &mut g.smtp_auth_password);
        set(self, "smtp_auth_password_file", &mut g.smtp_auth_password_file);
        set(self, "smtp_auth_identity", &mut g.smtp_auth_identity);
        set(self, "smtp_auth_secret", &mut g.smtp_auth_secret);
        if let Some(n) = o.opt("smtp_smarthost")
            && let Some(s) = self.text(n, "global.smtp_smarthost")
        {
            if let Err(e) = check_host_port(&s) {
                self.err(n.pos, "global.smtp_smarthost", e);
            }
            g.smtp_smarthost = s;
        }
        if let Some(b) = self.opt_bool(&o, "smtp_require_tls") {
            g.smtp_require_tls = b;
        }
        g.smtp_tls_config = self.tls_config(&o, "smtp_tls_config");
        g.smtp_force_implicit_tls = self.opt_bool(&o, "smtp_force_implicit_tls");
        g.slack_api_url = self.url(&o, "slack_api_url");
        g.slack_api_url_file = self.opt_text(&o, "slack_api_url_file");
        if g.slack_api_url.is_some() && g.slack_api_url_file.is_some() {
            self.err(
                node.pos,
                "global",
                "at most one of slack_api_url & slack_api_url_file must be configured",
            );
        }
        if !g.smtp_auth_password.is_empty() && !g.smtp_auth_password_file.is_empty() {
            self.err(
                node.pos,
                "global",
                "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
            );
        }
        if let Some(u) = self.url(&o, "pagerduty_url") {
            g.pagerduty_url = u;
        }
        g
    }

    fn intervals(&mut self, node: &Node, list: &str, out: &mut Intervals) {
        let Some(items) = self.ctx.list(node, list) else { return };
        let what =
            if list == "mute_time_intervals" { "mute time interval" } else { "time interval" };
        for (i, item) in items.iter().enumerate() {
            let path = index(list, i);
            let Some(o) = self.obj(item, &path, TI_ENTRY, &[]) else { continue };
            let name = self.opt_text(&o, "name").unwrap_or_default();
            if name.is_empty() {
                self.err(item.pos, field(&path, "name"), format!("missing name in {what}"));
            }
            let mut tis = Vec::new();
            if let Some(n) = o.opt("time_intervals")
                && let Some(entries) = self.ctx.list(n, &field(&path, "time_intervals"))
            {
                for (j, e) in entries.iter().enumerate() {
                    let p = index(&field(&path, "time_intervals"), j);
                    if let Some(ti) = self.time_interval(e, &p) {
                        tis.push(ti);
                    }
                }
            }
            if name.is_empty() {
                continue;
            }
            if out.contains_key(&name) {
                self.err(item.pos, field(&path, "name"), format!("{what} {name:?} is not unique"));
                continue;
            }
            out.insert(name, tis);
        }
    }

    fn time_interval(&mut self, node: &Node, path: &str) -> Option<TimeInterval> {
        let o = self.obj(node, path, TI, &[])?;
        let mut ti = TimeInterval::default();
        if let Some(n) = o.opt("times")
            && let Some(items) = self.ctx.list(n, &o.path_of("times"))
        {
            let mut v = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let p = index(&o.path_of("times"), i);
                let Some(t) = self.obj(item, &p, &["start_time", "end_time"], &[]) else {
                    continue;
                };
                let s = self.opt_text(&t, "start_time").unwrap_or_default();
                let e = self.opt_text(&t, "end_time").unwrap_or_default();
                match parse_time_range(&s, &e) {
                    Ok(r) => v.push(r),
                    Err(msg) => self.err(item.pos, p, msg),
                }
            }
            ti.times = Some(v);
        }
        ti.weekdays = self.ranges(&o, "weekdays", parse_weekday_range);
        ti.days_of_month = self.ranges(&o, "days_of_month", parse_day_of_month_range);
        ti.months = self.ranges(&o, "months", parse_month_range);
        ti.years = self.ranges(&o, "years", parse_year_range);
        if let Some(n) = o.opt("location")
            && let Some(name) = self.text(n, &o.path_of("location"))
        {
            match self.location(&name) {
                Some(z) => ti.location = Some(z),
                None => self.err(n.pos, o.path_of("location"), format!("unknown time zone {name}")),
            }
        }
        Some(ti)
    }

    fn location(&self, name: &str) -> Option<std::sync::Arc<Zone>> {
        if name == "Local" {
            return Some(
                self.zones
                    .zone("Local")
                    .unwrap_or_else(|| std::sync::Arc::new(Zone::fixed("Local", 0, "UTC"))),
            );
        }
        resolve_zone(name, self.zones)
    }

    fn ranges<T>(
        &mut self,
        o: &Obj<'_>,
        name: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let n = o.opt(name)?;
        let path = o.path_of(name);
        let items = self.texts(n, &path)?;
        let mut out = Vec::new();
        for (s, pos) in items {
            match parse(&s) {
                Ok(r) => out.push(r),
                Err(e) => self.err(pos, path.clone(), e),
            }
        }
        Some(out)
    }

    fn receiver(&mut self, node: &Node, path: &str, g: &Global) -> Option<Receiver> {
        let all_ignored: Vec<&str> =
            RECEIVER_UNSUPPORTED.iter().chain(RECEIVER_IGNORED).copied().collect();
        let all: Vec<&str> = RECEIVER.iter().chain(&all_ignored).copied().collect();
        let o = self.ctx.object(node, path, &all)?;
        let name = self.opt_text(&o, "name").unwrap_or_default();
        if name.is_empty() {
            self.err(node.pos, field(path, "name"), "missing name in receiver");
        }
        let mut unsupported = Vec::new();
        for t in RECEIVER_UNSUPPORTED {
            if let Some(p) = o.key_pos(t) {
                unsupported.push((*t).to_owned());
                self.warn(
                    p,
                    field(path, t),
                    format!(
                        "{} receivers are not supported by andon; receiver {name:?} will not notify through them",
                        t.trim_end_matches("_configs")
                    ),
                );
            }
        }
        if let Some(p) = o.key_pos("labels") {
            self.warn(p, field(path, "labels"), "not supported by andon; ignored");
        }
        let mut integrations = Vec::new();
        let kinds = [
            ("webhook_configs", IntegrationKind::Webhook),
            ("slack_configs", IntegrationKind::Slack),
            ("email_configs", IntegrationKind::Email),
            ("pagerduty_configs", IntegrationKind::PagerDuty),
        ];
        for (key, kind) in kinds {
            let Some(n) = o.opt(key) else { continue };
            let lpath = field(path, key);
            let Some(items) = self.ctx.list(n, &lpath) else { continue };
            for (i, item) in items.iter().enumerate() {
                let p = index(&lpath, i);
                if let Some(int) = self.integration(item, &p, kind, i, g) {
                    integrations.push(int);
                }
            }
        }
        Some(Receiver { name, integrations, unsupported, pos: node.pos })
    }

    fn integration(
        &mut self,
        node: &Node,
        path: &str,
        kind: IntegrationKind,
        idx: usize,
        g: &Global,
    ) -> Option<Integration> {
        let (known, ignored, default_resolved) = match kind {
            IntegrationKind::Webhook => (WEBHOOK, WEBHOOK_IGNORED, true),
            IntegrationKind::Slack => (SLACK, SLACK_IGNORED, false),
            IntegrationKind::Email => (EMAIL, EMAIL_IGNORED, false),
            IntegrationKind::PagerDuty => (PAGERDUTY, PAGERDUTY_IGNORED, true),
        };
        let o = self.obj(node, path, known, ignored)?;
        let send_resolved = self.opt_bool(&o, "send_resolved").unwrap_or(default_resolved);
        let settings = match kind {
            IntegrationKind::Webhook => Settings::Webhook(self.webhook(&o, node)),
            IntegrationKind::Slack => Settings::Slack(self.slack(&o, node, g)),
            IntegrationKind::Email => Settings::Email(self.email(&o, node, g)),
            IntegrationKind::PagerDuty => Settings::PagerDuty(self.pagerduty(&o, node, g)),
        };
        Some(Integration { kind, index: idx, send_resolved, settings })
    }

    fn webhook(&mut self, o: &Obj<'_>, node: &Node) -> WebhookConfig {
        let url = match o.opt("url") {
            Some(n) => {
                let s = self.text(n, &o.path_of("url"));
                if let Some(u) = &s
                    && !u.contains("{{")
                    && let Err(e) = check_url(u)
                {
                    self.err(n.pos, o.path_of("url"), e);
                }
                s
            }
            None => None,
        };
        let url_file = self.opt_text(o, "url_file");
        match (&url, &url_file) {
            (None, None) => {
                self.err(node.pos, o.path.clone(), "one of url or url_file must be configured")
            }
            (Some(_), Some(_)) => self.err(
                node.pos,
                o.path.clone(),
                "at most one of url & url_file must be configured",
            ),
            _ => {}
        }
        let max_alerts = match o.opt("max_alerts") {
            Some(n) => self.ctx.int_min(n, &o.path_of("max_alerts"), 0).unwrap_or(0) as u64,
            None => 0,
        };
        WebhookConfig {
            url,
            url_file,
            max_alerts,
            timeout_ms: self.duration(o, "timeout"),
            http_config: self.http_config(o),
        }
    }

    fn slack(&mut self, o: &Obj<'_>, node: &Node, g: &Global) -> SlackConfig {
        let mut c = SlackConfig {
            api_url: self.url(o, "api_url"),
            api_url_file: self.opt_text(o, "api_url_file"),
            channel: self.opt_text(o, "channel"),
            username: self.opt_text(o, "username"),
            title: self.opt_text(o, "title"),
            title_link: self.opt_text(o, "title_link"),
            text: self.opt_text(o, "text"),
            pretext: self.opt_text(o, "pretext"),
            fallback: self.opt_text(o, "fallback"),
            footer: self.opt_text(o, "footer"),
            color: self.opt_text(o, "color"),
            icon_emoji: self.opt_text(o, "icon_emoji"),
            icon_url: self.opt_text(o, "icon_url"),
            link_names: self.opt_bool(o, "link_names").unwrap_or(false),
            http_config: self.http_config(o),
        };
        if c.api_url.is_some() && c.api_url_file.is_some() {
            self.err(
                node.pos,
                o.path.clone(),
                "at most one of api_url & api_url_file must be configured",
            );
        }
        if c.api_url.is_none() && c.api_url_file.is_none() {
            c.api_url.clone_from(&g.slack_api_url);
            c.api_url_file.clone_from(&g.slack_api_url_file);
        }
        let has_token = o.opt("app_token").is_some() || o.opt("app_token_file").is_some();
        if c.api_url.is_none() && c.api_url_file.is_none() && !has_token {
            self.err(
                node.pos,
                o.path.clone(),
                "no Slack API URL nor App token set either inline or in a file",
            );
        }
        c
    }

    fn email(&mut self, o: &Obj<'_>, node: &Node, g: &Global) -> EmailConfig {
        let or = |v: Option<String>, d: &str| v.filter(|s| !s.is_empty()).unwrap_or(d.to_owned());
        let to = self.opt_text(o, "to").unwrap_or_default();
        if to.is_empty() {
            self.err(node.pos, o.path_of("to"), "missing to address in email config");
        }
        let smarthost = match o.opt("smarthost") {
            Some(n) => {
                let s = self.text(n, &o.path_of("smarthost")).unwrap_or_default();
                if let Err(e) = check_host_port(&s) {
                    self.err(n.pos, o.path_of("smarthost"), e);
                }
                s
            }
            None => String::new(),
        };
        let smarthost = or(Some(smarthost), &g.smtp_smarthost);
        if smarthost.is_empty() {
            self.err(node.pos, o.path_of("smarthost"), "no global SMTP smarthost set");
        }
        let from = or(self.opt_text(o, "from"), &g.smtp_from);
        if from.is_empty() {
            self.err(node.pos, o.path_of("from"), "no global SMTP from set");
        }
        let mut auth_password = self.opt_text(o, "auth_password").unwrap_or_default();
        let mut auth_password_file = self.opt_text(o, "auth_password_file").unwrap_or_default();
        if auth_password.is_empty() && auth_password_file.is_empty() {
            auth_password.clone_from(&g.smtp_auth_password);
            auth_password_file.clone_from(&g.smtp_auth_password_file);
        }
        let mut headers = BTreeMap::new();
        if let Some(n) = o.opt("headers")
            && let Some(pairs) = self.text_map(n, &o.path_of("headers"))
        {
            for (k, v, pos) in pairs {
                let canon = canonical_header(&k);
                if headers.insert(canon.clone(), v).is_some() {
                    self.err(
                        pos,
                        field(&o.path_of("headers"), &k),
                        format!("duplicate header {canon:?} in email config"),
                    );
                }
            }
        }
        EmailConfig {
            to,
            from,
            smarthost,
            hello: or(self.opt_text(o, "hello"), &g.smtp_hello),
            auth_username: or(self.opt_text(o, "auth_username"), &g.smtp_auth_username),
            auth_password,
            auth_password_file,
            auth_identity: or(self.opt_text(o, "auth_identity"), &g.smtp_auth_identity),
            auth_secret: or(self.opt_text(o, "auth_secret"), &g.smtp_auth_secret),
            require_tls: self.opt_bool(o, "require_tls").unwrap_or(g.smtp_require_tls),
            tls_config: self.tls_config(o, "tls_config").or_else(|| g.smtp_tls_config.clone()),
            force_implicit_tls: self
                .opt_bool(o, "force_implicit_tls")
                .or(g.smtp_force_implicit_tls),
            headers,
            html: self.opt_text(o, "html"),
            text: self.opt_text(o, "text"),
        }
    }

    fn pagerduty(&mut self, o: &Obj<'_>, node: &Node, g: &Global) -> PagerDutyConfig {
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let routing_key = nonempty(self.opt_text(o, "routing_key"));
        let routing_key_file = nonempty(self.opt_text(o, "routing_key_file"));
        let service_key = nonempty(self.opt_text(o, "service_key"));
        let service_key_file = nonempty(self.opt_text(o, "service_key_file"));
        if routing_key.is_none()
            && routing_key_file.is_none()
            && service_key.is_none()
            && service_key_file.is_none()
        {
            self.err(
                node.pos,
                o.path.clone(),
                "missing service or routing key in PagerDuty config",
            );
        }
        if routing_key.is_some() && routing_key_file.is_some() {
            self.err(
                node.pos,
                o.path.clone(),
                "at most one of routing_key & routing_key_file must be configured",
            );
        }
        if service_key.is_some() && service_key_file.is_some() {
            self.err(
                node.pos,
                o.path.clone(),
                "at most one of service_key & service_key_file must be configured",
            );
        }
        let mut details = BTreeMap::new();
        if let Some(n) = o.opt("details")
            && let Some(pairs) = self.text_map(n, &o.path_of("details"))
        {
            for (k, v, _) in pairs {
                details.insert(k, v);
            }
        }
        let client = self.opt_text(o, "client");
        let source = self.opt_text(o, "source").or_else(|| client.clone());
        PagerDutyConfig {
            routing_key,
            routing_key_file,
            service_key,
            service_key_file,
            url: self.url(o, "url").unwrap_or_else(|| g.pagerduty_url.clone()),
            client,
            client_url: self.opt_text(o, "client_url"),
            description: self.opt_text(o, "description"),
            severity: self.opt_text(o, "severity"),
            source,
            class: self.opt_text(o, "class"),
            component: self.opt_text(o, "component"),
            group: self.opt_text(o, "group"),
            details,
            timeout_ms: self.duration(o, "timeout"),
            http_config: self.http_config(o),
        }
    }

    /// `match` (equality), `match_re` (regexes, anchored in the route key too) and
    /// `matchers` (strings in the matcher syntax), sorted.
    fn matchers(
        &mut self,
        o: &Obj<'_>,
        eq_key: &str,
        re_key: &str,
        list_key: &str,
    ) -> Vec<Matcher> {
        let mut out = Vec::new();
        if let Some(n) = o.opt(eq_key)
            && let Some(pairs) = self.text_map(n, &o.path_of(eq_key))
        {
            for (k, v, pos) in pairs {
                if !is_classic_label_name(&k) {
                    self.err(
                        pos,
                        field(&o.path_of(eq_key), &k),
                        format!("invalid label name {k:?}"),
                    );
                    continue;
                }
                out.push(Matcher::equal(k, v));
            }
        }
        if let Some(n) = o.opt(re_key)
            && let Some(pairs) = self.text_map(n, &o.path_of(re_key))
        {
            for (k, v, pos) in pairs {
                let p = field(&o.path_of(re_key), &k);
                if !is_classic_label_name(&k) {
                    self.err(pos, p, format!("invalid label name {k:?}"));
                    continue;
                }
                let anchored = format!("^(?:{v})$");
                match Matcher::new(MatchOp::Regex, k.clone(), v)
                    .and_then(|_| Matcher::new(MatchOp::Regex, k, anchored))
                {
                    Ok(m) => out.push(m),
                    Err(e) => self.err(pos, p, e),
                }
            }
        }
        if let Some(n) = o.opt(list_key)
            && let Some(items) = self.texts(n, &o.path_of(list_key))
        {
            for (i, (s, pos)) in items.into_iter().enumerate() {
                match parse_matchers(&s) {
                    Ok(ms) => out.extend(ms),
                    Err(e) => self.err(pos, index(&o.path_of(list_key), i), e),
                }
            }
        }
        out.sort();
        out
    }

    fn route(&mut self, node: &Node, path: &str, names: &Names, root: bool) -> Option<RouteConfig> {
        let o = self.obj(node, path, ROUTE, ROUTE_IGNORED)?;
        let mut r = RouteConfig { pos: node.pos, ..RouteConfig::default() };
        if let Some(n) = o.opt("receiver")
            && let Some(s) = self.text(n, &o.path_of("receiver"))
        {
            if !s.is_empty() && !names.receivers.contains(&s) {
                self.err(
                    n.pos,
                    o.path_of("receiver"),
                    format!("undefined receiver {s:?} used in route"),
                );
            }
            if !s.is_empty() {
                r.receiver = Some(s);
            }
        }
        if let Some(n) = o.opt("group_by")
            && let Some(items) = self.texts(n, &o.path_of("group_by"))
        {
            let p = o.path_of("group_by");
            let mut labels = Vec::new();
            let mut seen = BTreeSet::new();
            for (l, pos) in items {
                if l == "..." {
                    r.group_by_all = true;
                } else if l.is_empty() {
                    self.err(pos, p.clone(), format!("invalid label name {l:?} in group_by list"));
                } else if !seen.insert(l.clone()) {
                    self.err(pos, p.clone(), format!("duplicated label {l:?} in group_by"));
                } else {
                    labels.push(l);
                }
            }
            if r.group_by_all && !labels.is_empty() {
                self.err(
                    n.pos,
                    p,
                    "cannot have wildcard group_by (`...`) and other labels at the same time",
                );
            }
            r.group_by = if r.group_by_all && labels.is_empty() { None } else { Some(labels) };
        }
        r.matchers = self.matchers(&o, "match", "match_re", "matchers");
        r.continue_matching = self.opt_bool(&o, "continue").unwrap_or(false);
        r.group_wait_ms = self.duration(&o, "group_wait");
        r.group_interval_ms = self.duration(&o, "group_interval");
        r.repeat_interval_ms = self.duration(&o, "repeat_interval");
        for (key, v) in
            [("group_interval", r.group_interval_ms), ("repeat_interval", r.repeat_interval_ms)]
        {
            if v == Some(0)
                && let Some(n) = o.opt(key)
            {
                self.err(n.pos, o.path_of(key), format!("{key} cannot be zero"));
            }
        }
        for key in ["mute_time_intervals", "active_time_intervals"] {
            let Some(n) = o.opt(key) else { continue };
            let Some(items) = self.texts(n, &o.path_of(key)) else { continue };
            for (i, (s, pos)) in items.iter().enumerate() {
                if !names.intervals.contains(s) {
                    self.err(
                        *pos,
                        index(&o.path_of(key), i),
                        format!("undefined time interval {s:?} used in route"),
                    );
                }
            }
            let v: Vec<String> = items.into_iter().map(|(s, _)| s).collect();
            if key == "mute_time_intervals" {
                r.mute_time_intervals = v;
            } else {
                r.active_time_intervals = v;
            }
        }
        if root {
            if r.receiver.is_none() {
                self.err(node.pos, path, "root route must specify a default receiver");
            }
            if !r.matchers.is_empty() {
                self.err(node.pos, path, "root route must not have any matchers");
            }
            if !r.mute_time_intervals.is_empty() {
                self.err(node.pos, path, "root route must not have any mute time intervals");
            }
            if !r.active_time_intervals.is_empty() {
                self.err(node.pos, path, "root route must not have any active time intervals");
            }
            if r.continue_matching {
                self.err(node.pos, path, "cannot have continue in root route");
            }
        }
        if let Some(n) = o.opt("routes")
            && let Some(items) = self.ctx.list(n, &o.path_of("routes"))
        {
            for (i, item) in items.iter().enumerate() {
                if let Some(child) = self.route(item, &index(&o.path_of("routes"), i), names, false)
                {
                    r.routes.push(child);
                }
            }
        }
        Some(r)
    }

    fn inhibit_rule(&mut self, node: &Node, path: &str) -> Option<InhibitRuleConfig> {
        let o = self.obj(node, path, INHIBIT, &[])?;
        let source_matchers =
            self.matchers(&o, "source_match", "source_match_re", "source_matchers");
        let target_matchers =
            self.matchers(&o, "target_match", "target_match_re", "target_matchers");
        let mut equal = Vec::new();
        if let Some(n) = o.opt("equal")
            && let Some(items) = self.texts(n, &o.path_of("equal"))
        {
            for (l, pos) in items {
                if l.is_empty() {
                    self.err(
                        pos,
                        o.path_of("equal"),
                        format!("invalid label name {l:?} in equal list"),
                    );
                } else {
                    equal.push(l);
                }
            }
        }
        Some(InhibitRuleConfig {
            name: self.opt_text(&o, "name"),
            source_matchers,
            target_matchers,
            equal,
            pos: node.pos,
        })
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-team-name` → `X-Team-Name`.
pub fn canonical_header(name: &str) -> String {
    if name.chars().any(|c| c == ' ' || !c.is_ascii()) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

/// An absolute http(s) URL with a host.
fn check_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| format!("unsupported scheme in URL {s:?}: use http or https"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("missing host in URL {s:?}"));
    }
    Ok(())
}

/// `host:port` with a non-empty port (`[::1]:25` too).
fn check_host_port(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once(']').ok_or_else(|| format!("address {s}: missing ']'"))?;
        (h, p.strip_prefix(':').ok_or_else(|| format!("address {s}: missing port in address"))?)
    } else {
        let (h, p) =
            s.rsplit_once(':').ok_or_else(|| format!("address {s}: missing port in address"))?;
        if h.contains(':') {
            return Err(format!("address {s}: too many colons in address"));
        }
        (h, p)
    };
    let _ = host;
    if port.is_empty() {
        return Err(format!("address {s:?}: port cannot be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
