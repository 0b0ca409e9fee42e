//! `on.schedule` cron expressions: five POSIX fields in UTC — minute (0–59), hour
//! (0–23), day of month (1–31), month (1–12 or JAN–DEC), day of week (0–6 or
//! SUN–SAT, 7 also Sunday) — with `*`, lists, ranges and steps. As in Vixie cron,
//! when both day fields are restricted a day matching either one fires.

use andon_core::time::{civil_from_days, days_from_civil};

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Whether the day-of-month field is `*` (then only the weekday restricts).
    any_day: bool,
    /// Whether the day-of-week field is `*`.
    any_weekday: bool,
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Reads one field into a bit set over `lo..=hi`.
fn field(text: &str, name: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(lo + i as u32);
        }
        let v: u32 = s.parse().map_err(|_| format!("{name}: {s:?} is not a number"))?;
        if v < lo || v > hi {
            return Err(format!("{name}: {v} is outside {lo}-{hi}"));
        }
        Ok(v)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 =
                    s.parse().map_err(|_| format!("{name}: step {s:?} is not a number"))?;
                if step == 0 {
                    return Err(format!("{name}: a step of 0"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("{name}: range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            // `5/15` means from 5 to the end, every 15.
            (a, if part.contains('/') { hi } else { a })
        };
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Cron {
    /// Parses five space-separated fields.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "a schedule has 5 fields (minute hour day-of-month month day-of-week), found {}",
                f.len()
            ));
        }
        let mut weekdays = field(f[4], "day of week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & 0x7f;
        }
        Ok(Cron {
            minutes: field(f[0], "minute", 0, 59, &[])?,
            hours: field(f[1], "hour", 0, 23, &[])? as u32,
            days: field(f[2], "day of month", 1, 31, &[])? as u32,
            months: field(f[3], "month", 1, 12, &MONTHS)? as u16,
            weekdays: weekdays as u8,
            any_day: f[2].starts_with('*'),
            any_weekday: f[4].starts_with('*'),
        })
    }

    fn day_matches(&self, y: i64, m: i64, d: i64) -> bool {
        if self.months & (1 << m) == 0 {
            return false;
        }
        let weekday = (days_from_civil(y, m, d) + 4).rem_euclid(7); // 1970-01-01 was a Thursday
        let dom = self.days & (1 << d) != 0;
        let dow = self.weekdays & (1 << weekday) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first time strictly after `after_ms` (milliseconds since the epoch, UTC)
    /// at which the schedule fires; `None` if it never does within 5 years (such as
    /// February 30th).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let start_min = after_ms.div_euclid(60_000) + 1;
        let first = start_min.div_euclid(1440);
        let mut minute_of_day = start_min.rem_euclid(1440);
        for day in first..first + 366 * 5 {
            let (y, m, d) = civil_from_days(day);
            if self.day_matches(y, m, d) {
                for mod_ in minute_of_day..1440 {
                    let (h, mi) = (mod_ / 60, mod_ % 60);
                    if self.hours & (1 << h) != 0 && self.minutes & (1 << mi) != 0 {
                        return Some((day * 1440 + mod_) * 60_000);
                    }
                }
            }
            minute_of_day = 0;
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        andon_core::Timestamp::parse_rfc3339(s).unwrap().millis()
    }

    fn next(cron: &str, after: &str) -> String {
        let t = Cron::parse(cron).unwrap().next_after(at(after)).unwrap();
        andon_core::Timestamp::from_millis(t).to_string().replace(".000Z", "Z")
    }

    #[test]
    fn next_times() {
        assert_eq!(next("*/15 * * * *", "2026-11-22T10:07:00Z"), "2026-11-22T10:15:00Z");
        assert_eq!(next("30 5 * * 1,3", "2026-11-22T10:07:00Z"), "2026-11-23T05:30:00Z"); // a Monday
        assert_eq!(next("0 0 1 JAN *", "2026-11-22T00:00:00Z"), "2027-01-01T00:00:00Z");
        assert_eq!(next("0 12 * * SUN", "2026-11-22T12:00:00Z"), "2026-11-29T12:00:00Z");
        assert_eq!(next("0 12 * * 7", "2026-11-22T11:00:00Z"), "2026-11-22T12:00:00Z");
        // Both day fields restricted: either one fires.
        assert_eq!(next("0 0 13 * 5", "2026-11-01T00:00:00Z"), "2026-11-06T00:00:00Z");
        assert_eq!(next("0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
        assert_eq!(next("5/20 * * * *", "2026-11-22T10:26:00Z"), "2026-11-22T10:45:00Z");
        assert!(Cron::parse("0 0 30 2 *").unwrap().next_after(0).is_none());
    }

    #[test]
    fn bad_schedules_say_why() {
        for (text, want) in [
            (
                "* * * *",
                "a schedule has 5 fields (minute hour day-of-month month day-of-week), found 4",
            ),
            ("60 * * * *", "minute: 60 is outside 0-59"),
            ("* 24 * * *", "hour: 24 is outside 0-23"),
            ("* * 0 * *", "day of month: 0 is outside 1-31"),
            ("* * * 13 *", "month: 13 is outside 1-12"),
            ("* * * * 8", "day of week: 8 is outside 0-7"),
            ("*/0 * * * *", "minute: a step of 0"),
            ("5-1 * * * *", "minute: range 5-1 runs backwards"),
            ("x * * * *", "minute: \"x\" is not a number"),
        ] {
            assert_eq!(Cron::parse(text).unwrap_err(), want, "{text}");
        }
    }
}
