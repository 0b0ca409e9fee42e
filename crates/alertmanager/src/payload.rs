//! What a notification looks like on the wire: the webhook v4 JSON exactly as
//! Alertmanager sends it, a Slack incoming-webhook message, a PagerDuty Events v2 (or
//! v1, for `service_key`) event, and an RFC 5322 e-mail, rendered with andon's default
//! templates (and the user's template files) through `andon_template`.

use std::collections::BTreeMap;
use std::fmt;

use andon_template::{Funcs, Host, QuerySample, Template, Time, Value};
use serde::Serialize;

use crate::alert::{LabelSet, Status};
use crate::config::{
    EmailConfig, Integration, PagerDutyConfig, Settings, SlackConfig, WebhookConfig,
};
use crate::dispatch::{Notification, NotifiedAlert, common};
use crate::text::{quote_meta, rfc3339, rfc3339_or_zero};
use crate::tz::{ZoneLookup, resolve_zone};
use andon_core::sha256::digest_hex;

/// andon's default notification templates. Alertmanager's default template names that
/// configurations commonly call (`slack.default.title`, `email.default.subject`, …) are
/// defined too, with andon's wording.
pub const DEFAULT_TEMPLATES: &str = r#"
{{ define "andon.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }} {{ len .Alerts.Firing }}{{ end }}] {{ with .CommonLabels.alertname }}{{ . }}{{ else }}{{ len .Alerts }} alerts{{ end }}{{ with .GroupLabels.Remove (stringSlice "alertname") }} ({{ range $i, $p := .SortedPairs }}{{ if $i }}, {{ end }}{{ $p.Name }}={{ $p.Value }}{{ end }}){{ end }}{{ end }}
{{ define "andon.title.html" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }} {{ len .Alerts.Firing }}{{ end }}] {{ with .CommonLabels.alertname }}{{ . | html }}{{ else }}{{ len .Alerts }} alerts{{ end }}{{ with .GroupLabels.Remove (stringSlice "alertname") }} ({{ range $i, $p := .SortedPairs }}{{ if $i }}, {{ end }}{{ $p.Name | html }}={{ $p.Value | html }}{{ end }}){{ end }}{{ end }}
{{ define "andon.alert.line.html" }}{{ with .Annotations.summary }}{{ . | html }}{{ else }}{{ .Labels.alertname | html }}{{ end }}{{ end }}
{{ define "andon.alert.line" }}{{ with .Annotations.summary }}{{ . }}{{ else }}{{ .Labels.alertname }}{{ end }}{{ end }}
{{ define "andon.alerts.text" }}{{ range . }}- [{{ .Status }}] {{ template "andon.alert.line" . }}
{{ with .Annotations.description }}  {{ . }}
{{ end }}  labels: {{ range $i, $p := .Labels.SortedPairs }}{{ if $i }}, {{ end }}{{ $p.Name }}={{ $p.Value }}{{ end }}
  since: {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}{{ if eq .Status "resolved" }}, until {{ .EndsAt.Format "2006-01-02 15:04:05 MST" }}{{ end }}
{{ with .GeneratorURL }}  source: {{ . }}
{{ end }}{{ end }}{{ end }}
{{ define "andon.text" }}{{ template "andon.title" . }}
{{ with .Alerts.Firing }}
Firing ({{ len . }}):
{{ template "andon.alerts.text" . }}{{ end }}{{ with .Alerts.Resolved }}
Resolved ({{ len . }}):
{{ template "andon.alerts.text" . }}{{ end }}{{ with .ExternalURL }}
{{ . }}
{{ end }}{{ end }}
{{ define "andon.slack.title" }}{{ template "andon.title" . }}{{ end }}
{{ define "andon.slack.text" }}{{ range .Alerts }}{{ if eq .Status "firing" }}:red_circle:{{ else }}:large_green_circle:{{ end }} *{{ template "andon.alert.line" . }}*{{ with .Annotations.description }}
{{ . }}{{ end }}
{{ range $i, $p := .Labels.SortedPairs }}{{ if $i }} {{ end }}`{{ $p.Name }}={{ $p.Value }}`{{ end }}
{{ end }}{{ end }}
{{ define "andon.slack.color" }}{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}{{ end }}
{{ define "andon.email.subject" }}{{ template "andon.title" . }}{{ end }}
{{ define "andon.email.text" }}{{ template "andon.text" . }}{{ end }}
{{ define "andon.email.html" }}<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>{{ template "andon.title.html" . }}</title></head>
<body style="font-family: sans-serif">
<h2 style="color: {{ if eq .Status "firing" }}#c0392b{{ else }}#27ae60{{ end }}">{{ template "andon.title.html" . }}</h2>
{{ range .Alerts }}<div style="margin: 0 0 1em 0; padding: 0.5em; border-left: 4px solid {{ if eq .Status "firing" }}#c0392b{{ else }}#27ae60{{ end }}">
<strong>[{{ .Status }}] {{ template "andon.alert.line.html" . }}</strong><br>
{{ with .Annotations.description }}{{ . | html }}<br>
{{ end }}{{ range .Labels.SortedPairs }}<code>{{ .Name | html }}={{ .Value | html }}</code> {{ end }}<br>
<small>since {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}{{ with .GeneratorURL }} &middot; <a href="{{ . | html }}">source</a>{{ end }}</small>
</div>
{{ end }}{{ with .ExternalURL }}<p><a href="{{ . | html }}">{{ . | html }}</a></p>{{ end }}
</body></html>
{{ end }}
{{ define "andon.pagerduty.description" }}{{ template "andon.title" . }}{{ end }}
{{ define "andon.pagerduty.instances" }}{{ template "andon.alerts.text" . }}{{ end }}
{{ define "__alertmanager" }}andon{{ end }}
{{ define "__alertmanagerURL" }}{{ .ExternalURL }}{{ end }}
{{ define "__subject" }}{{ template "andon.title" . }}{{ end }}
{{ define "__text_alert_list" }}{{ template "andon.alerts.text" . }}{{ end }}
{{ define "slack.default.title" }}{{ template "andon.slack.title" . }}{{ end }}
{{ define "slack.default.text" }}{{ template "andon.slack.text" . }}{{ end }}
{{ define "slack.default.username" }}andon{{ end }}
{{ define "slack.default.fallback" }}{{ template "andon.title" . }}{{ end }}
{{ define "slack.default.titlelink" }}{{ .ExternalURL }}{{ end }}
{{ define "email.default.subject" }}{{ template "andon.email.subject" . }}{{ end }}
{{ define "email.default.html" }}{{ template "andon.email.html" . }}{{ end }}
{{ define "pagerduty.default.description" }}{{ template "andon.pagerduty.description" . }}{{ end }}
{{ define "pagerduty.default.client" }}andon{{ end }}
{{ define "pagerduty.default.clientURL" }}{{ .ExternalURL }}{{ end }}
{{ define "pagerduty.default.instances" }}{{ template "andon.pagerduty.instances" . }}{{ end }}
"#;

/// A rendering failure: a template that does not parse or run, a file that could not be
/// read, or a value that ended up empty where one is required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderError(pub String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

impl From<andon_template::Error> for RenderError {
    fn from(e: andon_template::Error) -> Self {
        RenderError(e.to_string())
    }
}

/// andon's default templates plus the user's template files.
#[derive(Clone, Debug)]
pub struct Templates {
    base: Template,
}

impl Templates {
    /// The default templates only.
    pub fn new() -> Result<Templates, RenderError> {
        Ok(Templates { base: Template::parse("andon", DEFAULT_TEMPLATES, Funcs::Alertmanager)? })
    }

    /// Adds a template file (the contents of a `templates:` path); its definitions
    /// replace earlier ones of the same name. The error keeps its line and column.
    pub fn add_template_file(
        &mut self,
        name: &str,
        text: &str,
    ) -> Result<(), andon_template::Error> {
        self.base.add(name, text)
    }

    /// Renders one template text (a configuration field) against notification data.
    pub fn render(&self, text: &str, data: &Value, host: &dyn Host) -> Result<String, RenderError> {
        if !text.contains("{{") {
            return Ok(text.to_owned());
        }
        let mut t = self.base.clone();
        t.add("__andon_field", text)?;
        Ok(t.execute_named("__andon_field", data, host)?)
    }
}

/// What rendering needs from the caller besides the notification and its integration.
pub struct RenderContext<'a> {
    /// Alertmanager's `--web.external-url`.
    pub external_url: &'a str,
    pub templates: &'a Templates,
    /// Time zones for the templates' `tz` function.
    pub zones: &'a dyn ZoneLookup,
    /// Reads a `*_file` setting (webhook `url_file`, PagerDuty key files, …).
    pub read_file: &'a dyn Fn(&str) -> Result<String, String>,
    /// The host name for e-mail `Message-Id`s.
    pub hostname: &'a str,
}

struct TemplateHost<'a> {
    external_url: &'a str,
    now_ms: i64,
    zones: &'a dyn ZoneLookup,
}

impl Host for TemplateHost<'_> {
    fn query(&self, _expr: &str) -> Result<Vec<QuerySample>, String> {
        Err("queries are not available in notification templates".into())
    }
    fn external_url(&self) -> &str {
        self.external_url
    }
    fn path_prefix(&self) -> &str {
        let rest = self.external_url.split_once("://").map_or(self.external_url, |(_, r)| r);
        rest.find('/').map_or("", |i| &rest[i..])
    }
    fn now(&self) -> f64 {
        self.now_ms as f64 / 1000.0
    }
    fn time_zone(&self, name: &str, unix_secs: i64) -> Option<(i32, String)> {
        let z = resolve_zone(name, self.zones)?;
        let (off, abbr) = z.offset_at(unix_secs);
        Some((off, abbr.to_owned()))
    }
}

/// Alertmanager's template data for a list of alerts of a notification.
pub fn template_data(n: &Notification, alerts: &[&NotifiedAlert], external_url: &str) -> Value {
    let list: Vec<Value> = alerts
        .iter()
        .map(|a| {
            Value::map([
                ("Status", Value::from(a.status.as_str())),
                ("Labels", Value::from(&a.alert.labels)),
                ("Annotations", Value::from(&a.alert.annotations)),
                ("StartsAt", Value::Time(Time::from_millis(a.alert.starts()))),
                ("EndsAt", Value::Time(a.alert.ends_at.map_or_else(Time::zero, Time::from_millis))),
                ("GeneratorURL", Value::from(a.alert.generator_url.as_str())),
                ("Fingerprint", Value::from(a.fingerprint.to_string())),
            ])
        })
        .collect();
    let (cl, ca) = commons(alerts);
    Value::map([
        ("Receiver", Value::from(quote_meta(&n.receiver))),
        ("Status", Value::from(status_of(alerts).as_str())),
        ("Alerts", Value::List(list)),
        ("GroupLabels", Value::from(&n.group_labels)),
        ("CommonLabels", Value::from(&cl)),
        ("CommonAnnotations", Value::from(&ca)),
        ("ExternalURL", Value::from(external_url)),
    ])
}

fn status_of(alerts: &[&NotifiedAlert]) -> Status {
    if alerts.iter().any(|a| a.status == Status::Firing) {
        Status::Firing
    } else {
        Status::Resolved
    }
}

fn commons(alerts: &[&NotifiedAlert]) -> (LabelSet, LabelSet) {
    (
        common(alerts.iter().map(|a| &a.alert.labels)),
        common(alerts.iter().map(|a| &a.alert.annotations)),
    )
}

/// Writes JSON as Go's `encoding/json` does by default: `<`, `>`, `&`, U+2028 and
/// U+2029 escaped.
fn go_json<T: Serialize>(v: &T) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookAlert<'a> {
    status: &'static str,
    labels: &'a LabelSet,
    annotations: &'a LabelSet,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookMessage<'a> {
    receiver: &'a str,
    status: &'static str,
    alerts: Vec<WebhookAlert<'a>>,
    group_labels: &'a LabelSet,
    common_labels: &'a LabelSet,
    common_annotations: &'a LabelSet,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: u64,
}

/// The webhook body (version 4), byte for byte as Alertmanager writes it, newline
/// included. `max_alerts` (0 = all) keeps the first alerts and counts the rest in
/// `truncatedAlerts`; status and common labels describe the alerts sent.
pub fn webhook_body(n: &Notification, max_alerts: u64, external_url: &str) -> String {
    let keep =
        if max_alerts == 0 { n.alerts.len() } else { n.alerts.len().min(max_alerts as usize) };
    let sent: Vec<&NotifiedAlert> = n.alerts.iter().take(keep).collect();
    let (cl, ca) = commons(&sent);
    let receiver = quote_meta(&n.receiver);
    let msg = WebhookMessage {
        receiver: &receiver,
        status: status_of(&sent).as_str(),
        alerts: sent
            .iter()
            .map(|a| WebhookAlert {
                status: a.status.as_str(),
                labels: &a.alert.labels,
                annotations: &a.alert.annotations,
                starts_at: rfc3339(a.alert.starts()),
                ends_at: rfc3339_or_zero(a.alert.ends_at),
                generator_url: &a.alert.generator_url,
                fingerprint: a.fingerprint.to_string(),
            })
            .collect(),
        group_labels: &n.group_labels,
        common_labels: &cl,
        common_annotations: &ca,
        external_url,
        version: "4",
        group_key: &n.group_key,
        truncated_alerts: (n.alerts.len() - keep) as u64,
    };
    let mut s = go_json(&msg);
    s.push('\n');
    s
}

/// A rendered message and where it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Rendered {
    /// POST `body` (`application/json`) to `url`.
    Http {
        url: String,
        body: String,
    },
    Email(Box<EmailMessage>),
}

/// An e-mail ready for SMTP.
#[derive(Clone, Debug, PartialEq)]
pub struct EmailMessage {
    /// `host:port`.
    pub smarthost: String,
    pub hello: String,
    /// Envelope sender (the address in `From`).
    pub envelope_from: String,
    /// Envelope recipients (the addresses in `To`).
    pub recipients: Vec<String>,
    pub auth_username: String,
    pub auth_password: String,
    pub auth_identity: String,
    pub auth_secret: String,
    pub require_tls: bool,
    pub tls_config: Option<serde_json::Value>,
    pub force_implicit_tls: Option<bool>,
    /// The whole message: headers, blank line, MIME body, CRLF line ends.
    pub data: String,
}

/// Renders a notification for its integration.
pub fn render(
    n: &Notification,
    integ: &Integration,
    cx: &RenderContext<'_>,
) -> Result<Rendered, RenderError> {
    match &integ.settings {
        Settings::Webhook(c) => webhook(n, c, cx),
        Settings::Slack(c) => slack(n, c, cx),
        Settings::PagerDuty(c) => pagerduty(n, c, cx),
        Settings::Email(c) => email(n, c, cx).map(|m| Rendered::Email(Box::new(m))),
    }
}

fn read(cx: &RenderContext<'_>, path: &str) -> Result<String, RenderError> {
    (cx.read_file)(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| RenderError(format!("read {path}: {e}")))
}

struct Renderer<'a> {
    cx: &'a RenderContext<'a>,
    data: Value,
    host: TemplateHost<'a>,
}

impl Renderer<'_> {
    fn new<'a>(
        n: &Notification,
        alerts: &[&NotifiedAlert],
        cx: &'a RenderContext<'a>,
    ) -> Renderer<'a> {
        Renderer {
            cx,
            data: template_data(n, alerts, cx.external_url),
            host: TemplateHost { external_url: cx.external_url, now_ms: n.time, zones: cx.zones },
        }
    }

    fn text(&self, t: &str) -> Result<String, RenderError> {
        self.cx.templates.render(t, &self.data, &self.host)
    }

    fn opt(&self, t: Option<&str>, default: &str) -> Result<String, RenderError> {
        self.text(t.unwrap_or(default))
    }
}

/// Webhook: the v4 JSON to the configured URL (templated URLs are rendered).
pub fn webhook(
    n: &Notification,
    c: &WebhookConfig,
    cx: &RenderContext<'_>,
) -> Result<Rendered, RenderError> {
    let all: Vec<&NotifiedAlert> = n.alerts.iter().collect();
    let r = Renderer::new(n, &all, cx);
    let url = match (&c.url, &c.url_file) {
        (Some(u), _) => r.text(u)?,
        (None, Some(f)) => r.text(&read(cx, f)?)?,
        (None, None) => return Err(RenderError("webhook has no url".into())),
    };
    Ok(Rendered::Http { url, body: webhook_body(n, c.max_alerts, cx.external_url) })
}

#[derive(Serialize)]
struct SlackAttachment {
    #[serde(skip_serializing_if = "String::is_empty")]
    title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    title_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pretext: String,
    text: String,
    fallback: String,
    callback_id: String,
    footer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    color: String,
    mrkdwn_in: Vec<&'static str>,
}

#[derive(Serialize)]
struct SlackMessage {
    #[serde(skip_serializing_if = "String::is_empty")]
    channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    icon_emoji: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    icon_url: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    link_names: bool,
    attachments: Vec<SlackAttachment>,
}

fn truncate_runes(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The Slack message body alone (also used by tests and previews).
pub fn slack_body(
    n: &Notification,
    c: &SlackConfig,
    cx: &RenderContext<'_>,
) -> Result<String, RenderError> {
    let alerts: Vec<&NotifiedAlert> = n.alerts.iter().collect();
    let r = Renderer::new(n, &alerts, cx);
    let att = SlackAttachment {
        title: truncate_runes(
            r.opt(c.title.as_deref(), r#"{{ template "andon.slack.title" . }}"#)?,
            1024,
        ),
        title_link: r.opt(c.title_link.as_deref(), "{{ .ExternalURL }}")?,
        pretext: r.opt(c.pretext.as_deref(), "")?,
        text: r.opt(c.text.as_deref(), r#"{{ template "andon.slack.text" . }}"#)?,
        fallback: r.opt(c.fallback.as_deref(), r#"{{ template "andon.title" . }}"#)?,
        callback_id: String::new(),
        footer: r.opt(c.footer.as_deref(), "")?,
        color: r.opt(c.color.as_deref(), r#"{{ template "andon.slack.color" . }}"#)?,
        mrkdwn_in: vec!["fallback", "pretext", "text"],
    };
    let msg = SlackMessage {
        channel: r.opt(c.channel.as_deref(), "")?,
        username: r.opt(c.username.as_deref(), "andon")?,
        icon_emoji: r.opt(c.icon_emoji.as_deref(), "")?,
        icon_url: r.opt(c.icon_url.as_deref(), "")?,
        link_names: c.link_names,
        attachments: vec![att],
    };
    let mut s = go_json(&msg);
    s.push('\n');
    Ok(s)
}

/// Slack: an incoming-webhook message with one attachment.
pub fn slack(
    n: &Notification,
    c: &SlackConfig,
    cx: &RenderContext<'_>,
) -> Result<Rendered, RenderError> {
    let url = match (&c.api_url, &c.api_url_file) {
        (Some(u), _) => u.clone(),
        (None, Some(f)) => read(cx, f)?,
        (None, None) => return Err(RenderError("slack has no api_url".into())),
    };
    Ok(Rendered::Http { url, body: slack_body(n, c, cx)? })
}

#[derive(Serialize)]
struct PdPayload {
    summary: String,
    source: String,
    severity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    class: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    component: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    group: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    custom_details: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct PdMessage {
    #[serde(skip_serializing_if = "String::is_empty")]
    routing_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    service_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    dedup_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    incident_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    event_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    event_action: String,
    payload: Option<PdPayload>,
    #[serde(skip_serializing_if = "String::is_empty")]
    client: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    client_url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    details: BTreeMap<String, String>,
}

const PD_DETAILS: [(&str, &str); 4] = [
    ("firing", r#"{{ template "andon.pagerduty.instances" .Alerts.Firing }}"#),
    ("num_firing", "{{ .Alerts.Firing | len }}"),
    ("num_resolved", "{{ .Alerts.Resolved | len }}"),
    ("resolved", r#"{{ template "andon.pagerduty.instances" .Alerts.Resolved }}"#),
];

/// The PagerDuty body: an Events API v2 event for `routing_key` (a v1 event for
/// `service_key`), `trigger` while anything fires, `resolve` once all is resolved,
/// deduplicated by the SHA-256 of the group key.
pub fn pagerduty_body(
    n: &Notification,
    c: &PagerDutyConfig,
    cx: &RenderContext<'_>,
) -> Result<String, RenderError> {
    let alerts: Vec<&NotifiedAlert> = n.alerts.iter().collect();
    let r = Renderer::new(n, &alerts, cx);
    let firing = n.status == Status::Firing;
    let mut details = BTreeMap::new();
    for (k, t) in PD_DETAILS {
        if !c.details.contains_key(k) {
            details.insert(k.to_owned(), r.text(t)?);
        }
    }
    for (k, t) in &c.details {
        details.insert(k.clone(), r.text(t)?);
    }
    let description = truncate_runes(
        r.opt(c.description.as_deref(), r#"{{ template "andon.pagerduty.description" . }}"#)?,
        1024,
    );
    let client = r.opt(c.client.as_deref(), "andon")?;
    let client_url = r.opt(c.client_url.as_deref(), "{{ .ExternalURL }}")?;
    let key = digest_hex(n.group_key.as_bytes());
    let msg = if !uses_v1(c) {
        let routing_key = match (&c.routing_key, &c.routing_key_file) {
            (Some(k), _) => r.text(k)?,
            (None, Some(f)) => r.text(&read(cx, f)?)?,
            _ => String::new(),
        };
        if routing_key.is_empty() {
            return Err(RenderError("routing key cannot be empty".into()));
        }
        PdMessage {
            routing_key,
            service_key: String::new(),
            dedup_key: key,
            incident_key: String::new(),
            event_type: String::new(),
            description: String::new(),
            event_action: if firing { "trigger" } else { "resolve" }.into(),
            payload: Some(PdPayload {
                summary: description,
                source: r.opt(c.source.as_deref(), &client)?,
                severity: r.opt(c.severity.as_deref(), "error")?,
                class: r.opt(c.class.as_deref(), "")?,
                component: r.opt(c.component.as_deref(), "")?,
                group: r.opt(c.group.as_deref(), "")?,
                custom_details: details,
            }),
            client,
            client_url,
            details: BTreeMap::new(),
        }
    } else {
        let service_key = match (&c.service_key, &c.service_key_file) {
            (Some(k), _) => r.text(k)?,
            (None, Some(f)) => read(cx, f)?,
            _ => String::new(),
        };
        PdMessage {
            routing_key: String::new(),
            service_key,
            dedup_key: String::new(),
            incident_key: key,
            event_type: if firing { "trigger" } else { "resolve" }.into(),
            description,
            event_action: String::new(),
            payload: None,
            client: if firing { client } else { String::new() },
            client_url: if firing { client_url } else { String::new() },
            details,
        }
    };
    let mut s = go_json(&msg);
    s.push('\n');
    Ok(s)
}

/// PagerDuty's Events API v1 endpoint, used for service keys whatever `url` says.
pub const PAGERDUTY_V1_URL: &str =
    "https://events.pagerduty.com/generic/2010-04-15/create_event.json";

/// A service key selects the Events API v1, as in Alertmanager.
fn uses_v1(c: &PagerDutyConfig) -> bool {
    c.service_key.is_some() || c.service_key_file.is_some()
}

/// PagerDuty: the event to the configured endpoint (v2), or to the v1 endpoint.
pub fn pagerduty(
    n: &Notification,
    c: &PagerDutyConfig,
    cx: &RenderContext<'_>,
) -> Result<Rendered, RenderError> {
    let url = if uses_v1(c) { PAGERDUTY_V1_URL.to_owned() } else { c.url.clone() };
    Ok(Rendered::Http { url, body: pagerduty_body(n, c, cx)? })
}

/// E-mail: an RFC 5322 message with a `multipart/alternative` body (plain text and
/// HTML, quoted-printable).
pub fn email(
    n: &Notification,
    c: &EmailConfig,
    cx: &RenderContext<'_>,
) -> Result<EmailMessage, RenderError> {
    let alerts: Vec<&NotifiedAlert> = n.alerts.iter().collect();
    let r = Renderer::new(n, &alerts, cx);
    let from = r.text(&c.from)?;
    let to = r.text(&c.to)?;
    let subject = match c.headers.get("Subject") {
        Some(t) => r.text(t)?,
        None => r.text(r#"{{ template "andon.email.subject" . }}"#)?,
    };
    let envelope_from = addresses(&from)
        .into_iter()
        .next()
        .ok_or_else(|| RenderError(format!("parse 'from' addresses: no address in {from:?}")))?;
    let recipients = addresses(&to);
    if recipients.is_empty() {
        return Err(RenderError(format!("parse 'to' addresses: no address in {to:?}")));
    }
    let mut head = String::new();
    let mut put = |name: &str, value: &str| {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(&q_encode(value));
        head.push_str("\r\n");
    };
    put("From", &from);
    put("To", &to);
    put("Subject", &subject);
    for (k, t) in &c.headers {
        if matches!(k.as_str(), "From" | "To" | "Subject") {
            continue;
        }
        put(k, &r.text(t)?);
    }
    let seed =
        format!("{}\u{0}{}\u{0}{}\u{0}{}", n.group_key, n.receiver, n.time, n.integration_index);
    let hash = digest_hex(seed.as_bytes());
    if !c.headers.contains_key("Message-Id") {
        let host = if cx.hostname.is_empty() { "localhost" } else { cx.hostname };
        head.push_str(&format!("Message-Id: <{}.{}@{}>\r\n", n.time, &hash[..16], host));
    }
    let boundary = &hash[..60];
    head.push_str(&format!("Date: {}\r\n", rfc1123z(n.time)));
    head.push_str(&format!("Content-Type: multipart/alternative;  boundary={boundary}\r\n"));
    head.push_str("MIME-Version: 1.0\r\n\r\n");
    let text = match &c.text {
        Some(t) => r.text(t)?,
        None => r.text(r#"{{ template "andon.email.text" . }}"#)?,
    };
    let html = match &c.html {
        Some(t) => r.text(t)?,
        None => r.text(r#"{{ template "andon.email.html" . }}"#)?,
    };
    let mut body = String::new();
    for (kind, content) in [("plain", text), ("html", html)] {
        if content.is_empty() {
            continue;
        }
        body.push_str(&format!(
            "--{boundary}\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: text/{kind}; charset=UTF-8\r\n\r\n"
        ));
        body.push_str(&quoted_printable(&content));
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    Ok(EmailMessage {
        smarthost: c.smarthost.clone(),
        hello: c.hello.clone(),
        envelope_from,
        recipients,
        auth_username: c.auth_username.clone(),
        auth_password: if c.auth_password.is_empty() && !c.auth_password_file.is_empty() {
            read(cx, &c.auth_password_file)?
        } else {
            c.auth_password.clone()
        },
        auth_identity: c.auth_identity.clone(),
        auth_secret: c.auth_secret.clone(),
        require_tls: c.require_tls,
        tls_config: c.tls_config.clone(),
        force_implicit_tls: c.force_implicit_tls,
        data: head + &body,
    })
}

/// The addresses of an RFC 5322 address list: `Ops <ops@example.com>, b@example.com`.
pub fn addresses(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut angle) = (false, false);
    let mut flush = |cur: &mut String| {
        let part = cur.trim();
        let addr = match (part.rfind('<'), part.rfind('>')) {
            (Some(a), Some(b)) if a < b => part[a + 1..b].trim(),
            _ => part,
        };
        if addr.contains('@') {
            out.push(addr.to_owned());
        }
        cur.clear();
    };
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                flush(&mut cur);
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    flush(&mut cur);
    out
}

/// A header value as Go's `mime.QEncoding` writes it: unchanged when it is printable
/// ASCII, else UTF-8 encoded words of at most 75 characters.
pub fn q_encode(s: &str) -> String {
    if s.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
        return s.to_owned();
    }
    const PREFIX: &str = "=?utf-8?q?";
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        let mut enc = String::new();
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            match b {
                b' ' => enc.push('_'),
                b'=' | b'?' | b'_' => enc.push_str(&format!("={b:02X}")),
                0x21..=0x7e => enc.push(b as char),
                _ => enc.push_str(&format!("={b:02X}")),
            }
        }
        if PREFIX.len() + cur.len() + enc.len() + 2 > 75 && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push_str(&enc);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words.iter().map(|w| format!("{PREFIX}{w}?=")).collect::<Vec<_>>().join(" ")
}

/// Quoted-printable body text (RFC 2045): CRLF line ends, lines of at most 76
/// characters with soft breaks, `=`, non-ASCII and trailing blanks encoded.
pub fn quoted_printable(s: &str) -> String {
    let mut out = String::new();
    let text = s.replace("\r\n", "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    for (li, line) in lines.iter().enumerate() {
        let bytes = line.as_bytes();
        let mut col = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let enc = match b {
                b'=' => format!("={b:02X}"),
                b' ' | b'\t' if last => format!("={b:02X}"),
                b' ' | b'\t' | 0x21..=0x7e => (b as char).to_string(),
                _ => format!("={b:02X}"),
            };
            if col + enc.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            out.push_str(&enc);
            col += enc.len();
        }
        if li + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

/// Go's `time.RFC1123Z` in UTC: `Mon, 02 Jan 2006 15:04:05 +0000`.
pub fn rfc1123z(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = andon_core::time::civil_from_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1).clamp(0, 11) as usize],
        y,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests;
