//! Time zones without touching the file system: TZif data (RFC 8536, versions 1–4)
//! and POSIX `TZ` rules are parsed from bytes the caller supplies through
//! [`ZoneLookup`]; UTC and the fixed `Etc/GMT±N` zones need no data at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use andon_core::time::days_from_civil;

/// A time zone: UTC offsets over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    pub name: String,
    /// Transition instants (Unix seconds), ascending.
    transitions: Vec<i64>,
    /// For each transition, the index of the local time type in force from it on.
    idx: Vec<usize>,
    types: Vec<LocalType>,
    /// The rule for instants after the last transition (the TZif footer).
    rule: Option<PosixTz>,
}

#[derive(Clone, Debug, PartialEq)]
struct LocalType {
    offset: i32,
    abbr: String,
}

/// Where a caller's time-zone data comes from. An implementation reads
/// `/usr/share/zoneinfo/<name>` (checking the name with [`is_valid_zone_name`]) and
/// hands the bytes to [`Zone::from_tzif`]; `Local` may be answered with the host's zone.
pub trait ZoneLookup {
    fn zone(&self, name: &str) -> Option<Arc<Zone>>;
}

/// Zones read on first use through `read` (given a zone name such as
/// `Europe/Berlin`, the TZif bytes, e.g. from `/usr/share/zoneinfo`), then cached.
pub struct ReadZones<F> {
    read: F,
    cache: std::sync::Mutex<std::collections::HashMap<String, Option<Arc<Zone>>>>,
}

impl<F: Fn(&str) -> Option<Vec<u8>>> ReadZones<F> {
    pub fn new(read: F) -> Self {
        ReadZones { read, cache: Default::default() }
    }
}

impl<F: Fn(&str) -> Option<Vec<u8>>> ZoneLookup for ReadZones<F> {
    fn zone(&self, name: &str) -> Option<Arc<Zone>> {
        if !is_valid_zone_name(name) {
            return None;
        }
        if let Ok(cache) = self.cache.lock()
            && let Some(z) = cache.get(name)
        {
            return z.clone();
        }
        let z = (self.read)(name).and_then(|b| Zone::from_tzif(name, &b).ok()).map(Arc::new);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name.to_owned(), z.clone());
        }
        z
    }
}

/// Knows no zones beyond the built-in ones (UTC, `Etc/GMT±N`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoZones;

impl ZoneLookup for NoZones {
    fn zone(&self, _name: &str) -> Option<Arc<Zone>> {
        None
    }
}

/// Zones held in memory by name (tests, or a caller that preloads them).
#[derive(Clone, Debug, Default)]
pub struct ZoneMap(pub BTreeMap<String, Arc<Zone>>);

impl ZoneLookup for ZoneMap {
    fn zone(&self, name: &str) -> Option<Arc<Zone>> {
        self.0.get(name).cloned()
    }
}

/// Whether `name` is safe to use as a path under a zoneinfo directory: relative
/// components of letters, digits, `_`, `-`, `+`, no `.` or `..` segments.
pub fn is_valid_zone_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || "_-+.".contains(c))
                && !seg.starts_with('.')
        })
}

/// Resolves a zone name: `""`/`UTC` and `Etc/GMT±N` (and `Etc/UTC`, `GMT`…) built in,
/// everything else through `lookup`.
pub fn resolve_zone(name: &str, lookup: &dyn ZoneLookup) -> Option<Arc<Zone>> {
    if let Some(z) = builtin_zone(name) {
        return Some(Arc::new(z));
    }
    lookup.zone(name)
}

fn builtin_zone(name: &str) -> Option<Zone> {
    match name {
        "" | "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Zulu" | "Etc/Zulu" | "Universal"
        | "Etc/Universal" => return Some(Zone::fixed(name_or_utc(name), 0, "UTC")),
        "GMT" | "Etc/GMT" | "Etc/GMT0" | "Etc/GMT+0" | "Etc/GMT-0" | "GMT0" | "Greenwich"
        | "Etc/Greenwich" => return Some(Zone::fixed(name, 0, "GMT")),
        _ => {}
    }
    let rest = name.strip_prefix("Etc/GMT")?;
    let (sign, digits) = match rest.as_bytes().first() {
        Some(b'+') => (-1, &rest[1..]),
        Some(b'-') => (1, &rest[1..]),
        _ => return None,
    };
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits.parse().ok()?;
    let max = if sign < 0 { 12 } else { 14 };
    if hours > max {
        return None;
    }
    // POSIX-style names: Etc/GMT+5 is five hours behind UTC.
    let offset = sign * hours * 3600;
    let abbr = if sign < 0 { format!("-{hours:02}") } else { format!("+{hours:02}") };
    Some(Zone::fixed(name, offset, &abbr))
}

fn name_or_utc(name: &str) -> &str {
    if name.is_empty() { "UTC" } else { name }
}

impl Zone {
    /// A zone with one constant offset (seconds east of UTC).
    pub fn fixed(name: &str, offset: i32, abbr: &str) -> Zone {
        Zone {
            name: name.to_owned(),
            transitions: Vec::new(),
            idx: Vec::new(),
            types: vec![LocalType { offset, abbr: abbr.to_owned() }],
            rule: None,
        }
    }

    pub fn utc() -> Zone {
        Zone::fixed("UTC", 0, "UTC")
    }

    /// Parses TZif data (the contents of a zoneinfo file).
    pub fn from_tzif(name: &str, data: &[u8]) -> Result<Zone, String> {
        let (hdr, body) = header(data)?;
        let (mut z, rest) = if hdr.version >= 2 {
            let skip = hdr.block_len(4);
            let second = body.get(skip..).ok_or("truncated TZif data")?;
            let (h2, body2) = header(second)?;
            let (z, rest) = block(name, &h2, body2, 8)?;
            (z, rest)
        } else {
            block(name, &hdr, body, 4)?
        };
        if hdr.version >= 2 {
            // Footer: "\n<TZ string>\n".
            if let Some(r) = rest.strip_prefix(b"\n")
                && let Some(end) = r.iter().position(|b| *b == b'\n')
            {
                let s = std::str::from_utf8(&r[..end]).map_err(|_| "footer is not text")?;
                if !s.is_empty() {
                    z.rule = Some(PosixTz::parse(s).ok_or_else(|| format!("bad TZ rule {s:?}"))?);
                }
            }
        }
        if z.types.is_empty() {
            return Err("TZif data has no local time types".into());
        }
        Ok(z)
    }

    /// The zone's offset from UTC (seconds east) and abbreviation at a Unix time.
    pub fn offset_at(&self, unix_secs: i64) -> (i32, &str) {
        let first = &self.types[0];
        if self.transitions.is_empty() || unix_secs < self.transitions[0] {
            if self.transitions.is_empty()
                && let Some(rule) = &self.rule
            {
                return rule.offset_at(unix_secs);
            }
            return (first.offset, &first.abbr);
        }
        let last = self.transitions.len() - 1;
        if unix_secs >= self.transitions[last]
            && let Some(rule) = &self.rule
        {
            return rule.offset_at(unix_secs);
        }
        let i = self.transitions.partition_point(|t| *t <= unix_secs) - 1;
        let ty = self.types.get(self.idx[i]).unwrap_or(first);
        (ty.offset, &ty.abbr)
    }
}

struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn block_len(&self, time_size: usize) -> usize {
        self.timecnt * time_size
            + self.timecnt
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time_size + 4)
            + self.isstdcnt
            + self.isutcnt
    }
}

fn header(data: &[u8]) -> Result<(Header, &[u8]), String> {
    if data.len() < 44 || &data[..4] != b"TZif" {
        return Err("not TZif data".into());
    }
    let version = match data[4] {
        0 => 1,
        b'2' => 2,
        b'3' => 3,
        b'4' => 4,
        v => return Err(format!("unknown TZif version {v}")),
    };
    let n = |i: usize| -> usize {
        u32::from_be_bytes([data[20 + 4 * i], data[21 + 4 * i], data[22 + 4 * i], data[23 + 4 * i]])
            as usize
    };
    let hdr = Header {
        version,
        isutcnt: n(0),
        isstdcnt: n(1),
        leapcnt: n(2),
        timecnt: n(3),
        typecnt: n(4),
        charcnt: n(5),
    };
    if hdr.timecnt > 100_000 || hdr.typecnt > 256 || hdr.charcnt > 65_536 || hdr.leapcnt > 10_000 {
        return Err("TZif counts are out of range".into());
    }
    Ok((hdr, &data[44..]))
}

fn block<'a>(
    name: &str,
    h: &Header,
    body: &'a [u8],
    time_size: usize,
) -> Result<(Zone, &'a [u8]), String> {
    let len = h.block_len(time_size);
    if body.len() < len {
        return Err("truncated TZif data".into());
    }
    let mut p = 0;
    let mut transitions = Vec::with_capacity(h.timecnt);
    for _ in 0..h.timecnt {
        let t = if time_size == 8 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[p..p + 8]);
            i64::from_be_bytes(b)
        } else {
            let mut b = [0u8; 4];
            b.copy_from_slice(&body[p..p + 4]);
            i64::from(i32::from_be_bytes(b))
        };
        transitions.push(t);
        p += time_size;
    }
    let idx: Vec<usize> = body[p..p + h.timecnt].iter().map(|b| *b as usize).collect();
    p += h.timecnt;
    let mut raw_types = Vec::with_capacity(h.typecnt);
    for _ in 0..h.typecnt {
        let off = i32::from_be_bytes([body[p], body[p + 1], body[p + 2], body[p + 3]]);
        let abbr_i = body[p + 5] as usize;
        raw_types.push((off, abbr_i));
        p += 6;
    }
    let chars = &body[p..p + h.charcnt];
    p += h.charcnt;
    let types = raw_types
        .into_iter()
        .map(|(offset, ai)| {
            let s = chars.get(ai..).unwrap_or(&[]);
            let end = s.iter().position(|b| *b == 0).unwrap_or(s.len());
            LocalType { offset, abbr: String::from_utf8_lossy(&s[..end]).into_owned() }
        })
        .collect::<Vec<_>>();
    if idx.iter().any(|i| *i >= types.len()) {
        return Err("TZif transition refers to a missing type".into());
    }
    p += h.leapcnt * (time_size + 4) + h.isstdcnt + h.isutcnt;
    Ok((Zone { name: name.to_owned(), transitions, idx, types, rule: None }, &body[p..]))
}

/// A POSIX `TZ` rule such as `CET-1CEST,M3.5.0,M10.5.0/3`.
#[derive(Clone, Debug, PartialEq)]
pub struct PosixTz {
    std_abbr: String,
    /// Seconds east of UTC.
    std_offset: i32,
    dst: Option<Dst>,
}

#[derive(Clone, Debug, PartialEq)]
struct Dst {
    abbr: String,
    offset: i32,
    start: (DateRule, i32),
    end: (DateRule, i32),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DateRule {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(i32),
    /// `n`: day 0..=365, counting February 29 in leap years.
    Julian0(i32),
    /// `Mm.w.d`: the d'th weekday of week w (5 = last) of month m.
    MonthWeekDay(i32, i32, i32),
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn abbr(&mut self) -> Option<String> {
        let start = self.i;
        if self.peek() == Some(b'<') {
            let end = self.s[start..].iter().position(|b| *b == b'>')? + start;
            self.i = end + 1;
            return std::str::from_utf8(&self.s[start + 1..end]).ok().map(str::to_owned);
        }
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        if self.i - start < 3 {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok().map(str::to_owned)
    }

    fn num(&mut self) -> Option<i32> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    fn time(&mut self) -> Option<i32> {
        let sign = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                -1
            }
            Some(b'+') => {
                self.i += 1;
                1
            }
            _ => 1,
        };
        let h = self.num()?;
        let mut secs = h * 3600;
        if self.peek() == Some(b':') {
            self.i += 1;
            secs += self.num()? * 60;
            if self.peek() == Some(b':') {
                self.i += 1;
                secs += self.num()?;
            }
        }
        Some(sign * secs)
    }

    fn date(&mut self) -> Option<DateRule> {
        match self.peek()? {
            b'J' => {
                self.i += 1;
                Some(DateRule::Julian1(self.num()?))
            }
            b'M' => {
                self.i += 1;
                let m = self.num()?;
                (self.peek() == Some(b'.')).then_some(())?;
                self.i += 1;
                let w = self.num()?;
                (self.peek() == Some(b'.')).then_some(())?;
                self.i += 1;
                let d = self.num()?;
                ((1..=12).contains(&m) && (1..=5).contains(&w) && (0..=6).contains(&d))
                    .then_some(DateRule::MonthWeekDay(m, w, d))
            }
            b if b.is_ascii_digit() => Some(DateRule::Julian0(self.num()?)),
            _ => None,
        }
    }

    fn rule(&mut self) -> Option<(DateRule, i32)> {
        let d = self.date()?;
        let t = if self.peek() == Some(b'/') {
            self.i += 1;
            self.time()?
        } else {
            7200
        };
        Some((d, t))
    }
}

impl PosixTz {
    pub fn parse(s: &str) -> Option<PosixTz> {
        let mut c = Cursor { s: s.as_bytes(), i: 0 };
        let std_abbr = c.abbr()?;
        let std_offset = -c.time()?;
        if c.peek().is_none() {
            return Some(PosixTz { std_abbr, std_offset, dst: None });
        }
        let abbr = c.abbr()?;
        let offset = if matches!(c.peek(), Some(b) if b == b'+' || b == b'-' || b.is_ascii_digit())
        {
            -c.time()?
        } else {
            std_offset + 3600
        };
        // Without explicit rules, POSIX's default is the US rules.
        let (start, end) = if c.peek() == Some(b',') {
            c.i += 1;
            let start = c.rule()?;
            (c.peek() == Some(b',')).then_some(())?;
            c.i += 1;
            (start, c.rule()?)
        } else {
            ((DateRule::MonthWeekDay(3, 2, 0), 7200), (DateRule::MonthWeekDay(11, 1, 0), 7200))
        };
        if c.peek().is_some() {
            return None;
        }
        Some(PosixTz { std_abbr, std_offset, dst: Some(Dst { abbr, offset, start, end }) })
    }

    pub fn offset_at(&self, unix_secs: i64) -> (i32, &str) {
        let Some(dst) = &self.dst else { return (self.std_offset, &self.std_abbr) };
        let year = andon_core::time::civil_from_days(
            (unix_secs + i64::from(self.std_offset)).div_euclid(86_400),
        )
        .0;
        // Transition instants in UTC: the start is given in standard time, the end in
        // daylight time.
        let start =
            rule_day_secs(year, dst.start.0) + i64::from(dst.start.1) - i64::from(self.std_offset);
        let end = rule_day_secs(year, dst.end.0) + i64::from(dst.end.1) - i64::from(dst.offset);
        let in_dst = if start < end {
            unix_secs >= start && unix_secs < end
        } else {
            !(unix_secs >= end && unix_secs < start)
        };
        if in_dst { (dst.offset, &dst.abbr) } else { (self.std_offset, &self.std_abbr) }
    }
}

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

/// Seconds since the epoch (local midnight) of the rule's day in `year`.
fn rule_day_secs(year: i64, r: DateRule) -> i64 {
    let jan1 = days_from_civil(year, 1, 1);
    let day = match r {
        DateRule::Julian1(n) => {
            let n = i64::from(n);
            let mut d = jan1 + n - 1;
            if is_leap(year) && n >= 60 {
                d += 1;
            }
            d
        }
        DateRule::Julian0(n) => jan1 + i64::from(n),
        DateRule::MonthWeekDay(m, w, wd) => {
            let (m, w, wd) = (i64::from(m), i64::from(w), i64::from(wd));
            let first = days_from_civil(year, m, 1);
            let first_wd = (first + 4).rem_euclid(7);
            let mut d = first + (wd - first_wd).rem_euclid(7) + (w - 1) * 7;
            let last = first + days_in_month(year, m) - 1;
            while d > last {
                d -= 7;
            }
            d
        }
    };
    day * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_rules() {
        let cet = PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap_or_else(|| panic!("parse"));
        // 2024-03-31 00:59:59Z is CET, 01:00:00Z is CEST.
        assert_eq!(cet.offset_at(1_711_846_799).0, 3600);
        assert_eq!(cet.offset_at(1_711_846_800), (7200, "CEST"));
        // 2024-10-27 00:59:59Z is CEST, 01:00:00Z is CET.
        assert_eq!(cet.offset_at(1_729_990_799).0, 7200);
        assert_eq!(cet.offset_at(1_729_990_800).0, 3600);
        let aus = PosixTz::parse("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap_or_else(|| panic!("p"));
        // January is summer in Sydney.
        assert_eq!(aus.offset_at(1_704_067_200).0, 11 * 3600);
        assert_eq!(aus.offset_at(1_719_792_000).0, 10 * 3600);
        let ist = PosixTz::parse("<+0530>-5:30").unwrap_or_else(|| panic!("p"));
        assert_eq!(ist.offset_at(0), (19_800, "+0530"));
        assert!(PosixTz::parse("X1").is_none());
    }

    #[test]
    fn builtin_zones() {
        let z = resolve_zone("Etc/GMT+5", &NoZones).unwrap_or_else(|| panic!("zone"));
        assert_eq!(z.offset_at(0).0, -5 * 3600);
        let z = resolve_zone("Etc/GMT-14", &NoZones).unwrap_or_else(|| panic!("zone"));
        assert_eq!(z.offset_at(0).0, 14 * 3600);
        assert!(resolve_zone("Etc/GMT+13", &NoZones).is_none());
        assert!(resolve_zone("Europe/Paris", &NoZones).is_none());
        assert_eq!(resolve_zone("UTC", &NoZones).map(|z| z.offset_at(0).0), Some(0));
    }

    #[test]
    fn zone_names_are_checked() {
        assert!(is_valid_zone_name("Europe/Paris"));
        assert!(is_valid_zone_name("Etc/GMT+5"));
        assert!(is_valid_zone_name("America/Argentina/Buenos_Aires"));
        assert!(!is_valid_zone_name("../etc/passwd"));
        assert!(!is_valid_zone_name("/etc/passwd"));
        assert!(!is_valid_zone_name("a//b"));
        assert!(!is_valid_zone_name(""));
    }

    #[test]
    fn tzif_garbage_is_refused() {
        assert!(Zone::from_tzif("x", b"nope").is_err());
        let mut d = b"TZif2".to_vec();
        d.resize(44, 0);
        d[35] = 1; // typecnt = 1 with no body
        assert!(Zone::from_tzif("x", &d).is_err());
    }
}
