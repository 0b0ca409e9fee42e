//! Alertmanager, pure: configuration, routing, grouping and notification timing,
//! silences, inhibition, time intervals and notification payloads. Nothing here reads
//! a clock or the network, and files only through [`system_zones`]: times are Unix
//! milliseconds passed in, time-zone data and `*_file` contents come through
//! caller-supplied lookups, and rendered notifications are handed back for the caller
//! to send.
//!
//! # Shape
//!
//! - [`config::parse`] reads `alertmanager.yml` (positions on every problem, all reported
//!   at once; unsupported receiver types and options become [`config::Config::warnings`]).
//!   `andon_spec` recognises such a document by its shape (`route` and `receivers`).
//! - [`matcher`]: `a="b"`, `a=~"x"`, `{a!="b",c!~"d"}` in the classic and the UTF-8
//!   syntax ([`matcher::parse_matchers`]), anchored regexes, Alertmanager's rendering.
//! - [`route::RouteTree`]: inheritance and defaults (group_wait 30s, group_interval 5m,
//!   repeat_interval 4h), [`route::RouteTree::match_routes`] with `continue`, route keys
//!   and group keys as Alertmanager writes them (`{}/{severity="page"}:{alertname="X"}`).
//! - [`timeinterval`]: named time intervals; [`tz`] zones from TZif bytes the caller
//!   looks up through [`tz::ZoneLookup`] (UTC and `Etc/GMT±N` built in).
//! - [`inhibit::Inhibitor`], [`silence::Silences`] (states, validation, update rules).
//! - [`dispatch::Dispatcher`]: `insert(alert, now)`, `tick(now) -> Vec<Notification>`,
//!   `next_deadline()`, `failed(&notification)`; groups per (route, group labels); first
//!   flush after group_wait, then every group_interval; Alertmanager's pipeline order
//!   (inhibition, active/mute time intervals, silences) and its notification-log
//!   deduplication per receiver integration; resolved alerts sent where `send_resolved`
//!   and then dropped.
//! - [`payload`]: webhook v4 JSON byte for byte, Slack, PagerDuty Events v2 (v1 for
//!   service keys), RFC 5322 e-mail; andon's own default templates, user template
//!   files on top ([`payload::Templates`]).
//!
//! ```
//! use andon_alertmanager::{Alert, Dispatcher, config, tz::NoZones};
//!
//! let yaml = br#"
//! route:
//!   receiver: ops
//!   group_by: [alertname]
//! receivers:
//!   - name: ops
//!     webhook_configs: [{url: "http://127.0.0.1:9999/hook"}]
//! "#;
//! let cfg = config::parse(yaml, "alertmanager.yml", &NoZones).map_err(|d| format!("{d:?}"))?;
//! let mut d = Dispatcher::new(&cfg);
//! let mut a = Alert::new([("alertname", "Down"), ("job", "api")]);
//! a.starts_at = Some(1_000);
//! d.insert(a, 1_000)?;
//! assert!(d.tick(20_000).is_empty()); // still in group_wait
//! let sent = d.tick(31_000);
//! assert_eq!(sent.len(), 1);
//! assert_eq!(sent[0].group_key, r#"{}:{alertname="Down"}"#);
//! # Ok::<(), String>(())
//! ```
//!
//! # What the caller wires
//!
//! HTTP and SMTP delivery of [`payload::Rendered`] (with retries, reporting failures
//! through [`dispatch::Dispatcher::failed`]), a [`tz::ZoneLookup`] over
//! `/usr/share/zoneinfo`, reading `templates:` files into [`payload::Templates`],
//! persistence of silences and the notification log
//! ([`dispatch::Dispatcher::nflog`], [`dispatch::Dispatcher::restore_nflog`],
//! [`silence::Silences::restore`]), silence garbage collection, and the API.

pub mod alert;
pub mod config;
pub mod dispatch;
pub mod duration;
pub mod inhibit;
pub mod matcher;
pub mod payload;
pub mod route;

pub mod silence;
pub mod text;
pub mod timeinterval;
pub mod tz;

pub use alert::{Alert, Fingerprint, LabelSet, Status};
pub use config::Config;
pub use dispatch::{Dispatcher, Notification, NotifiedAlert, NotifyReason};
use std::path::{Path, PathBuf};

pub use matcher::{Matcher, parse_matchers};
pub use route::{Route, RouteTree};
pub use silence::{Silence, SilenceState, Silences};

/// Checks every applied `AlertmanagerConfig` among `manifests` in depth, with the
/// document's own positions.
pub fn check_manifests(
    manifests: &[andon_spec::Manifest],
    zones: &dyn tz::ZoneLookup,
) -> Vec<andon_spec::Diagnostic> {
    let mut out = Vec::new();
    for m in manifests {
        let andon_spec::Spec::Foreign(f) = &m.spec else { continue };
        if m.kind.kind != "AlertmanagerConfig" {
            continue;
        }
        match config::from_node(&f.node, zones) {
            Ok(c) => {
                if let Err(ds) = load_templates(&c.templates, &base_dir(&m.origin.file)) {
                    out.extend(ds.into_iter().map(|d| match d.file {
                        Some(_) => d,
                        None => d.with_file(&m.origin.file),
                    }));
                }
            }
            Err(ds) => out.extend(ds.into_iter().map(|d| d.with_file(&m.origin.file))),
        }
    }
    out
}

/// The directory a configuration's relative `templates:` paths start from: the
/// configuration file's own, or the working directory for standard input and API
/// requests.
pub fn base_dir(file: &str) -> PathBuf {
    let p = Path::new(file);
    if matches!(file, "-" | "request" | "stored" | "") || !p.exists() {
        return PathBuf::new();
    }
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Reads the template files a configuration names (`templates:`, each a path whose
/// last component may hold `*`, `?` and `[...]`; relative ones start at `base`) on
/// top of andon's defaults, in order. A pattern matching no file is not an error, as
/// in Alertmanager; a file that does not parse is, with its own line and column.
pub fn load_templates(
    patterns: &[String],
    base: &Path,
) -> Result<payload::Templates, Vec<andon_spec::Diagnostic>> {
    use andon_spec::diag::{Diagnostic, Pos};
    let mut t = payload::Templates::new()
        .map_err(|e| vec![Diagnostic::at(Pos::new(1, 1), "templates", e.0)])?;
    let mut diags = Vec::new();
    for (i, pattern) in patterns.iter().enumerate() {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        for file in andon_spec::lint::glob(&full) {
            let name = file.display().to_string();
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    diags.push(Diagnostic::at(
                        Pos::new(1, 1),
                        format!("templates[{i}]"),
                        format!("cannot read template file {name}: {e}"),
                    ));
                    continue;
                }
            };
            if let Err(e) = t.add_template_file(&name, &text) {
                diags.push(
                    Diagnostic::at(Pos::new(e.line.max(1), e.col.max(1)), "", e.message)
                        .with_file(&name),
                );
            }
        }
    }
    if diags.is_empty() { Ok(t) } else { Err(diags) }
}

/// Makes a configuration's relative `templates:` paths absolute (from its file's
/// directory), so a server on this machine reads the same files the CLI checked.
pub fn absolute_templates(m: &mut andon_spec::Manifest) {
    let andon_spec::Spec::Foreign(f) = &mut m.spec else { return };
    if m.kind.kind != "AlertmanagerConfig" {
        return;
    }
    let base = base_dir(&m.origin.file);
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let Ok(base) = std::fs::canonicalize(&base) else { return };
    if let Some(list) = f.value.get_mut("templates").and_then(|v| v.as_array_mut()) {
        for v in list {
            if let Some(p) = v.as_str()
                && !Path::new(p).is_absolute()
            {
                *v = serde_json::Value::String(base.join(p).display().to_string());
            }
        }
    }
}

/// The zones of the system's zone database (`/usr/share/zoneinfo`), read on first use.
/// The only file access in this crate, and only when a configuration names a zone.
pub fn system_zones() -> tz::ReadZones<impl Fn(&str) -> Option<Vec<u8>>> {
    tz::ReadZones::new(|name: &str| std::fs::read(format!("/usr/share/zoneinfo/{name}")).ok())
}
