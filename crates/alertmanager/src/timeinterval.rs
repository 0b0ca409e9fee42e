//! Alertmanager's time intervals: times of day, weekdays, days of the month (negative
//! ones counted from the month's end), months and years, evaluated in a location.

use std::collections::BTreeMap;
use std::sync::Arc;

use andon_core::time::civil_from_days;

use crate::tz::Zone;

/// One `time_intervals` entry: every field that is set must contain the time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeInterval {
    /// `[start, end)` in minutes of the day.
    pub times: Option<Vec<(u32, u32)>>,
    /// Inclusive ranges, 0 = Sunday.
    pub weekdays: Option<Vec<(u32, u32)>>,
    /// Inclusive ranges; negative days count from the end of the month (-1 = last day).
    pub days_of_month: Option<Vec<(i32, i32)>>,
    /// Inclusive ranges, 1 = January.
    pub months: Option<Vec<(i32, i32)>>,
    pub years: Option<Vec<(i64, i64)>>,
    /// Where the fields are evaluated; `None` is UTC.
    pub location: Option<Arc<Zone>>,
}

/// Named intervals, as the configuration defines them.
pub type Intervals = BTreeMap<String, Vec<TimeInterval>>;

const WEEKDAYS: [&str; 7] =
    ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

impl TimeInterval {
    /// Whether the instant (Unix milliseconds) lies in the interval.
    pub fn contains(&self, unix_ms: i64) -> bool {
        let secs = unix_ms.div_euclid(1000);
        let offset = self.location.as_ref().map_or(0, |z| z.offset_at(secs).0);
        let local = secs + i64::from(offset);
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let minute = (sod / 60) as u32;
        let weekday = (days + 4).rem_euclid(7) as u32;
        if let Some(times) = &self.times
            && !times.iter().any(|(s, e)| minute >= *s && minute < *e)
        {
            return false;
        }
        if let Some(doms) = &self.days_of_month {
            let dim = days_in_month(year, month);
            let hit = doms.iter().any(|(b, e)| {
                let b = if *b < 0 { dim + i64::from(*b) + 1 } else { i64::from(*b) };
                let e = if *e < 0 { dim + i64::from(*e) + 1 } else { i64::from(*e) };
                if b > dim {
                    return false;
                }
                let b = b.clamp(-dim, dim);
                let e = e.clamp(-dim, dim);
                day >= b && day <= e
            });
            if !hit {
                return false;
            }
        }
        if let Some(months) = &self.months
            && !months.iter().any(|(b, e)| month >= i64::from(*b) && month <= i64::from(*e))
        {
            return false;
        }
        if let Some(wds) = &self.weekdays
            && !wds.iter().any(|(b, e)| weekday >= *b && weekday <= *e)
        {
            return false;
        }
        if let Some(years) = &self.years
            && !years.iter().any(|(b, e)| year >= *b && year <= *e)
        {
            return false;
        }
        true
    }
}

/// Whether the instant lies in any interval of any of the named sets; also returns the
/// names that contain it. Unknown names are skipped (configuration checks them).
pub fn in_intervals(intervals: &Intervals, names: &[String], unix_ms: i64) -> Vec<String> {
    names
        .iter()
        .filter(|n| intervals.get(*n).is_some_and(|tis| tis.iter().any(|t| t.contains(unix_ms))))
        .cloned()
        .collect()
}

fn split_range(s: &str) -> Result<(String, String), String> {
    let s = s.to_lowercase();
    match s.split_once(':') {
        Some((a, b)) if !b.contains(':') => Ok((a.to_owned(), b.to_owned())),
        Some(_) => Err(format!("couldn't parse range {s}, invalid format")),
        None => Ok((s.clone(), s)),
    }
}

fn atoi(s: &str) -> Result<i64, String> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty() || !t.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    t.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// `HH:MM` (00:00–24:00) in minutes.
pub fn parse_clock(s: &str) -> Result<u32, String> {
    let b = s.as_bytes();
    let ok = s == "24:00"
        || (b.len() == 5
            && b[2] == b':'
            && b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit())
            && ((b[0] == b'0' || b[0] == b'1') || (b[0] == b'2' && b[1] <= b'3'))
            && b[3] <= b'5');
    if !ok {
        return Err(format!("couldn't parse timestamp {s}, invalid format"));
    }
    let h: u32 = s[..2].parse().map_err(|_| format!("invalid timestamp format: {s}"))?;
    let m: u32 = s[3..].parse().map_err(|_| format!("invalid timestamp format: {s}"))?;
    Ok(h * 60 + m)
}

/// A `times` entry: both ends required, start before end.
pub fn parse_time_range(start: &str, end: &str) -> Result<(u32, u32), String> {
    if start.is_empty() || end.is_empty() {
        return Err("both start and end times must be provided".into());
    }
    let (s, e) = (parse_clock(start)?, parse_clock(end)?);
    if s >= e {
        return Err("start time cannot be equal or greater than end time".into());
    }
    Ok((s, e))
}

/// `monday`, `monday:friday` (names only, case-insensitive).
pub fn parse_weekday_range(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = split_range(s)?;
    let day = |x: &str| {
        WEEKDAYS
            .iter()
            .position(|d| *d == x)
            .map(|p| p as u32)
            .ok_or_else(|| format!("{x} is not a valid weekday"))
    };
    let (b0, e0) = (day(&a)?, day(&b)?);
    if b0 > e0 {
        return Err("start day cannot be before end day".into());
    }
    Ok((b0, e0))
}

/// `1`, `1:15`, `-1`, `-7:-1` (days 1..31 or -31..-1; a negative start needs a negative end).
pub fn parse_day_of_month_range(s: &str) -> Result<(i32, i32), String> {
    let (a, b) = split_range(s)?;
    let (b0, e0) = (atoi(&a)?, atoi(&b)?);
    for v in [b0, e0] {
        if v == 0 || !(-31..=31).contains(&v) {
            return Err(format!("{v} is not a valid day of the month: out of range"));
        }
    }
    if b0 < 0 && e0 > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    let cb = if b0 < 0 { 28 + b0 } else { b0 };
    let ce = if e0 < 0 { 28 + e0 } else { e0 };
    if cb > ce {
        return Err(format!("end day {e0} is always before start day {b0}"));
    }
    Ok((b0 as i32, e0 as i32))
}

/// `may`, `1:3`, `january:march` (names or numbers).
pub fn parse_month_range(s: &str) -> Result<(i32, i32), String> {
    let (a, b) = split_range(s)?;
    let month = |x: &str| -> Result<i64, String> {
        match MONTHS.iter().position(|m| *m == x) {
            Some(p) => Ok(p as i64 + 1),
            None => atoi(x).map_err(|_| format!("{x} is not a valid month")),
        }
    };
    let (b0, e0) = (month(&a)?, month(&b)?);
    if b0 > e0 {
        let name = |v: i64| {
            usize::try_from(v - 1)
                .ok()
                .and_then(|i| MONTHS.get(i))
                .map_or_else(String::new, |s| (*s).to_owned())
        };
        return Err(format!("end month {} is before start month {}", name(e0), name(b0)));
    }
    let clamp = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    Ok((clamp(b0), clamp(e0)))
}

/// `2024`, `2020:2025`.
pub fn parse_year_range(s: &str) -> Result<(i64, i64), String> {
    let (a, b) = split_range(s)?;
    let (b0, e0) = (atoi(&a)?, atoi(&b)?);
    if b0 > e0 {
        return Err(format!("end year {e0} is before start year {b0}"));
    }
    Ok((b0, e0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use andon_core::time::days_from_civil;

    fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> i64 {
        (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60) * 1000
    }

    #[test]
    fn ranges_parse_like_alertmanager() {
        assert_eq!(parse_weekday_range("Monday:FRIDAY"), Ok((1, 5)));
        assert_eq!(parse_weekday_range("sunday"), Ok((0, 0)));
        assert!(parse_weekday_range("friday:monday").is_err());
        assert!(parse_weekday_range("funday").is_err());
        assert_eq!(parse_day_of_month_range("-7:-1"), Ok((-7, -1)));
        assert_eq!(parse_day_of_month_range("1:-1"), Ok((1, -1)));
        assert!(parse_day_of_month_range("-1:1").is_err());
        assert!(parse_day_of_month_range("0").is_err());
        assert!(parse_day_of_month_range("32").is_err());
        assert!(parse_day_of_month_range("10:-25").is_err());
        assert_eq!(parse_month_range("january:march"), Ok((1, 3)));
        assert_eq!(parse_month_range("5:december"), Ok((5, 12)));
        assert!(parse_month_range("march:january").is_err());
        assert!(parse_month_range("smarch").is_err());
        assert_eq!(parse_year_range("2020:2022"), Ok((2020, 2022)));
        assert!(parse_year_range("2022:2020").is_err());
        assert!(parse_year_range("1:2:3").is_err());
        assert_eq!(parse_time_range("09:00", "17:30"), Ok((540, 1050)));
        assert_eq!(parse_time_range("00:00", "24:00"), Ok((0, 1440)));
        assert!(parse_time_range("17:00", "09:00").is_err());
        assert!(parse_time_range("9:00", "10:00").is_err());
        assert!(parse_time_range("24:01", "10:00").is_err());
        assert!(parse_time_range("", "10:00").is_err());
    }

    #[test]
    fn business_hours() {
        let ti = TimeInterval {
            times: Some(vec![(9 * 60, 17 * 60)]),
            weekdays: Some(vec![(1, 5)]),
            ..TimeInterval::default()
        };
        // 2024-05-06 is a Monday.
        assert!(ti.contains(at(2024, 5, 6, 9, 0)));
        assert!(ti.contains(at(2024, 5, 6, 16, 59)));
        assert!(!ti.contains(at(2024, 5, 6, 17, 0)), "the end is exclusive");
        assert!(!ti.contains(at(2024, 5, 6, 8, 59)));
        assert!(!ti.contains(at(2024, 5, 5, 12, 0)), "Sunday");
        assert!(TimeInterval::default().contains(at(2024, 5, 5, 12, 0)), "empty = always");
        let never = TimeInterval { times: Some(vec![]), ..TimeInterval::default() };
        assert!(!never.contains(at(2024, 5, 5, 12, 0)), "an empty list matches nothing");
    }

    #[test]
    fn negative_days_count_from_month_end() {
        let last = TimeInterval { days_of_month: Some(vec![(-1, -1)]), ..Default::default() };
        assert!(last.contains(at(2024, 2, 29, 12, 0)), "leap February");
        assert!(!last.contains(at(2024, 2, 28, 12, 0)));
        assert!(last.contains(at(2023, 2, 28, 12, 0)));
        assert!(last.contains(at(2024, 4, 30, 0, 0)));
        assert!(last.contains(at(2024, 12, 31, 23, 59)));
        let last_week = TimeInterval { days_of_month: Some(vec![(-7, -1)]), ..Default::default() };
        assert!(last_week.contains(at(2024, 1, 25, 0, 0)));
        assert!(!last_week.contains(at(2024, 1, 24, 0, 0)));
        // Days past the month's end are clamped: 1:31 covers all of February.
        let all = TimeInterval { days_of_month: Some(vec![(1, 31)]), ..Default::default() };
        assert!(all.contains(at(2023, 2, 28, 0, 0)));
        let late = TimeInterval { days_of_month: Some(vec![(30, 31)]), ..Default::default() };
        assert!(!late.contains(at(2023, 2, 28, 0, 0)), "a start past the end never matches");
        let to_last = TimeInterval { days_of_month: Some(vec![(15, -1)]), ..Default::default() };
        assert!(to_last.contains(at(2023, 2, 28, 0, 0)));
        assert!(!to_last.contains(at(2023, 2, 14, 0, 0)));
    }

    #[test]
    fn months_and_years() {
        let ti = TimeInterval {
            months: Some(vec![(12, 12), (1, 2)]),
            years: Some(vec![(2024, 2025)]),
            ..Default::default()
        };
        assert!(ti.contains(at(2024, 12, 1, 0, 0)));
        assert!(ti.contains(at(2025, 1, 1, 0, 0)));
        assert!(!ti.contains(at(2025, 3, 1, 0, 0)));
        assert!(!ti.contains(at(2026, 1, 1, 0, 0)));
    }

    #[test]
    fn fixed_location_shifts_the_clock() {
        let tokyo = Arc::new(Zone::fixed("Etc/GMT-9", 9 * 3600, "+09"));
        let ti = TimeInterval {
            times: Some(vec![(9 * 60, 10 * 60)]),
            location: Some(tokyo),
            ..Default::default()
        };
        assert!(ti.contains(at(2024, 5, 6, 0, 30)), "09:30 in Tokyo");
        assert!(!ti.contains(at(2024, 5, 6, 9, 30)));
    }

    #[test]
    fn named_sets() {
        let mut iv = Intervals::new();
        iv.insert("never".into(), vec![TimeInterval { times: Some(vec![]), ..Default::default() }]);
        iv.insert("always".into(), vec![TimeInterval::default()]);
        let names = vec!["never".to_owned(), "always".to_owned(), "missing".to_owned()];
        assert_eq!(in_intervals(&iv, &names, 0), vec!["always".to_owned()]);
    }
}
