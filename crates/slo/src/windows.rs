//! Multiwindow multi-burn-rate alert windows: the built-in 30-day and 28-day sets
//! (Google's SRE workbook parameters, as Sloth ships them) and custom sets read from
//! Sloth's `AlertWindows` files (`apiVersion: sloth.slok.dev/v1`).

use andon_spec::Diagnostic;
use andon_spec::decode::Ctx;
use andon_spec::yaml::{self, Node, Value};

use crate::gofmt::{hours, parse_prom_duration, prom_duration};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

/// One alert's pair of windows and the share of the period's error budget that,
/// burnt within the long window, fires it.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Percent of the whole period's error budget consumed within `long_window_ms`.
    pub error_budget_percent: f64,
    /// The window that stops the alert once the problem is gone.
    pub short_window_ms: i64,
    /// The window the budget consumption is measured over.
    pub long_window_ms: i64,
}

/// The four windows of multiwindow multi-burn-rate alerting for one SLO period.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWindows {
    pub slo_period_ms: i64,
    pub page_quick: Window,
    pub page_slow: Window,
    pub ticket_quick: Window,
    pub ticket_slow: Window,
}

fn google(period_ms: i64) -> AlertWindows {
    let w = |pct: f64, short: i64, long: i64| Window {
        error_budget_percent: pct,
        short_window_ms: short,
        long_window_ms: long,
    };
    AlertWindows {
        slo_period_ms: period_ms,
        page_quick: w(2.0, 5 * MINUTE, HOUR),
        page_slow: w(5.0, 30 * MINUTE, 6 * HOUR),
        ticket_quick: w(10.0, 2 * HOUR, DAY),
        ticket_slow: w(10.0, 6 * HOUR, 3 * DAY),
    }
}

impl AlertWindows {
    /// The default 30-day windows: page 14.4× over 1h/5m and 6× over 6h/30m,
    /// ticket 3× over 1d/2h and 1× over 3d/6h.
    pub fn default_30d() -> Self {
        google(30 * DAY)
    }

    /// The 28-day windows (same budget shares as the 30-day ones).
    pub fn default_28d() -> Self {
        google(28 * DAY)
    }

    /// The built-in windows for a period, if there are any.
    pub fn builtin(period_ms: i64) -> Option<Self> {
        match period_ms {
            p if p == 30 * DAY => Some(Self::default_30d()),
            p if p == 28 * DAY => Some(Self::default_28d()),
            _ => None,
        }
    }

    /// How many times faster than the period allows the budget burns when `w`'s
    /// share is consumed within its long window.
    pub fn burn_rate_factor(&self, w: &Window) -> f64 {
        let hours_to_consume = w.error_budget_percent * hours(self.slo_period_ms) / 100.0;
        hours_to_consume / hours(w.long_window_ms)
    }

    /// The distinct windows the alerts need SLI recordings for, shortest first.
    pub fn alert_windows_ms(&self) -> Vec<i64> {
        let mut v = vec![
            self.page_quick.short_window_ms,
            self.page_quick.long_window_ms,
            self.page_slow.short_window_ms,
            self.page_slow.long_window_ms,
            self.ticket_quick.short_window_ms,
            self.ticket_quick.long_window_ms,
            self.ticket_slow.short_window_ms,
            self.ticket_slow.long_window_ms,
        ];
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Reads an `AlertWindows` file (one document).
pub fn read_windows(bytes: &[u8], file: &str) -> Result<AlertWindows, Vec<Diagnostic>> {
    let docs = yaml::parse(bytes).map_err(|d| vec![d.with_file(file)])?;
    let mut docs = docs.into_iter().filter(|d| d.root.value != Value::Null);
    let Some(doc) = docs.next() else {
        return Err(vec![
            Diagnostic::at(
                andon_spec::Pos::new(1, 1),
                "",
                "the file holds no AlertWindows document",
            )
            .with_file(file),
        ]);
    };
    let mut ctx = Ctx::default();
    if let Some(extra) = docs.next() {
        ctx.error(extra.pos, "", "only one AlertWindows document is allowed in a windows file");
    }
    let windows = decode_windows(&mut ctx, &doc.root);
    match windows {
        Some(w) if ctx.diags.is_empty() => Ok(w),
        _ => Err(ctx.diags.into_iter().map(|d| d.with_file(file)).collect()),
    }
}

fn decode_windows(ctx: &mut Ctx, root: &Node) -> Option<AlertWindows> {
    let obj = ctx.object(root, "", &["apiVersion", "kind", "spec"])?;
    if let Some(n) = obj.require(ctx, "apiVersion")
        && let Some(v) = ctx.string(n, "apiVersion")
        && v != "sloth.slok.dev/v1"
    {
        ctx.error(n.pos, "apiVersion", format!("expected \"sloth.slok.dev/v1\", found {v:?}"));
    }
    if let Some(n) = obj.require(ctx, "kind")
        && let Some(v) = ctx.string(n, "kind")
        && v != "AlertWindows"
    {
        ctx.error(n.pos, "kind", format!("expected \"AlertWindows\", found {v:?}"));
    }
    let spec = obj.require(ctx, "spec")?;
    let spec = ctx.object(spec, "spec", &["sloPeriod", "page", "ticket"])?;
    let period = spec.require(ctx, "sloPeriod").and_then(|n| duration(ctx, n, "spec.sloPeriod"));
    let pair = |ctx: &mut Ctx, name: &str| -> Option<(Window, Window)> {
        let path = format!("spec.{name}");
        let node = spec.require(ctx, name)?;
        let o = ctx.object(node, &path, &["quick", "slow"])?;
        let quick = o.require(ctx, "quick").and_then(|n| window(ctx, n, &format!("{path}.quick")));
        let slow = o.require(ctx, "slow").and_then(|n| window(ctx, n, &format!("{path}.slow")));
        Some((quick?, slow?))
    };
    let page = pair(ctx, "page");
    let ticket = pair(ctx, "ticket");
    let (page_quick, page_slow) = page?;
    let (ticket_quick, ticket_slow) = ticket?;
    Some(AlertWindows { slo_period_ms: period?, page_quick, page_slow, ticket_quick, ticket_slow })
}

fn window(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Window> {
    let o = ctx.object(node, path, &["errorBudgetPercent", "shortWindow", "longWindow"])?;
    let pct_path = format!("{path}.errorBudgetPercent");
    let pct = o
        .require(ctx, "errorBudgetPercent")
        .and_then(|n| ctx.number(n, &pct_path).map(|v| (v, n.pos)));
    let pct = match pct {
        Some((p, pos)) if !(p > 0.0 && p <= 100.0) => {
            ctx.error(pos, &pct_path, format!("must be greater than 0 and at most 100, found {p}"));
            None
        }
        Some((p, _)) => Some(p),
        None => None,
    };
    let short = o
        .require(ctx, "shortWindow")
        .and_then(|n| duration(ctx, n, &format!("{path}.shortWindow")));
    let long =
        o.require(ctx, "longWindow").and_then(|n| duration(ctx, n, &format!("{path}.longWindow")));
    Some(Window { error_budget_percent: pct?, short_window_ms: short?, long_window_ms: long? })
}

/// A positive Prometheus duration.
pub(crate) fn duration(ctx: &mut Ctx, node: &Node, path: &str) -> Option<i64> {
    let s = ctx.string(node, path)?;
    match parse_prom_duration(&s) {
        Some(ms) if ms > 0 => Some(ms),
        Some(_) => {
            ctx.error(node.pos, path, "must be a positive duration");
            None
        }
        None => {
            ctx.error(
                node.pos,
                path,
                format!("{s:?} is not a duration (such as 5m, 1h, 30d; units y w d h m s ms)"),
            );
            None
        }
    }
}

/// How a missing window set for a period is explained.
pub(crate) fn missing_windows_message(period_ms: i64, custom: Option<&AlertWindows>) -> String {
    let p = prom_duration(period_ms);
    match custom {
        Some(w) => format!(
            "the SLO period is {p} but the alert windows given are for {}",
            prom_duration(w.slo_period_ms)
        ),
        None => format!(
            "there are no built-in alert windows for a {p} SLO period (built in: 30d and 28d); give an AlertWindows file for it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_factors_match_sloth() {
        let w = AlertWindows::default_30d();
        assert_eq!(w.burn_rate_factor(&w.page_quick), 14.4);
        assert_eq!(w.burn_rate_factor(&w.page_slow), 6.0);
        assert_eq!(w.burn_rate_factor(&w.ticket_quick), 3.0);
        assert_eq!(w.burn_rate_factor(&w.ticket_slow), 1.0);
        let windows: Vec<String> = w.alert_windows_ms().into_iter().map(prom_duration).collect();
        assert_eq!(windows, ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
    }

    #[test]
    fn custom_windows_are_read_and_checked() {
        let text = "apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec:\n  sloPeriod: 7d\n  page:\n    quick: {errorBudgetPercent: 8, shortWindow: 5m, longWindow: 1h}\n    slow: {errorBudgetPercent: 12.5, shortWindow: 30m, longWindow: 6h}\n  ticket:\n    quick: {errorBudgetPercent: 20, shortWindow: 2h, longWindow: 24h}\n    slow: {errorBudgetPercent: 42, shortWindow: 6h, longWindow: 72h}\n";
        let w = read_windows(text.as_bytes(), "w.yaml").unwrap();
        assert_eq!(w.slo_period_ms, 7 * DAY);
        assert_eq!(w.burn_rate_factor(&w.page_quick), 13.44);
        assert_eq!(w.ticket_slow.long_window_ms, 3 * DAY);

        let bad = "apiVersion: sloth.slok.dev/v1\nkind: AlertWindow\nspec:\n  sloPeriod: 7x\n  page:\n    quick: {errorBudgetPercent: 0, shortWindow: 5m, longWindow: 1h}\n";
        let errs = read_windows(bad.as_bytes(), "w.yaml").unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "w.yaml:2:7: kind: expected \"AlertWindows\", found \"AlertWindow\"",
                "w.yaml:4:14: spec.sloPeriod: \"7x\" is not a duration (such as 5m, 1h, 30d; units y w d h m s ms)",
                "w.yaml:6:33: spec.page.quick.errorBudgetPercent: must be greater than 0 and at most 100, found 0",
                "w.yaml:6:5: spec.page.slow: required field is missing",
                "w.yaml:4:3: spec.ticket: required field is missing",
            ]
        );
    }
}
