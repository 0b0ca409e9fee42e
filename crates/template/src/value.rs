//! The values templates compute with: Go's dynamic types as far as templates can see them,
//! plus the time and duration values Prometheus's and Alertmanager's functions return.

use std::collections::BTreeMap;

use andon_core::time::{civil_from_days, days_from_civil};

/// A template value.
///
/// Maps model both Go maps and Go structs: `.Name` looks a key up. A map whose values are
/// all strings behaves like Go's `map[string]string` (a missing key reads as `""`) and, for
/// Alertmanager templates, offers the label-set helpers (`SortedPairs`, `Names`, `Values`,
/// `Remove`) when no key of that name exists.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's untyped nil (a missing value); prints as `<no value>` in an action.
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// A point in time, like Go's `time.Time`.
    Time(Time),
    /// A span of nanoseconds, like Go's `time.Duration`.
    Duration(i64),
}

/// A point in time with a fixed UTC offset, like Go's `time.Time` in a given zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// Offset of the zone from UTC in seconds (east positive).
    pub offset: i32,
    /// Zone abbreviation (`UTC`, `CET`); empty when the zone has none.
    pub zone: String,
}

impl Time {
    /// A UTC time from seconds and nanoseconds since the Unix epoch.
    pub fn from_unix(secs: i64, nanos: u32) -> Time {
        let extra = i64::from(nanos / 1_000_000_000);
        Time { secs: secs + extra, nanos: nanos % 1_000_000_000, offset: 0, zone: "UTC".into() }
    }

    /// A UTC time from milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Time {
        Time::from_unix(ms.div_euclid(1000), (ms.rem_euclid(1000) * 1_000_000) as u32)
    }

    /// A UTC time from nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(ns: i128) -> Time {
        let secs = ns.div_euclid(1_000_000_000);
        let nanos = ns.rem_euclid(1_000_000_000) as u32;
        Time::from_unix(secs.clamp(i64::MIN as i128, i64::MAX as i128) as i64, nanos)
    }

    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC` (what an unset timestamp holds).
    pub fn zero() -> Time {
        Time::from_unix(-62_135_596_800, 0)
    }

    /// Whether this is Go's zero time.
    pub fn is_zero(&self) -> bool {
        self.secs == -62_135_596_800 && self.nanos == 0
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// The same instant in another fixed zone.
    pub fn with_zone(&self, offset: i32, zone: &str) -> Time {
        Time { secs: self.secs, nanos: self.nanos, offset, zone: zone.to_owned() }
    }

    /// The wall clock in this time's zone.
    pub(crate) fn civil(&self) -> Civil {
        let local = self.secs + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let jan1 = days_from_civil(year, 1, 1);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod % 3600 / 60,
            second: sod % 60,
            nanos: self.nanos,
            weekday: (days + 4).rem_euclid(7),
            yday: days - jan1 + 1,
        }
    }
}

/// Broken-down wall-clock fields of a [`Time`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nanos: u32,
    /// 0 = Sunday.
    pub weekday: i64,
    /// 1-based day of the year.
    pub yday: i64,
}

impl Value {
    /// Builds a map from key/value pairs.
    pub fn map<K: Into<String>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// Go's truthiness: false, 0, nil, and empty strings, lists and maps are false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Time(_) => true,
            Value::Duration(d) => *d != 0,
        }
    }

    /// The Go type name, as `%T` and error messages show it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
        }
    }

    /// The string inside a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a map whose values are all strings (Go's `map[string]string`).
    pub fn is_string_map(&self) -> bool {
        match self {
            Value::Map(m) => m.values().all(|v| matches!(v, Value::Str(_))),
            _ => false,
        }
    }

    /// How deeply lists and maps nest inside this value (0 for a scalar).
    pub(crate) fn depth(&self) -> usize {
        match self {
            Value::List(l) => 1 + l.iter().map(Value::depth).max().unwrap_or(0),
            Value::Map(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Str(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Str(v.clone())
    }
}

impl From<Time> for Value {
    fn from(v: Time) -> Value {
        Value::Time(v)
    }
}

impl From<std::time::Duration> for Value {
    fn from(v: std::time::Duration) -> Value {
        Value::Duration(i64::try_from(v.as_nanos()).unwrap_or(i64::MAX))
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<BTreeMap<String, T>> for Value {
    fn from(v: BTreeMap<String, T>) -> Value {
        Value::Map(v.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

impl<T: Into<Value> + Clone> From<&BTreeMap<String, T>> for Value {
    fn from(v: &BTreeMap<String, T>) -> Value {
        Value::Map(v.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Nil, Into::into)
    }
}
