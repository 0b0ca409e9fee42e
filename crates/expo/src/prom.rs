//! The Prometheus text exposition format 0.0.4, one line at a time, as
//! leniently as Prometheus's own parser: blanks between tokens, blank lines
//! and comments are accepted; metadata is reported, never enforced.

use std::collections::VecDeque;

use andon_series::{Label, METRIC_NAME};

use crate::lex::{self, Fail, Res, expected, is_blank, skip_blanks};
use crate::{Entry, Family, MetricType, ParseError, Sample};

/// What the parser remembers between lines: the family whose `# HELP` /
/// `# TYPE` lines are being read.
#[derive(Default)]
pub(crate) struct PromState {
    pending: Option<Family>,
}

enum Meta {
    Help,
    Type,
}

impl PromState {
    pub(crate) fn line(
        &mut self,
        raw: &[u8],
        no: usize,
        out: &mut VecDeque<Entry>,
    ) -> Result<(), ParseError> {
        let start = skip_blanks(raw, 0);
        let Some(&first) = raw.get(start) else { return Ok(()) };
        if first == b'\r' && raw.len() == start + 1 {
            return Ok(());
        }
        let meta = if first == b'#' { meta_kind(raw, start) } else { None };
        if first == b'#' && meta.is_none() {
            return Ok(()); // A comment.
        }
        let line = lex::utf8(raw, no)?;
        // Trailing blanks (and a `\r` before the newline) are ignored.
        let end = line.trim_end_matches([' ', '\t', '\r']).len();
        let result = match meta {
            Some((kind, at)) => self.meta(line, at, end, kind, out),
            None => self.sample(line, start, end, out),
        };
        result.map_err(|f| f.locate(line, no))
    }

    pub(crate) fn finish(&mut self, out: &mut VecDeque<Entry>) {
        if let Some(f) = self.pending.take() {
            out.push_back(Entry::Family(f));
        }
    }

    /// A `# HELP` or `# TYPE` line whose metric name starts at `at`.
    fn meta(
        &mut self,
        line: &str,
        at: usize,
        end: usize,
        kind: Meta,
        out: &mut VecDeque<Entry>,
    ) -> Res<()> {
        let b = line.as_bytes();
        let name_end = lex::metric_name_end(b, at);
        if name_end == at {
            return Err(expected(line, at, "a metric name"));
        }
        if name_end < end && !is_blank(b[name_end]) {
            return Err(expected(line, name_end, "a blank after the metric name"));
        }
        let name = &line[at..name_end];
        let text_at = skip_blanks(b, name_end).min(end);
        let text = &line[text_at..end];
        let family = match &mut self.pending {
            Some(f) if f.name == name => f,
            pending => {
                if let Some(f) = pending.take() {
                    out.push_back(Entry::Family(f));
                }
                pending.insert(Family {
                    name: name.to_owned(),
                    metric_type: MetricType::Untyped,
                    help: None,
                    unit: None,
                })
            }
        };
        match kind {
            Meta::Help => family.help = Some(lex::unescape_help(text, false)),
            Meta::Type => {
                let word_end = text.find([' ', '\t']).unwrap_or(text.len());
                if word_end < text.len() {
                    return Err(Fail::new(
                        text_at + word_end,
                        "unexpected text after the metric type",
                    ));
                }
                family.metric_type = match text.to_ascii_lowercase().as_str() {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" => MetricType::Histogram,
                    "summary" => MetricType::Summary,
                    "untyped" => MetricType::Untyped,
                    "" => return Err(expected(line, text_at, "a metric type")),
                    _ => {
                        return Err(Fail::new(
                            text_at,
                            format!(
                                "unknown metric type `{}` (expected counter, gauge, \
                                 histogram, summary or untyped)",
                                text.escape_debug()
                            ),
                        ));
                    }
                };
            }
        }
        Ok(())
    }

    /// A sample line starting at `at` and ending (blanks trimmed) at `end`.
    fn sample(&mut self, line: &str, at: usize, end: usize, out: &mut VecDeque<Entry>) -> Res<()> {
        let b = line.as_bytes();
        let name_end = lex::metric_name_end(b, at);
        if name_end == at {
            return Err(expected(line, at, "a metric name"));
        }
        let mut pairs = vec![(Label::new(METRIC_NAME, &line[at..name_end]), at)];
        let mut i = skip_blanks(b, name_end);
        if b.get(i) == Some(&b'{') {
            i = lex::label_set(line, i, true, &mut pairs)?;
            i = skip_blanks(b, i);
        } else if i == name_end && i < end {
            return Err(expected(line, i, "a blank or `{` after the metric name"));
        }
        if i >= end {
            return Err(expected(line, i.min(end), "a sample value"));
        }
        let value_end = token_end(b, i, end);
        let token = &line[i..value_end];
        let Some(value) = lex::number(token) else {
            return Err(Fail::new(i, format!("invalid sample value `{}`", token.escape_debug())));
        };
        i = skip_blanks(b, value_end).min(end);
        let mut timestamp_ms = None;
        if i < end {
            let ts_end = token_end(b, i, end);
            let token = &line[i..ts_end];
            timestamp_ms = Some(millis(token).map_err(|m| Fail::new(i, m))?);
            i = skip_blanks(b, ts_end).min(end);
            if i < end {
                return Err(Fail::new(i, "unexpected text after the timestamp"));
            }
        }
        let labels = lex::finish_labels(pairs)?;
        if let Some(f) = self.pending.take() {
            out.push_back(Entry::Family(f));
        }
        out.push_back(Entry::Sample(Sample { labels, value, timestamp_ms, exemplar: None }));
        Ok(())
    }
}

/// Whether the comment at `start` is `# HELP ` or `# TYPE ` (with blanks),
/// and where the metric name would start.
fn meta_kind(raw: &[u8], start: usize) -> Option<(Meta, usize)> {
    let kw = skip_blanks(raw, start + 1);
    if kw == start + 1 {
        return None;
    }
    let word = raw.get(kw..kw + 4)?;
    let kind = match word {
        b"HELP" => Meta::Help,
        b"TYPE" => Meta::Type,
        _ => return None,
    };
    let after = kw + 4;
    if !raw.get(after).is_some_and(|c| is_blank(*c)) {
        return None;
    }
    Some((kind, skip_blanks(raw, after)))
}

/// The end of the token at `at`: the next blank or `end`.
fn token_end(b: &[u8], at: usize, end: usize) -> usize {
    b[at..end].iter().position(|c| is_blank(*c)).map_or(end, |n| at + n)
}

/// A timestamp in integer milliseconds.
fn millis(token: &str) -> Result<i64, String> {
    let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "invalid timestamp `{}` (expected integer milliseconds)",
            token.escape_debug()
        ));
    }
    token.parse().map_err(|_| format!("timestamp `{token}` is out of range"))
}
