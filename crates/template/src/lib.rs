//! Go's `text/template` language (parse, execute) with the function sets Prometheus and Alertmanager give their templates.
//!
//! ```
//! use andon_template::{Funcs, NoHost, Template, Value};
//!
//! let t = Template::parse("greeting", "{{ .name | toUpper }} has {{ len .items }} items", Funcs::Alertmanager)?;
//! let data = Value::map([("name", Value::from("ada")), ("items", Value::from(vec![1i64, 2]))]);
//! assert_eq!(t.execute(&data, &NoHost)?, "ADA has 2 items");
//! # Ok::<(), andon_template::Error>(())
//! ```
//!
//! Data is a [`Value`]. Maps stand for both Go maps and structs: `.Name` reads a key. Maps
//! whose values are all strings act like Go's `map[string]string` (a missing key reads as
//! `""`, otherwise as nil) and carry Alertmanager's label-set methods (`SortedPairs`,
//! `Names`, `Values`, `Remove`, `String`) when no key of that name exists. Lists offer
//! `Firing`/`Resolved` (elements whose `Status` is `firing`/`resolved`), `Names`/`Values`
//! (of `{Name, Value}` pairs) and `Join`. Times and durations ([`Value::Time`],
//! [`Value::Duration`]) print like Go's and offer their common methods (`Format`, `Add`,
//! `Sub`, `Unix`, `UnixMilli`, `String`, `Seconds`, …).
//!
//! Alertmanager's notification data therefore looks like: a map with `Receiver`, `Status`,
//! `ExternalURL` (strings), `GroupLabels`, `CommonLabels`, `CommonAnnotations` (string maps)
//! and `Alerts`: a list of maps with `Status`, `Labels`, `Annotations`, `StartsAt`, `EndsAt`
//! (times; [`Time::zero`] when unset), `GeneratorURL` and `Fingerprint`.
//!
//! Execution is bounded: output is capped at 1 MiB, work at ten million steps (commands,
//! loop iterations, copied list elements), `{{template}}` calls at 1000 levels or 512 KiB
//! of stack, and parsing at 100 levels of nested control structures or parentheses.

mod exec;
mod funcs;
mod gofmt;
mod gotime;
mod lex;
mod parse;
mod value;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

pub use funcs::Funcs;

/// Go's `strconv.FormatFloat(v, verb, -1, 64)`: the shortest digits that read back as
/// `v`, in the form of `verb` (`b'g'`, `b'e'`, `b'E'`, `b'f'`, …).
pub fn go_format_float(v: f64, verb: u8) -> String {
    gofmt::format_float(v, verb, -1)
}

/// What Go's `%v` prints for a float (`0.95`, `1e+06`, `NaN`, `+Inf`).
pub fn go_float(v: f64) -> String {
    go_format_float(v, b'g')
}

/// Go's shortest `'f'` form: never an exponent.
pub fn go_float_fixed(v: f64) -> String {
    go_format_float(v, b'f')
}
pub use value::{Time, Value};

use exec::{Def, Exec, Source};

/// A parse or execution error, positioned in the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Name of the template text (as given to `parse` or `add`).
    pub name: String,
    /// 1-based line; 0 when the error has no position.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "template: {}: {}", self.name, self.message)
        } else {
            write!(f, "template: {}:{}:{}: {}", self.name, self.line, self.col, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// One sample of an instant-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// What templates need from their surroundings.
pub trait Host {
    /// Runs an instant query for Prometheus's `query` function.
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String>;
    /// `externalURL`.
    fn external_url(&self) -> &str;
    /// `pathPrefix`: the path of the external URL.
    fn path_prefix(&self) -> &str;
    /// "Now" in Unix seconds: Prometheus's `now` (the evaluation time), Alertmanager's `now`
    /// and `since`.
    fn now(&self) -> f64;
    /// Resolves a time-zone name for Alertmanager's `tz` at an instant: (UTC offset in
    /// seconds, abbreviation). `UTC`, `Local` (taken as UTC) and `Etc/GMT±N` need no host.
    fn time_zone(&self, name: &str, unix_secs: i64) -> Option<(i32, String)> {
        let _ = (name, unix_secs);
        None
    }
}

/// A host without a query engine, external URL or zone database; `now` is the system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl Host for NoHost {
    fn query(&self, _expr: &str) -> Result<Vec<QuerySample>, String> {
        Err("no query engine".into())
    }
    fn external_url(&self) -> &str {
        ""
    }
    fn path_prefix(&self) -> &str {
        ""
    }
    fn now(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A parsed template set: a main template plus the templates it and added texts define.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    funcs: Funcs,
    defs: HashMap<String, Arc<Def>>,
}

fn perr(src: &Source, (pos, message): (usize, String)) -> Error {
    let (line, col) = src.line_col(pos);
    Error { name: src.name.clone(), line, col, message }
}

impl Template {
    /// Parses `text` as the template `name`, with Go's builtins and the functions of `funcs`.
    pub fn parse(name: &str, text: &str, funcs: Funcs) -> Result<Template, Error> {
        Template::parse_with_vars(name, text, funcs, &[])
    }

    /// Like [`Template::parse`], but the main text may also use the variables `vars`
    /// (each with its `$`), bound by [`Template::execute_with_vars`].
    pub fn parse_with_vars(
        name: &str,
        text: &str,
        funcs: Funcs,
        vars: &[&str],
    ) -> Result<Template, Error> {
        let mut t = Template { name: name.to_owned(), funcs, defs: HashMap::new() };
        t.add_text(name, text, vars)?;
        Ok(t)
    }

    fn add_text(&mut self, name: &str, text: &str, vars: &[&str]) -> Result<(), Error> {
        let src = Arc::new(Source { name: name.to_owned(), text: text.to_owned() });
        let parsed = parse::parse(text, self.funcs, vars).map_err(|e| perr(&src, e))?;
        for d in parsed.defs {
            let empty = parse::is_empty_list(&d.list);
            if empty && self.defs.contains_key(&d.name) {
                continue;
            }
            let def = Def { list: d.list, src: Arc::clone(&src), vars: Vec::new() };
            self.defs.insert(d.name, Arc::new(def));
        }
        let empty = parse::is_empty_list(&parsed.main);
        if !(empty && self.defs.contains_key(name)) {
            let def = Def {
                list: parsed.main,
                src,
                vars: vars.iter().map(|v| (*v).to_owned()).collect(),
            };
            self.defs.insert(name.to_owned(), Arc::new(def));
        }
        Ok(())
    }

    /// Adds the definitions of another text (Alertmanager loads several template files).
    /// Its top level becomes the template `name` unless it is only whitespace; definitions
    /// replace earlier ones of the same name unless they are empty.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), Error> {
        self.add_text(name, text, &[])
    }

    /// The name of the main template.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a template of this name exists (the main one or a definition).
    pub fn has(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// Names of all templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.defs.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Executes the main template with `data` as `.` and `$`.
    pub fn execute(&self, data: &Value, host: &dyn Host) -> Result<String, Error> {
        self.execute_named_with(&self.name, data, host, &[])
    }

    /// Executes the main template, binding the extra variables it was parsed with.
    pub fn execute_with_vars(
        &self,
        data: &Value,
        host: &dyn Host,
        vars: &[(&str, Value)],
    ) -> Result<String, Error> {
        self.execute_named_with(&self.name, data, host, vars)
    }

    /// Executes a named `define`d template.
    pub fn execute_named(
        &self,
        name: &str,
        data: &Value,
        host: &dyn Host,
    ) -> Result<String, Error> {
        self.execute_named_with(name, data, host, &[])
    }

    fn execute_named_with(
        &self,
        name: &str,
        data: &Value,
        host: &dyn Host,
        vars: &[(&str, Value)],
    ) -> Result<String, Error> {
        let Some(def) = self.defs.get(name) else {
            return Err(Error {
                name: self.name.clone(),
                line: 0,
                col: 0,
                message: format!("no template {name:?} associated with template {:?}", self.name),
            });
        };
        let extra: Vec<(String, Value)> = def
            .vars
            .iter()
            .map(|v| {
                let value =
                    vars.iter().find(|(n, _)| n == v).map_or(Value::Nil, |(_, x)| x.clone());
                (v.clone(), value)
            })
            .collect();
        Exec::new(&self.defs, host, self.funcs, def, name).run(def, data, extra)
    }
}

/// The variables Prometheus defines for alert templates.
const ALERT_VARS: [&str; 4] = ["$labels", "$externalLabels", "$externalURL", "$value"];

/// Prometheus's alert-template expansion: `$labels`, `$externalLabels`, `$externalURL` and
/// `$value` are defined (as Prometheus's prefix defines them), and `.` is
/// `{Labels, ExternalLabels, ExternalURL, Value}`. Positions in errors point into `text`.
pub fn expand_alert(
    name: &str,
    text: &str,
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
    host: &dyn Host,
) -> Result<String, Error> {
    execute_alert(&parse_alert(name, text)?, labels, external_labels, external_url, value, host)
}

/// Parses an alert template once, for repeated [`execute_alert`] calls.
pub fn parse_alert(name: &str, text: &str) -> Result<Template, Error> {
    Template::parse_with_vars(name, text, Funcs::Prometheus, &ALERT_VARS)
}

/// Runs a template from [`parse_alert`] for one alert.
pub fn execute_alert(
    t: &Template,
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
    host: &dyn Host,
) -> Result<String, Error> {
    let labels = Value::from(labels);
    let external = Value::from(external_labels);
    let data = Value::map([
        ("Labels", labels.clone()),
        ("ExternalLabels", external.clone()),
        ("ExternalURL", Value::from(external_url)),
        ("Value", Value::Float(value)),
    ]);
    let vars = [
        ("$labels", labels),
        ("$externalLabels", external),
        ("$externalURL", Value::from(external_url)),
        ("$value", Value::Float(value)),
    ];
    t.execute_with_vars(&data, host, &vars)
}

/// Parse-only check of an alert template (for `rules check`): same variables, Prometheus functions.
pub fn check_alert(name: &str, text: &str) -> Result<(), Error> {
    parse_alert(name, text).map(|_| ())
}

#[cfg(test)]
mod tests;
