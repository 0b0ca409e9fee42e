//! OpenMetrics 1.0 text, one line at a time, with every rule of the
//! specification checked as early as the stream allows: syntax per line,
//! metadata and sample naming per family, values per sample type, series
//! grouping and timestamp order per series, histogram consistency per
//! histogram point, and name clashes between families.

use std::collections::{HashSet, VecDeque};

use andon_series::{Label, Labels, METRIC_NAME};

use crate::lex::{self, Fail, Res, expected};
use crate::{Entry, Exemplar, Family, MetricType, ParseError, Sample};

/// The most characters an exemplar's label names and values may have.
const EXEMPLAR_LABEL_CHARS: usize = 128;

/// What the parser remembers between lines.
#[derive(Default)]
pub(crate) struct OmState {
    eof: bool,
    fam: Option<Fam>,
    /// Every name a family so far may use for its samples.
    taken: HashSet<String>,
}

/// The family being read.
struct Fam {
    name: String,
    /// The line the family started on.
    line: usize,
    typ: Option<MetricType>,
    help: Option<String>,
    unit: Option<String>,
    /// Whether a sample was seen (metadata is then closed).
    in_samples: bool,
    /// The series (labels without `__name__` and the per-type point label)
    /// the last sample belonged to, and that sample's timestamp in seconds.
    series: Option<Labels>,
    series_ts: Option<f64>,
    /// Every series seen in this family, to keep each one contiguous.
    seen: HashSet<Labels>,
    /// The histogram point being read (histogram and gaugehistogram).
    hist: Option<HistPoint>,
}

impl Fam {
    fn new(name: &str, line: usize) -> Fam {
        Fam {
            name: name.to_owned(),
            line,
            typ: None,
            help: None,
            unit: None,
            in_samples: false,
            series: None,
            series_ts: None,
            seen: HashSet::new(),
            hist: None,
        }
    }

    fn typ(&self) -> MetricType {
        self.typ.unwrap_or(MetricType::Unknown)
    }

    fn has_metadata(&self) -> bool {
        self.typ.is_some() || self.help.is_some() || self.unit.is_some()
    }

    fn metadata(&self) -> Family {
        Family {
            name: self.name.clone(),
            metric_type: self.typ(),
            help: self.help.clone(),
            unit: self.unit.clone(),
        }
    }

    /// The suffix `sample` adds to the family name, if it is one of the
    /// sample names the family's type allows.
    fn suffix_of(&self, sample: &str) -> Option<&'static str> {
        let rest = sample.strip_prefix(self.name.as_str())?;
        suffixes(self.typ()).iter().copied().find(|s| *s == rest)
    }
}

/// The sample name suffixes a type allows.
fn suffixes(t: MetricType) -> &'static [&'static str] {
    match t {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Summary => &["", "_count", "_sum", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Info => &["_info"],
        _ => &[""],
    }
}

/// One histogram point: the samples of one series at one timestamp.
#[derive(Default)]
struct HistPoint {
    last_le: Option<f64>,
    last_bucket: f64,
    inf_bucket: Option<f64>,
    count: Option<f64>,
    sum: bool,
    gsum: Option<f64>,
    negative_bucket: bool,
    /// The line of the point's last sample, where late problems are shown.
    line: usize,
}

/// A parsed sample line, with the offsets its checks point at.
struct Line {
    name_end: usize,
    labels: Labels,
    value: f64,
    value_at: usize,
    /// Seconds and milliseconds.
    ts: Option<(f64, i64)>,
    ts_at: usize,
    exemplar: Option<Exemplar>,
    exemplar_at: usize,
}

impl OmState {
    pub(crate) fn line(
        &mut self,
        raw: &[u8],
        no: usize,
        out: &mut VecDeque<Entry>,
    ) -> Result<(), ParseError> {
        if self.eof {
            return Err(ParseError { line: no, column: 1, message: "text after `# EOF`".into() });
        }
        let line = lex::utf8(raw, no)?;
        if line.is_empty() {
            return Err(ParseError {
                line: no,
                column: 1,
                message: "blank line (not allowed in OpenMetrics)".into(),
            });
        }
        if line == "# EOF" {
            self.close_family(out)?;
            self.eof = true;
            return Ok(());
        }
        if line.starts_with('#') {
            return self.metadata(line, no, out);
        }
        let parsed = parse_sample(line).map_err(|f| f.locate(line, no))?;
        self.sample(line, no, parsed, out)
    }

    pub(crate) fn finish(
        &mut self,
        end: (usize, usize),
        out: &mut VecDeque<Entry>,
    ) -> Result<(), ParseError> {
        if self.eof {
            return Ok(());
        }
        self.close_family(out)?;
        Err(ParseError {
            line: end.0,
            column: end.1,
            message: "missing `# EOF` at the end of the exposition".into(),
        })
    }

    /// Ends the current family: finishes its last histogram point and, for
    /// a family without samples, reserves its names and reports it.
    fn close_family(&mut self, out: &mut VecDeque<Entry>) -> Result<(), ParseError> {
        let Some(mut fam) = self.fam.take() else { return Ok(()) };
        if let Some(point) = fam.hist.take() {
            finish_point(&fam, &point)?;
        }
        if !fam.in_samples {
            take_names(&mut self.taken, &fam)?;
            out.push_back(Entry::Family(fam.metadata()));
        }
        Ok(())
    }

    fn metadata(
        &mut self,
        line: &str,
        no: usize,
        out: &mut VecDeque<Entry>,
    ) -> Result<(), ParseError> {
        let b = line.as_bytes();
        let fail = |at: usize, msg: String| Err(Fail::new(at, msg).locate(line, no));
        if b.get(1) != Some(&b' ') {
            return fail(
                1,
                "expected `# HELP`, `# TYPE`, `# UNIT` or `# EOF` (OpenMetrics has no comments)"
                    .into(),
            );
        }
        let kw_end = line[2..].find(' ').map_or(line.len(), |n| n + 2);
        let kw = &line[2..kw_end];
        if !matches!(kw, "HELP" | "TYPE" | "UNIT") {
            return fail(
                2,
                format!(
                    "unknown line `# {}` (expected HELP, TYPE, UNIT or EOF; OpenMetrics has no \
                     comments)",
                    kw.escape_debug()
                ),
            );
        }
        if kw_end == line.len() {
            return fail(kw_end, format!("expected a space and a metric name after `# {kw}`"));
        }
        let name_at = kw_end + 1;
        let name_end = lex::metric_name_end(b, name_at);
        if name_end == name_at {
            return Err(expected(line, name_at, "a metric name").locate(line, no));
        }
        if b.get(name_end) != Some(&b' ') {
            return Err(expected(line, name_end, "a space after the metric name").locate(line, no));
        }
        let name = &line[name_at..name_end];
        let rest_at = name_end + 1;
        let rest = &line[rest_at..];

        if self.fam.as_ref().is_some_and(|f| f.name != name) {
            self.close_family(out)?;
        }
        let fam = self.fam.get_or_insert_with(|| Fam::new(name, no));
        if fam.in_samples {
            return fail(0, format!("`# {kw}` for `{name}` after its samples"));
        }
        match kw {
            "HELP" => {
                if fam.help.is_some() {
                    return fail(0, format!("second `# HELP` for `{name}`"));
                }
                fam.help = Some(lex::unescape_help(rest, true));
            }
            "TYPE" => {
                if fam.typ.is_some() {
                    return fail(0, format!("second `# TYPE` for `{name}`"));
                }
                let typ = match rest {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" => MetricType::Histogram,
                    "gaugehistogram" => MetricType::GaugeHistogram,
                    "summary" => MetricType::Summary,
                    "info" => MetricType::Info,
                    "stateset" => MetricType::StateSet,
                    "unknown" => MetricType::Unknown,
                    _ => {
                        return fail(
                            rest_at,
                            format!(
                                "unknown metric type `{}` (expected counter, gauge, histogram, \
                                 gaugehistogram, summary, info, stateset or unknown)",
                                rest.escape_debug()
                            ),
                        );
                    }
                };
                if fam.unit.as_ref().is_some_and(|u| !u.is_empty()) && unitless(typ) {
                    return fail(rest_at, format!("a family of type {typ} cannot have a unit"));
                }
                fam.typ = Some(typ);
            }
            _ => {
                if fam.unit.is_some() {
                    return fail(0, format!("second `# UNIT` for `{name}`"));
                }
                if let Some(bad) = rest.bytes().position(|c| !lex::is_metric_char(c)) {
                    return Err(expected(
                        line,
                        rest_at + bad,
                        "a unit made of metric name characters",
                    )
                    .locate(line, no));
                }
                if !rest.is_empty() {
                    if !name.strip_suffix(rest).is_some_and(|n| n.ends_with('_')) {
                        return fail(
                            rest_at,
                            format!("the metric name `{name}` must end in `_{rest}`, its unit"),
                        );
                    }
                    if fam.typ.is_some_and(unitless) {
                        return fail(
                            rest_at,
                            format!("a family of type {} cannot have a unit", fam.typ()),
                        );
                    }
                }
                fam.unit = Some(rest.to_owned());
            }
        }
        Ok(())
    }

    fn sample(
        &mut self,
        line: &str,
        no: usize,
        s: Line,
        out: &mut VecDeque<Entry>,
    ) -> Result<(), ParseError> {
        let name = &line[..s.name_end];
        let suffix = match self.fam.as_ref().and_then(|f| f.suffix_of(name)) {
            Some(suffix) => suffix,
            None => {
                self.close_family(out)?;
                ""
            }
        };
        let fam = self.fam.get_or_insert_with(|| Fam::new(name, no));
        if !fam.in_samples {
            fam.in_samples = true;
            take_names(&mut self.taken, fam)?;
            if fam.has_metadata() {
                out.push_back(Entry::Family(fam.metadata()));
            }
        }
        check_value(fam, suffix, &s).map_err(|f| f.locate(line, no))?;
        if s.exemplar.is_some() && !exemplar_allowed(fam.typ(), suffix) {
            return Err(Fail::new(
                s.exemplar_at,
                format!("exemplars are only allowed on counter `_total` and histogram `_bucket` samples, not on `{name}`"),
            )
            .locate(line, no));
        }
        check_series(fam, suffix, &s, line, no)?;
        if matches!(fam.typ(), MetricType::Histogram | MetricType::GaugeHistogram) {
            add_to_point(fam, suffix, &s, no).map_err(|f| f.locate(line, no))?;
        }
        out.push_back(Entry::Sample(Sample {
            labels: s.labels,
            value: s.value,
            timestamp_ms: s.ts.map(|t| t.1),
            exemplar: s.exemplar,
        }));
        Ok(())
    }
}

fn unitless(t: MetricType) -> bool {
    matches!(t, MetricType::Info | MetricType::StateSet)
}

fn exemplar_allowed(t: MetricType, suffix: &str) -> bool {
    match t {
        MetricType::Counter => suffix == "_total",
        MetricType::Histogram | MetricType::GaugeHistogram => suffix == "_bucket",
        _ => false,
    }
}

/// Reserves every sample name `fam` may use; no other family may use them.
fn take_names(taken: &mut HashSet<String>, fam: &Fam) -> Result<(), ParseError> {
    let mut names: Vec<String> =
        suffixes(fam.typ()).iter().map(|s| format!("{}{s}", fam.name)).collect();
    if !names.contains(&fam.name) {
        names.push(fam.name.clone());
    }
    for n in names {
        if taken.contains(&n) {
            let message = if n == fam.name {
                format!("metric family `{n}` appears twice or clashes with an earlier family")
            } else {
                format!(
                    "metric family `{}` clashes with an earlier family that uses the name `{n}`",
                    fam.name
                )
            };
            return Err(ParseError { line: fam.line, column: 1, message });
        }
        taken.insert(n);
    }
    Ok(())
}

/// The label, if any, that tells a type's points apart within one series.
fn point_label<'a>(fam: &'a Fam, suffix: &str) -> Option<&'a str> {
    match (fam.typ(), suffix) {
        (MetricType::Summary, "") => Some("quantile"),
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Some("le"),
        (MetricType::StateSet, _) => Some(fam.name.as_str()),
        _ => None,
    }
}

/// The value and label rules of the sample's type.
fn check_value(fam: &Fam, suffix: &str, s: &Line) -> Res<()> {
    let v = s.value;
    let at = s.value_at;
    let not_nan = |what: &str| {
        if v.is_nan() { Err(Fail::new(at, format!("{what} cannot be NaN"))) } else { Ok(()) }
    };
    let not_negative = |what: &str| {
        if v < 0.0 { Err(Fail::new(at, format!("{what} cannot be negative"))) } else { Ok(()) }
    };
    let integer = |what: &str| {
        if v.is_finite() && v.fract() == 0.0 {
            Ok(())
        } else {
            Err(Fail::new(at, format!("{what} must be an integer")))
        }
    };
    let counter_like = |what: &str| not_nan(what).and_then(|()| not_negative(what));
    let count_like = |what: &str| counter_like(what).and_then(|()| integer(what));
    match (fam.typ(), suffix) {
        (MetricType::Counter, "_total") => counter_like("a counter value"),
        (MetricType::Summary, "") => {
            let q = bound_label(s, "quantile")?;
            if !(0.0..=1.0).contains(&q) {
                return Err(Fail::new(s.name_end, format!("quantile {q} is outside [0, 1]")));
            }
            not_negative("a quantile value")
        }
        (MetricType::Summary | MetricType::Histogram, "_sum") => counter_like("a `_sum`"),
        (MetricType::Summary | MetricType::Histogram, "_count") => count_like("a `_count`"),
        (MetricType::GaugeHistogram, "_gcount") => count_like("a `_gcount`"),
        (MetricType::GaugeHistogram, "_gsum") => not_nan("a `_gsum`"),
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
            bound_label(s, "le")?;
            count_like("a bucket count")
        }
        (MetricType::StateSet, _) => {
            if !s.labels.has(&fam.name) {
                return Err(Fail::new(
                    s.name_end,
                    format!("a stateset sample needs a label named `{}` for its state", fam.name),
                ));
            }
            if v == 0.0 || v == 1.0 {
                Ok(())
            } else {
                Err(Fail::new(at, "a stateset value must be 0 or 1"))
            }
        }
        (MetricType::Info, _) => {
            if v == 1.0 {
                Ok(())
            } else {
                Err(Fail::new(at, "an info value must be 1"))
            }
        }
        _ => Ok(()),
    }
}

/// The value of the `le` or `quantile` label: a number, not NaN, with an
/// infinity written `+Inf` or `-Inf`.
fn bound_label(s: &Line, name: &str) -> Res<f64> {
    let Some(text) = s.labels.get(name) else {
        return Err(Fail::new(s.name_end, format!("missing the `{name}` label")));
    };
    match lex::number(text) {
        Some(v) if v.is_nan() => Err(Fail::new(s.name_end, format!("`{name}` cannot be NaN"))),
        Some(v) if v.is_infinite() && text != "+Inf" && text != "-Inf" => Err(Fail::new(
            s.name_end,
            format!("`{name}=\"{text}\"`: write an infinite bound as `+Inf` or `-Inf`"),
        )),
        Some(v) => Ok(v),
        None => Err(Fail::new(s.name_end, format!("`{name}=\"{text}\"` is not a number"))),
    }
}

/// Keeps each series contiguous and its timestamps in order; finishes the
/// histogram point when a new one starts.
fn check_series(
    fam: &mut Fam,
    suffix: &str,
    s: &Line,
    line: &str,
    no: usize,
) -> Result<(), ParseError> {
    let mut key = s.labels.without(&[METRIC_NAME]);
    if let Some(l) = point_label(fam, suffix) {
        key = key.without(&[l]);
    }
    let ts = s.ts.map(|t| t.0);
    let same_series = fam.series.as_ref() == Some(&key);
    if same_series {
        match (fam.series_ts, ts) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(Fail::new(
                    s.ts_at,
                    "a series mixes samples with and without timestamps",
                )
                .locate(line, no));
            }
            (Some(prev), Some(t)) if t < prev => {
                return Err(Fail::new(s.ts_at, "timestamp goes backwards within the series")
                    .locate(line, no));
            }
            _ => {}
        }
    } else if fam.seen.contains(&key) {
        return Err(ParseError {
            line: no,
            column: 1,
            message: format!("the samples of series {key} of `{}` are not together", fam.name),
        });
    }
    let new_point = !same_series || fam.series_ts != ts;
    if new_point && let Some(point) = fam.hist.take() {
        finish_point(fam, &point)?;
    }
    if !same_series {
        fam.seen.insert(key.clone());
        fam.series = Some(key);
    }
    fam.series_ts = ts;
    if matches!(fam.typ(), MetricType::Histogram | MetricType::GaugeHistogram) && fam.hist.is_none()
    {
        fam.hist = Some(HistPoint { line: no, ..HistPoint::default() });
    }
    Ok(())
}

/// Adds a sample to the histogram point being read.
fn add_to_point(fam: &mut Fam, suffix: &str, s: &Line, no: usize) -> Res<()> {
    let gauge = fam.typ() == MetricType::GaugeHistogram;
    let Some(p) = fam.hist.as_mut() else { return Ok(()) };
    p.line = no;
    let v = s.value;
    match suffix {
        "_bucket" => {
            let le = bound_label(s, "le")?;
            if let Some(prev) = p.last_le
                && le <= prev
            {
                return Err(Fail::new(
                    s.name_end,
                    format!("bucket bounds must increase: le={le} after le={prev}"),
                ));
            }
            if p.last_le.is_some() && v < p.last_bucket {
                return Err(Fail::new(
                    s.value_at,
                    format!("bucket counts must not decrease: {v} after {}", p.last_bucket),
                ));
            }
            p.last_le = Some(le);
            p.last_bucket = v;
            if le < 0.0 {
                p.negative_bucket = true;
                if p.sum {
                    return Err(Fail::new(
                        s.name_end,
                        "a histogram with a negative bucket bound cannot have a `_sum`",
                    ));
                }
            }
            if le == f64::INFINITY {
                p.inf_bucket = Some(v);
                if let Some(c) = p.count
                    && c != v
                {
                    return Err(Fail::new(
                        s.value_at,
                        format!("the +Inf bucket ({v}) differs from the count ({c})"),
                    ));
                }
            }
        }
        "_count" | "_gcount" => {
            p.count = Some(v);
            if let Some(inf) = p.inf_bucket
                && inf != v
            {
                return Err(Fail::new(
                    s.value_at,
                    format!("the count ({v}) differs from the +Inf bucket ({inf})"),
                ));
            }
        }
        "_sum" if !gauge => {
            p.sum = true;
            if p.negative_bucket {
                return Err(Fail::new(
                    0,
                    "a histogram with a negative bucket bound cannot have a `_sum`",
                ));
            }
        }
        "_gsum" => p.gsum = Some(v),
        _ => {}
    }
    Ok(())
}

/// The checks a histogram point allows only once it is complete.
fn finish_point(fam: &Fam, p: &HistPoint) -> Result<(), ParseError> {
    let fail = |message: String| Err(ParseError { line: p.line, column: 1, message });
    let name = &fam.name;
    if p.inf_bucket.is_none() {
        return fail(format!("histogram `{name}` has a point without a `le=\"+Inf\"` bucket"));
    }
    if fam.typ() == MetricType::GaugeHistogram {
        match (p.count.is_some(), p.gsum) {
            (true, None) => return fail(format!("`{name}_gcount` without `{name}_gsum`")),
            (false, Some(_)) => return fail(format!("`{name}_gsum` without `{name}_gcount`")),
            (_, Some(g)) if g < 0.0 && !p.negative_bucket => {
                return fail(format!("`{name}_gsum` is negative but no bucket bound is"));
            }
            _ => {}
        }
    } else {
        match (p.count.is_some(), p.sum) {
            (true, false) => return fail(format!("`{name}_count` without `{name}_sum`")),
            (false, true) => return fail(format!("`{name}_sum` without `{name}_count`")),
            _ => {}
        }
    }
    Ok(())
}

/// Parses one sample line: `name[{labels}] value [timestamp] [# {labels} value [timestamp]]`,
/// single spaces only.
fn parse_sample(line: &str) -> Res<Line> {
    let b = line.as_bytes();
    let name_end = lex::metric_name_end(b, 0);
    if name_end == 0 {
        return Err(expected(line, 0, "a metric name"));
    }
    let mut pairs = vec![(Label::new(METRIC_NAME, &line[..name_end]), 0)];
    let mut i = name_end;
    if b.get(i) == Some(&b'{') {
        i = lex::label_set(line, i, false, &mut pairs)?;
    }
    if b.get(i) != Some(&b' ') {
        return Err(expected(line, i, "a space and the sample value"));
    }
    let value_at = i + 1;
    let (value, value_end) = number_token(line, value_at, "the sample value")?;
    i = value_end;
    let mut ts = None;
    let mut ts_at = value_at;
    let mut exemplar = None;
    let mut exemplar_at = i;
    if i < b.len() {
        i += 1; // the space after the value
        if b.get(i) != Some(&b'#') {
            ts_at = i;
            let (t, end) = timestamp_token(line, i, "a timestamp")?;
            ts = Some(t);
            i = end;
            if i < b.len() {
                if b.get(i + 1) != Some(&b'#') {
                    return Err(expected(line, i + 1, "`#` starting an exemplar"));
                }
                i += 1;
            }
        }
        if i < b.len() {
            exemplar_at = i;
            exemplar = Some(parse_exemplar(line, i)?);
        }
    }
    let labels = lex::finish_labels(pairs)?;
    Ok(Line { name_end, labels, value, value_at, ts, ts_at, exemplar, exemplar_at })
}

/// Parses ` # {labels} value [timestamp]` from the `#` at `at` to the end.
fn parse_exemplar(line: &str, at: usize) -> Res<Exemplar> {
    let b = line.as_bytes();
    if b.get(at + 1) != Some(&b' ') {
        return Err(expected(line, at + 1, "a space after the exemplar's `#`"));
    }
    if b.get(at + 2) != Some(&b'{') {
        return Err(expected(line, at + 2, "`{` starting the exemplar's labels"));
    }
    let mut pairs = Vec::new();
    let mut i = lex::label_set(line, at + 2, false, &mut pairs)?;
    let chars: usize =
        pairs.iter().map(|(l, _)| l.name.chars().count() + l.value.chars().count()).sum();
    if chars > EXEMPLAR_LABEL_CHARS {
        return Err(Fail::new(
            at + 2,
            format!("exemplar labels have {chars} characters, more than {EXEMPLAR_LABEL_CHARS}"),
        ));
    }
    let labels = lex::finish_labels(pairs)?;
    if b.get(i) != Some(&b' ') {
        return Err(expected(line, i, "a space and the exemplar value"));
    }
    let (value, end) = number_token(line, i + 1, "the exemplar value")?;
    i = end;
    let mut timestamp_ms = None;
    if i < b.len() {
        let ((_, ms), end) = timestamp_token(line, i + 1, "the exemplar timestamp")?;
        timestamp_ms = Some(ms);
        if end < b.len() {
            return Err(Fail::new(end, "unexpected text after the exemplar"));
        }
    }
    Ok(Exemplar { labels, value, timestamp_ms })
}

/// The token from `at` to the next space or the end of the line.
fn token(line: &str, at: usize) -> (&str, usize) {
    let end = line.get(at..).and_then(|r| r.find(' ')).map_or(line.len(), |n| at + n);
    (line.get(at..end).unwrap_or_default(), end)
}

fn number_token(line: &str, at: usize, what: &str) -> Res<(f64, usize)> {
    let (tok, end) = token(line, at);
    if tok.is_empty() {
        return Err(expected(line, at, what));
    }
    match lex::number(tok) {
        Some(v) => Ok((v, end)),
        None => Err(Fail::new(at, format!("invalid number `{}` for {what}", tok.escape_debug()))),
    }
}

/// A timestamp in decimal seconds: (seconds, milliseconds) and the end.
fn timestamp_token(line: &str, at: usize, what: &str) -> Res<((f64, i64), usize)> {
    let (tok, end) = token(line, at);
    if tok.is_empty() {
        return Err(expected(line, at, what));
    }
    if !lex::is_real(tok) {
        return Err(Fail::new(
            at,
            format!("invalid timestamp `{}` (expected decimal seconds)", tok.escape_debug()),
        ));
    }
    let secs: f64 = tok.parse().unwrap_or(f64::NAN);
    Ok(((secs, lex::seconds_to_ms(tok)), end))
}
