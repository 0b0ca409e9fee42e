//! Go's time vocabulary for templates: `time.Time` layouts (`Format`, parsing), the
//! `String()` forms of times and durations, and Prometheus duration strings (`1h30m`).

use andon_core::time::days_from_civil;

use crate::value::Time;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// One element of a Go layout string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    Month,
    LongMonth,
    NumMonth,
    ZeroMonth,
    WeekDay,
    LongWeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    PmLower,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds: separator, digit count, whether trailing zeros are dropped.
    Frac(u8, usize, bool),
}

fn starts_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Splits `layout` at its first layout element: (literal prefix, element, rest).
fn next_std(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let rest = &layout[i..];
        let found: Option<(Std, usize)> = match b[i] {
            b'J' if rest.starts_with("Jan") => {
                if rest.starts_with("January") {
                    Some((Std::LongMonth, 7))
                } else if !starts_lower(&rest[3..]) {
                    Some((Std::Month, 3))
                } else {
                    None
                }
            }
            b'M' if rest.starts_with("Mon") => {
                if rest.starts_with("Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_lower(&rest[3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if rest.starts_with("MST") => Some((Std::Tz, 3)),
            b'0' if b.len() > i + 1 && (b'1'..=b'6').contains(&b[i + 1]) => {
                let s = [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][usize::from(b[i + 1] - b'1')];
                Some((s, 2))
            }
            b'0' if rest.starts_with("002") => Some((Std::ZeroYearDay, 3)),
            b'1' if rest.starts_with("15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if rest.starts_with("2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if rest.starts_with("_2") => {
                if rest.starts_with("_2006") {
                    // A literal underscore before the year.
                    None
                } else {
                    Some((Std::UnderDay, 2))
                }
            }
            b'_' if rest.starts_with("__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if rest.starts_with("PM") => Some((Std::Pm, 2)),
            b'p' if rest.starts_with("pm") => Some((Std::PmLower, 2)),
            b'-' => [
                ("-07:00:00", Std::NumColonSecondsTz),
                ("-070000", Std::NumSecondsTz),
                ("-07:00", Std::NumColonTz),
                ("-0700", Std::NumTz),
                ("-07", Std::NumShortTz),
            ]
            .iter()
            .find(|(p, _)| rest.starts_with(p))
            .map(|(p, s)| (*s, p.len())),
            b'Z' => [
                ("Z07:00:00", Std::Iso8601ColonSecondsTz),
                ("Z070000", Std::Iso8601SecondsTz),
                ("Z07:00", Std::Iso8601ColonTz),
                ("Z0700", Std::Iso8601Tz),
                ("Z07", Std::Iso8601ShortTz),
            ]
            .iter()
            .find(|(p, _)| rest.starts_with(p))
            .map(|(p, s)| (*s, p.len())),
            c @ (b'.' | b',') if b.len() > i + 1 && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((Std::Frac(c, j - i - 1, ch == b'9'), j - i))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    (layout, None, "")
}

fn push_int(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", v.unsigned_abs()));
}

fn push_zone(out: &mut String, offset: i32, colon: bool, seconds: bool, short: bool) {
    let mut zone = offset / 60;
    let abs = offset.unsigned_abs();
    if zone < 0 {
        out.push('-');
        zone = -zone;
    } else {
        out.push('+');
    }
    out.push_str(&format!("{:02}", zone / 60));
    if short {
        return;
    }
    if colon {
        out.push(':');
    }
    out.push_str(&format!("{:02}", zone % 60));
    if seconds {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", abs % 60));
    }
}

/// Go's `Time.Format(layout)`.
pub(crate) fn format(t: &Time, layout: &str) -> String {
    let c = t.civil();
    let mut out = String::new();
    let mut layout = layout;
    loop {
        let (prefix, std, rest) = next_std(layout);
        out.push_str(prefix);
        let Some(std) = std else { break };
        layout = rest;
        match std {
            Std::Year => push_int(&mut out, c.year.rem_euclid(100), 2),
            Std::LongYear => push_int(&mut out, c.year, 4),
            Std::Month => out.push_str(&MONTHS[(c.month - 1) as usize][..3]),
            Std::LongMonth => out.push_str(MONTHS[(c.month - 1) as usize]),
            Std::NumMonth => push_int(&mut out, c.month, 0),
            Std::ZeroMonth => push_int(&mut out, c.month, 2),
            Std::WeekDay => out.push_str(&DAYS[c.weekday as usize][..3]),
            Std::LongWeekDay => out.push_str(DAYS[c.weekday as usize]),
            Std::Day => push_int(&mut out, c.day, 0),
            Std::UnderDay => {
                if c.day < 10 {
                    out.push(' ');
                }
                push_int(&mut out, c.day, 0);
            }
            Std::ZeroDay => push_int(&mut out, c.day, 2),
            Std::UnderYearDay => out.push_str(&format!("{:>3}", c.yday)),
            Std::ZeroYearDay => push_int(&mut out, c.yday, 3),
            Std::Hour => push_int(&mut out, c.hour, 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let h = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                push_int(&mut out, h, if std == Std::Hour12 { 0 } else { 2 });
            }
            Std::Minute => push_int(&mut out, c.minute, 0),
            Std::ZeroMinute => push_int(&mut out, c.minute, 2),
            Std::Second => push_int(&mut out, c.second, 0),
            Std::ZeroSecond => push_int(&mut out, c.second, 2),
            Std::Pm => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::PmLower => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::Iso8601Tz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonSecondsTz
                if t.offset == 0 =>
            {
                out.push('Z');
            }
            Std::Iso8601Tz | Std::NumTz => push_zone(&mut out, t.offset, false, false, false),
            Std::Iso8601ColonTz | Std::NumColonTz => {
                push_zone(&mut out, t.offset, true, false, false)
            }
            Std::Iso8601SecondsTz | Std::NumSecondsTz => {
                push_zone(&mut out, t.offset, false, true, false)
            }
            Std::Iso8601ColonSecondsTz | Std::NumColonSecondsTz => {
                push_zone(&mut out, t.offset, true, true, false)
            }
            Std::Iso8601ShortTz | Std::NumShortTz => {
                push_zone(&mut out, t.offset, false, false, true)
            }
            Std::Tz => {
                if t.zone.is_empty() {
                    push_zone(&mut out, t.offset, false, false, false);
                } else {
                    out.push_str(&t.zone);
                }
            }
            Std::Frac(sep, n, trim) => {
                let digits = format!("{:09}", c.nanos);
                let mut d = &digits[..n.min(9)];
                if trim {
                    d = d.trim_end_matches('0');
                    if d.is_empty() {
                        continue;
                    }
                }
                out.push(char::from(sep));
                out.push_str(d);
                for _ in 9..n {
                    out.push('0');
                }
            }
        }
    }
    out
}

/// Go's `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub(crate) fn time_string(t: &Time) -> String {
    format(t, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub(crate) fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, scale, prec) = if u < 1_000 {
            ("ns", 1u64, 0)
        } else if u < 1_000_000 {
            ("µs", 1_000, 3)
        } else {
            ("ms", 1_000_000, 6)
        };
        out.push_str(&(u / scale).to_string());
        push_frac(&mut out, u % scale, prec);
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let h = secs / 3600;
        let m = secs / 60 % 60;
        let s = secs % 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s.to_string());
        push_frac(&mut out, frac, 9);
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Appends `.ddd` for a fraction with `prec` digits, trailing zeros dropped.
fn push_frac(out: &mut String, v: u64, prec: usize) {
    if prec == 0 || v == 0 {
        return;
    }
    let s = format!("{v:0prec$}");
    out.push('.');
    out.push_str(s.trim_end_matches('0'));
}

/// Parses a Prometheus duration (`1h30m`, `-5m`, `1y2w3d`, `10ms`) into milliseconds.
pub(crate) fn parse_prom_duration(s: &str) -> Result<i64, String> {
    let parsed = match s.strip_prefix('-') {
        Some(rest) => andon_core::prom::parse_prom_duration(rest).map(|v| -v),
        None => andon_core::prom::parse_prom_duration(s),
    };
    parsed.ok_or_else(|| format!("not a valid duration string: {s:?}"))
}

/// Resolves a zone name that needs no zone database: `UTC`, `Local` (taken as UTC),
/// the empty name, and the fixed `Etc/GMT±N` zones.
pub(crate) fn builtin_zone(name: &str) -> Option<(i32, String)> {
    match name {
        "" | "UTC" | "Local" | "Etc/UTC" | "Etc/GMT" | "GMT" => {
            return Some((
                0,
                if name == "GMT" || name == "Etc/GMT" { "GMT" } else { "UTC" }.into(),
            ));
        }
        _ => {}
    }
    let rest = name.strip_prefix("Etc/GMT")?;
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (-1, &rest[1..]),
        b'-' => (1, &rest[1..]),
        _ => return None,
    };
    let h: i32 = digits.parse().ok()?;
    if !(0..=14).contains(&h) || digits.len() > 2 {
        return None;
    }
    let offset = sign * h * 3600;
    let abbr = format!("{}{:02}", if offset < 0 { '-' } else { '+' }, h);
    Some((offset, abbr))
}

/// Go's `time.ParseInLocation(layout, value, time.UTC)` for the common layout elements.
pub(crate) fn parse(layout: &str, value: &str) -> Result<Time, String> {
    let err = |what: &str| {
        format!("parsing time {value:?} as {layout:?}: cannot parse {what:?} as {layout:?}")
    };
    let mut year: i64 = 0;
    let mut month: i64 = 1;
    let mut day: i64 = 1;
    let mut yday: i64 = -1;
    let mut hour: i64 = 0;
    let mut min: i64 = 0;
    let mut sec: i64 = 0;
    let mut nanos: u32 = 0;
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut zone_name = String::new();
    let mut lay = layout;
    let mut v = value;
    loop {
        let (prefix, std, rest) = next_std(lay);
        v = v.strip_prefix(prefix).ok_or_else(|| err(v))?;
        let Some(std) = std else {
            if !v.is_empty() {
                return Err(format!("parsing time {value:?}: extra text: {v:?}"));
            }
            break;
        };
        lay = rest;
        let num = |v: &mut &str, min_digits: usize, max_digits: usize| -> Option<i64> {
            let n = v.bytes().take(max_digits).take_while(u8::is_ascii_digit).count();
            if n < min_digits {
                return None;
            }
            let x = v[..n].parse().ok()?;
            *v = &v[n..];
            Some(x)
        };
        let before = v;
        let ok = match std {
            Std::LongYear => num(&mut v, 4, 4).map(|y| year = y).is_some(),
            Std::Year => num(&mut v, 2, 2)
                .map(|y| year = if y >= 69 { 1900 + y } else { 2000 + y })
                .is_some(),
            Std::Month | Std::LongMonth => {
                let long = std == Std::LongMonth;
                let found = MONTHS.iter().position(|m| {
                    let m = if long { *m } else { &m[..3] };
                    v.len() >= m.len() && v[..m.len()].eq_ignore_ascii_case(m)
                });
                found
                    .map(|k| {
                        let m = if long { MONTHS[k] } else { &MONTHS[k][..3] };
                        v = &v[m.len()..];
                        month = k as i64 + 1;
                    })
                    .is_some()
            }
            Std::WeekDay | Std::LongWeekDay => {
                let long = std == Std::LongWeekDay;
                let found = DAYS.iter().find(|d| {
                    let d = if long { **d } else { &d[..3] };
                    v.len() >= d.len() && v[..d.len()].eq_ignore_ascii_case(d)
                });
                found.map(|d| v = &v[if long { d.len() } else { 3 }..]).is_some()
            }
            Std::NumMonth | Std::ZeroMonth => {
                let min_d = if std == Std::ZeroMonth { 2 } else { 1 };
                num(&mut v, min_d, 2).filter(|m| (1..=12).contains(m)).map(|m| month = m).is_some()
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && v.starts_with(' ') {
                    v = &v[1..];
                }
                let min_d = if std == Std::ZeroDay { 2 } else { 1 };
                num(&mut v, min_d, 2).map(|d| day = d).is_some()
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                v = v.trim_start_matches(' ');
                num(&mut v, 1, 3).map(|d| yday = d).is_some()
            }
            Std::Hour => num(&mut v, 2, 2).filter(|h| *h < 24).map(|h| hour = h).is_some(),
            Std::Hour12 | Std::ZeroHour12 => {
                let min_d = if std == Std::ZeroHour12 { 2 } else { 1 };
                num(&mut v, min_d, 2).filter(|h| (1..=12).contains(h)).map(|h| hour = h).is_some()
            }
            Std::Minute | Std::ZeroMinute => {
                let min_d = if std == Std::ZeroMinute { 2 } else { 1 };
                num(&mut v, min_d, 2).filter(|m| *m < 60).map(|m| min = m).is_some()
            }
            Std::Second | Std::ZeroSecond => {
                let min_d = if std == Std::ZeroSecond { 2 } else { 1 };
                let ok = num(&mut v, min_d, 2).filter(|s| *s < 60).map(|s| sec = s).is_some();
                // A fraction after seconds is accepted even when the layout has none.
                if ok
                    && (v.starts_with('.') || v.starts_with(','))
                    && v[1..].starts_with(|c: char| c.is_ascii_digit())
                    && !matches!(next_std(lay), ("", Some(Std::Frac(..)), _))
                {
                    let n = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                    nanos = frac_nanos(&v[1..1 + n]);
                    v = &v[1 + n..];
                }
                ok
            }
            Std::Pm | Std::PmLower => {
                if v.len() >= 2 && v[..2].eq_ignore_ascii_case("pm") {
                    pm = Some(true);
                    v = &v[2..];
                    true
                } else if v.len() >= 2 && v[..2].eq_ignore_ascii_case("am") {
                    pm = Some(false);
                    v = &v[2..];
                    true
                } else {
                    false
                }
            }
            Std::Frac(_, n, trim) => {
                if v.starts_with('.') || v.starts_with(',') {
                    let digits = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                    if !trim && digits != n {
                        false
                    } else {
                        nanos = frac_nanos(&v[1..1 + digits]);
                        v = &v[1 + digits..];
                        true
                    }
                } else {
                    trim
                }
            }
            Std::Iso8601Tz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonSecondsTz
                if v.starts_with('Z') =>
            {
                v = &v[1..];
                offset = Some(0);
                zone_name = "UTC".into();
                true
            }
            Std::Iso8601Tz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumColonTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonSecondsTz => {
                let colon = matches!(
                    std,
                    Std::Iso8601ColonTz
                        | Std::NumColonTz
                        | Std::Iso8601ColonSecondsTz
                        | Std::NumColonSecondsTz
                );
                let short = matches!(std, Std::Iso8601ShortTz | Std::NumShortTz);
                let secs = matches!(
                    std,
                    Std::Iso8601SecondsTz
                        | Std::NumSecondsTz
                        | Std::Iso8601ColonSecondsTz
                        | Std::NumColonSecondsTz
                );
                parse_offset(&mut v, colon, short, secs).map(|o| offset = Some(o)).is_some()
            }
            Std::Tz => {
                let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                if n >= 3 {
                    zone_name = v[..n].to_owned();
                    if zone_name == "UTC" || zone_name == "GMT" {
                        offset = Some(0);
                    }
                    v = &v[n..];
                    true
                } else {
                    false
                }
            }
        };
        if !ok {
            return Err(err(before));
        }
    }
    if let Some(p) = pm {
        if p && hour < 12 {
            hour += 12;
        } else if !p && hour == 12 {
            hour = 0;
        }
    }
    let mut days = days_from_civil(year, month, 1) + day - 1;
    if yday >= 1 {
        days = days_from_civil(year, 1, 1) + yday - 1;
    } else {
        let dim = days_from_civil(if month == 12 { year + 1 } else { year }, month % 12 + 1, 1)
            - days_from_civil(year, month, 1);
        if day < 1 || day > dim {
            return Err(format!("parsing time {value:?}: day out of range"));
        }
    }
    let local = days * 86_400 + hour * 3600 + min * 60 + sec;
    let off = offset.unwrap_or(0);
    let zone = if offset.is_none() && zone_name.is_empty() { "UTC".to_owned() } else { zone_name };
    Ok(Time { secs: local - i64::from(off), nanos, offset: off, zone })
}

fn frac_nanos(digits: &str) -> u32 {
    let mut s: String = digits.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

fn parse_offset(v: &mut &str, colon: bool, short: bool, secs: bool) -> Option<i32> {
    let b = v.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |s: &str| -> Option<i32> {
        if s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    let mut i = 1;
    let h = digits(v.get(i..i + 2)?)?;
    i += 2;
    let mut m = 0;
    let mut s = 0;
    if !short {
        if colon {
            if v.get(i..i + 1)? != ":" {
                return None;
            }
            i += 1;
        }
        m = digits(v.get(i..i + 2)?)?;
        i += 2;
        if secs {
            if colon {
                if v.get(i..i + 1)? != ":" {
                    return None;
                }
                i += 1;
            }
            s = digits(v.get(i..i + 2)?)?;
            i += 2;
        }
    }
    *v = &v[i..];
    Some(sign * (h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64, nanos: u32) -> Time {
        Time::from_unix(secs, nanos)
    }

    #[test]
    fn time_strings_match_go() {
        assert_eq!(time_string(&t(0, 0)), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(time_string(&t(-1, 0)), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(
            time_string(&t(1_435_065_584, 128_000_000)),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(time_string(&t(9_223_372_036, 0)), "2262-04-11 23:47:16 +0000 UTC");
        assert_eq!(time_string(&Time::zero()), "0001-01-01 00:00:00 +0000 UTC");
        let paris = t(1_704_096_930, 0).with_zone(3600, "CET");
        assert_eq!(time_string(&paris), "2024-01-01 09:15:30 +0100 CET");
    }

    #[test]
    fn layouts_format_every_element() {
        let x = t(1_353_755_652, 123_456_789); // 2012-11-24 11:14:12.123456789 UTC, a Saturday
        let cases = [
            ("2006-01-02T15:04:05Z07:00", "2012-11-24T11:14:12Z"),
            ("Mon Jan 2 15:04:05 2006", "Sat Nov 24 11:14:12 2012"),
            ("Monday, January _2 06", "Saturday, November 24 12"),
            ("3:4:5 PM pm", "11:14:12 AM am"),
            ("03:04:05.000", "11:14:12.123"),
            ("05.999999999", "12.123456789"),
            ("05,000000", "12,123456"),
            ("002 __2", "329 329"),
            ("-0700 -07:00 -07 MST", "+0000 +00:00 +00 UTC"),
            ("1/2", "11/24"),
            ("Janet", "Janet"),
        ];
        for (layout, want) in cases {
            assert_eq!(format(&x, layout), want, "{layout}");
        }
        let east = x.with_zone(5 * 3600 + 30 * 60, "");
        assert_eq!(format(&east, "15:04 Z07:00 -0700 MST"), "16:44 +05:30 +0530 +0530");
        let pm = t(1_353_755_652 + 6 * 3600, 0);
        assert_eq!(format(&pm, "3PM 03pm"), "5PM 05pm");
        assert_eq!(format(&t(1_353_755_652, 0), "15:04:05.999"), "11:14:12");
    }

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (4 * 60 * 1_000_000_000 + 5_000_000_000, "4m5s"),
            (5 * 3_600_000_000_000 + 6 * 60_000_000_000 + 7_001_000_000, "5h6m7.001s"),
            (30 * 60_000_000_000, "30m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (-1_500_000_000, "-1.5s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (d, want) in cases {
            assert_eq!(duration_string(d), want);
        }
    }

    #[test]
    fn prometheus_durations() {
        assert_eq!(parse_prom_duration("1h2m10ms"), Ok(3_720_010));
        assert_eq!(parse_prom_duration("-1h2m10ms"), Ok(-3_720_010));
        assert_eq!(parse_prom_duration("1y1w1d"), Ok((365 + 7 + 1) * 86_400_000));
        assert_eq!(parse_prom_duration("0"), Ok(0));
        assert_eq!(
            parse_prom_duration("5m1h"),
            Err("not a valid duration string: \"5m1h\"".into())
        );
        assert!(parse_prom_duration("").is_err());
        assert!(parse_prom_duration("1.5h").is_err());
        assert!(parse_prom_duration("h").is_err());
    }

    #[test]
    fn layouts_parse() {
        let p = parse("2006-01-02", "2024-03-15").unwrap();
        assert_eq!(format(&p, "02 Jan 2006"), "15 Mar 2024");
        let p = parse("2006-01-02T15:04:05Z07:00", "2024-03-15T10:20:30+02:00").unwrap();
        assert_eq!(time_string(&p), "2024-03-15 10:20:30 +0200 +0200");
        assert_eq!(p.secs, 1_710_490_830);
        let p = parse("2006-01-02 15:04:05", "2024-03-15 10:20:30.25").unwrap();
        assert_eq!(p.nanos, 250_000_000);
        let p = parse("Jan _2 3:04PM", "Mar  5 1:07PM").unwrap();
        assert_eq!(format(&p, "2006-01-02 15:04"), "0000-03-05 13:07");
        assert!(parse("2006-01-02", "not-a-date").is_err());
        assert!(parse("2006-01-02", "2024-02-30").is_err());
        assert!(parse("2006-01-02", "2024-03-15x").is_err());
    }

    #[test]
    fn fixed_zones() {
        assert_eq!(builtin_zone("UTC"), Some((0, "UTC".into())));
        assert_eq!(builtin_zone("Etc/GMT+3"), Some((-3 * 3600, "-03".into())));
        assert_eq!(builtin_zone("Etc/GMT-14"), Some((14 * 3600, "+14".into())));
        assert_eq!(builtin_zone("Europe/Paris"), None);
    }
}
