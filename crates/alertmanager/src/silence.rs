//! Silences: matchers over a time range that mute matching alerts while active, with
//! Alertmanager's validation, states, in-place update rules, expiry and retention.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::LabelSet;
use crate::matcher::{MatchOp, Matcher, matches_all};

/// How long expired silences are kept by default (Alertmanager's `--data.retention`, 120h).
pub const DEFAULT_RETENTION_MS: i64 = 120 * 3_600_000;

/// A silence. Times are Unix milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub created_by: String,
    pub comment: String,
    pub updated_at: i64,
}

/// Where a silence is in its life at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    /// Pending before `starts_at`, expired after `ends_at`, active in between (both ends
    /// included).
    pub fn state(&self, now: i64) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether the silence's matchers accept the label set (whatever its state).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        matches_all(&self.matchers, labels)
    }

    /// Whether the silence mutes `labels` at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: i64) -> bool {
        self.state(now) == SilenceState::Active && self.matches(labels)
    }

    /// Alertmanager's checks: at least one matcher, valid label names, not every matcher
    /// matching the empty string, an end not before the start.
    pub fn validate(&self) -> Result<(), String> {
        if self.matchers.is_empty() {
            return Err("at least one matcher required".into());
        }
        for (i, m) in self.matchers.iter().enumerate() {
            if m.name.is_empty() {
                return Err(format!("invalid label matcher {i}: invalid label name {:?}", m.name));
            }
        }
        if self.matchers.iter().all(Matcher::matches_empty) {
            return Err("at least one matcher must not match the empty string".into());
        }
        if self.ends_at < self.starts_at {
            return Err("end time must not be before start time".into());
        }
        Ok(())
    }
}

/// A problem with a silence write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SilenceError {
    /// The silence is invalid; the message says why.
    Invalid(String),
    /// No silence has that ID.
    NotFound(String),
}

impl std::fmt::Display for SilenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SilenceError::Invalid(m) => write!(f, "invalid silence: {m}"),
            SilenceError::NotFound(id) => write!(f, "silence {id:?} not found"),
        }
    }
}

impl std::error::Error for SilenceError {}

/// The silences Alertmanager holds, by ID.
#[derive(Clone, Debug, Default)]
pub struct Silences {
    by_id: BTreeMap<String, Silence>,
    seq: u64,
}

impl Silences {
    pub fn new() -> Self {
        Silences::default()
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.by_id.get(id)
    }

    /// Every silence, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Puts a silence back as it was stored (loading a snapshot): no checks, no changes.
    pub fn restore(&mut self, s: Silence) {
        self.by_id.insert(s.id.clone(), s);
    }

    /// Creates or updates a silence the way Alertmanager does and returns its ID.
    ///
    /// An empty `id` creates a new silence (its start moved up to `now` if earlier). An
    /// existing `id` is updated in place when that leaves history intact (same matchers;
    /// an active silence keeps its start and does not end in the past; a pending one does
    /// not start in the past); otherwise the old silence is expired and a new one with a
    /// new ID is created.
    pub fn set(&mut self, mut s: Silence, now: i64) -> Result<String, SilenceError> {
        s.validate().map_err(SilenceError::Invalid)?;
        let prev = if s.id.is_empty() {
            None
        } else {
            Some(
                self.by_id
                    .get(&s.id)
                    .cloned()
                    .ok_or_else(|| SilenceError::NotFound(s.id.clone()))?,
            )
        };
        if let Some(p) = &prev
            && can_update(p, &s, now)
        {
            s.updated_at = now;
            let id = s.id.clone();
            self.by_id.insert(id.clone(), s);
            return Ok(id);
        }
        if let Some(p) = &prev
            && p.state(now) != SilenceState::Expired
        {
            self.expire(&p.id, now)?;
        }
        s.id = self.new_id(&s, now);
        s.starts_at = s.starts_at.max(now);
        if s.ends_at < s.starts_at {
            return Err(SilenceError::Invalid("end time must not be before start time".into()));
        }
        s.updated_at = now;
        let id = s.id.clone();
        self.by_id.insert(id.clone(), s);
        Ok(id)
    }

    /// Ends a silence now: an active one ends at `now`, a pending one starts and ends at
    /// `now`; an expired one is left as it is.
    pub fn expire(&mut self, id: &str, now: i64) -> Result<(), SilenceError> {
        let s = self.by_id.get_mut(id).ok_or_else(|| SilenceError::NotFound(id.to_owned()))?;
        match s.state(now) {
            SilenceState::Expired => return Ok(()),
            SilenceState::Active => s.ends_at = now,
            SilenceState::Pending => {
                s.starts_at = now;
                s.ends_at = now;
            }
        }
        s.updated_at = now;
        Ok(())
    }

    /// The IDs of the silences muting `labels` at `now`.
    pub fn silenced_by(&self, labels: &LabelSet, now: i64) -> Vec<&str> {
        self.by_id.values().filter(|s| s.mutes(labels, now)).map(|s| s.id.as_str()).collect()
    }

    /// Whether any active silence mutes `labels` at `now`.
    pub fn is_silenced(&self, labels: &LabelSet, now: i64) -> bool {
        self.by_id.values().any(|s| s.mutes(labels, now))
    }

    /// Drops silences that expired more than `retention_ms` ago; returns how many.
    pub fn gc(&mut self, now: i64, retention_ms: i64) -> usize {
        let before = self.by_id.len();
        self.by_id.retain(|_, s| s.ends_at.saturating_add(retention_ms) > now);
        before - self.by_id.len()
    }

    /// A fresh ID in UUID form, derived from the silence, the time and a counter (the
    /// same inputs never repeat within one set).
    fn new_id(&mut self, s: &Silence, now: i64) -> String {
        loop {
            self.seq += 1;
            let seed = format!(
                "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
                self.seq,
                now,
                s.created_by,
                s.comment,
                s.matchers.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(",")
            );
            let h = andon_core::sha256::digest_hex(seed.as_bytes());
            // Version 4 / variant 1 bits, like a random UUID.
            let id = format!(
                "{}-{}-4{}-{}{}-{}",
                &h[0..8],
                &h[8..12],
                &h[13..16],
                ["8", "9", "a", "b"][usize::from(h.as_bytes()[16] % 4)],
                &h[17..20],
                &h[20..32]
            );
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }
}

fn can_update(a: &Silence, b: &Silence, now: i64) -> bool {
    if a.matchers != b.matchers {
        return false;
    }
    match a.state(now) {
        SilenceState::Active => a.starts_at / 1000 == b.starts_at / 1000 && b.ends_at >= now,
        SilenceState::Pending => b.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// A matcher for silences given as `{name, value, isRegex, isEqual}` (the API's form).
pub fn api_matcher(
    name: &str,
    value: &str,
    is_regex: bool,
    is_equal: bool,
) -> Result<Matcher, String> {
    let op = match (is_regex, is_equal) {
        (false, true) => MatchOp::Equal,
        (false, false) => MatchOp::NotEqual,
        (true, true) => MatchOp::Regex,
        (true, false) => MatchOp::NotRegex,
    };
    Matcher::new(op, name, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::parse_matchers;

    fn sil(m: &str, start: i64, end: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers: parse_matchers(m).unwrap_or_default(),
            starts_at: start,
            ends_at: end,
            created_by: "ada".into(),
            comment: "maintenance".into(),
            updated_at: 0,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn states_over_time() {
        let s = sil(r#"a="b""#, 100, 200);
        assert_eq!(s.state(99), SilenceState::Pending);
        assert_eq!(s.state(100), SilenceState::Active);
        assert_eq!(s.state(200), SilenceState::Active);
        assert_eq!(s.state(201), SilenceState::Expired);
        assert!(s.mutes(&labels(&[("a", "b"), ("c", "d")]), 150));
        assert!(!s.mutes(&labels(&[("a", "b")]), 250));
        assert!(!s.mutes(&labels(&[("a", "x")]), 150));
    }

    #[test]
    fn validation() {
        assert!(sil(r#"a="b""#, 100, 200).validate().is_ok());
        assert!(sil("", 100, 200).validate().is_err(), "no matchers");
        assert!(sil(r#"a="""#, 100, 200).validate().is_err(), "matches everything");
        assert!(sil(r#"a=~".*", b!="x""#, 100, 200).validate().is_err());
        assert!(sil(r#"a=~".*", b="x""#, 100, 200).validate().is_ok());
        assert!(sil(r#"a="b""#, 200, 100).validate().is_err(), "ends before it starts");
    }

    #[test]
    fn set_creates_updates_and_replaces() {
        let mut ss = Silences::new();
        let id = ss.set(sil(r#"a="b""#, 50, 200), 100).unwrap_or_default();
        assert!(!id.is_empty());
        assert_eq!(id.len(), 36);
        let s = ss.get(&id).cloned().unwrap_or_else(|| sil("", 0, 0));
        assert_eq!(s.starts_at, 100, "a start in the past moves to now");
        assert!(ss.is_silenced(&labels(&[("a", "b")]), 150));
        // Extending an active silence keeps its ID.
        let mut longer = s.clone();
        longer.ends_at = 300;
        assert_eq!(ss.set(longer, 150), Ok(id.clone()));
        assert_eq!(ss.get(&id).map(|s| s.ends_at), Some(300));
        // Changing matchers expires the old one and creates a new one.
        let mut other = s.clone();
        other.matchers = parse_matchers(r#"a="c""#).unwrap_or_default();
        let new_id = ss.set(other, 160).unwrap_or_default();
        assert_ne!(new_id, id);
        assert_eq!(ss.get(&id).map(|s| s.state(161)), Some(SilenceState::Expired));
        assert_eq!(ss.get(&new_id).map(|s| s.starts_at), Some(160));
        assert_eq!(ss.silenced_by(&labels(&[("a", "c")]), 170), vec![new_id.as_str()]);
        // Unknown IDs are refused.
        let mut ghost = sil(r#"a="b""#, 0, 500);
        ghost.id = "nope".into();
        assert_eq!(ss.set(ghost, 0), Err(SilenceError::NotFound("nope".into())));
    }

    #[test]
    fn expire_and_gc() {
        let mut ss = Silences::new();
        let pending = ss.set(sil(r#"a="b""#, 1000, 2000), 0).unwrap_or_default();
        let active = ss.set(sil(r#"a="c""#, 0, 2000), 0).unwrap_or_default();
        assert_eq!(ss.expire(&pending, 10), Ok(()));
        assert_eq!(ss.get(&pending).map(|s| (s.starts_at, s.ends_at)), Some((10, 10)));
        assert_eq!(ss.expire(&active, 20), Ok(()));
        assert_eq!(ss.get(&active).map(|s| s.ends_at), Some(20));
        assert_eq!(ss.expire("missing", 20), Err(SilenceError::NotFound("missing".into())));
        assert_eq!(ss.gc(100, 1000), 0);
        assert_eq!(ss.gc(1015, 1000), 1);
        assert_eq!(ss.len(), 1);
        assert_eq!(ss.gc(1021, 1000), 1);
        assert!(ss.is_empty());
    }

    #[test]
    fn api_matchers() {
        assert_eq!(api_matcher("a", "b", false, false).map(|m| m.op), Ok(MatchOp::NotEqual));
        assert!(api_matcher("a", "(", true, true).is_err());
    }
}
