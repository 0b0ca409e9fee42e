//! Relabeling: an ordered list of rules that rewrite, filter or drop label
//! sets, with Prometheus 3's semantics (`relabel_configs`,
//! `metric_relabel_configs`, `write_relabel_configs`, `alert_relabel_configs`).
//!
//! Every rule first joins the values of its `source_labels` (an absent label
//! reads as "") with its `separator`. Then, by action:
//!
//! - `replace`: when the regex matches the joined value, the target label name
//!   and the replacement are both expanded with the match's groups; a target
//!   name that is not a valid label name after expansion leaves the set as it
//!   is, and an empty result deletes the target label.
//! - `keep` / `drop`: keep (drop) the set only when the regex matches.
//! - `keepequal` / `dropequal`: keep (drop) the set only when the joined value
//!   equals the value of `target_label`.
//! - `hashmod`: the target label becomes the decimal value of the last eight
//!   bytes of the MD5 digest of the joined value (big-endian) modulo `modulus`.
//! - `labelmap`: every label whose name matches the regex is copied to the
//!   name the replacement expands to (groups taken from the name).
//! - `labeldrop` / `labelkeep`: remove the labels whose names match (do not
//!   match) the regex.
//! - `lowercase` / `uppercase`: the target label becomes the case-mapped
//!   joined value (one character to one character, as Go's `strings.ToLower`
//!   and `strings.ToUpper` do).
//!
//! Regexes use Go's RE2 syntax and are fully anchored with `.` matching
//! newlines (`^(?s:REGEX)$`). Go's ASCII-only `\d \w \s \b` (and their
//! negations), `\Q…\E` quoting, a `{` that does not start a repetition, and
//! literal `[ & ~ -` inside a character class keep their Go meaning.
//!
//! Templates expand like Go's `Regexp.Expand`: `$name` and `${name}` where the
//! name is the longest run of letters, digits and underscores (so `$1x` is the
//! group named `1x`, which does not exist, and expands to ""), a number names
//! a group by index, a missing or unmatched group expands to "", `$$` is a
//! literal `$`, and a `$` not followed by a name is kept as is.
//!
//! Rules run in order over one evolving label set; a rule that drops the set
//! ends the run. [`Relabeler::apply`] also treats a set left with no labels
//! as dropped, as Prometheus's scrape loop does after metric relabeling;
//! [`Relabeler::process`] returns it.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::labels::{Label, Labels};

/// The default `separator`.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `regex`.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// What a rule does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    /// Every action, in the order Prometheus documents them.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The configuration name (`replace`, `labelmap`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

/// Parses a configuration name, ignoring case.
impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| format!("unknown relabel action {s:?}"))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which label names a rule may write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NameValidation {
    /// Any non-empty string (Prometheus 3's default).
    #[default]
    Utf8,
    /// `[a-zA-Z_][a-zA-Z0-9_]*`.
    Legacy,
}

impl NameValidation {
    /// Whether `name` is a label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => is_legacy_name(name),
        }
    }

    /// Whether a template (`target_label` of `replace`, `replacement` of
    /// `labelmap`) is acceptable before expansion.
    fn is_valid_template(self, template: &str) -> bool {
        match self {
            NameValidation::Utf8 => !template.is_empty(),
            NameValidation::Legacy => is_legacy_template(template),
        }
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_legacy_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(first) if first.is_ascii_alphabetic() || *first == b'_' => {
            b.iter().all(|c| is_word_byte(*c))
        }
        _ => false,
    }
}

/// A legacy name in which `$var` and `${var}` may stand for characters:
/// it starts with a letter, `_` or a variable, and goes on with word
/// characters and variables.
fn is_legacy_template(template: &str) -> bool {
    let b = template.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let start = i + 1;
            if b.get(start) == Some(&b'{') {
                let mut j = start + 1;
                while j < b.len() && is_word_byte(b[j]) {
                    j += 1;
                }
                if j == start + 1 || b.get(j) != Some(&b'}') {
                    return false;
                }
                i = j + 1;
            } else {
                let mut j = start;
                while j < b.len() && is_word_byte(b[j]) {
                    j += 1;
                }
                if j == start {
                    return false;
                }
                i = j;
            }
        } else if is_word_byte(b[i]) && (i > 0 || !b[i].is_ascii_digit()) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// One relabeling rule, as written in configuration. [`Default`] gives
/// Prometheus's defaults: `replace`, separator `;`, regex `(.*)`,
/// replacement `$1`, no source labels, no target label, modulus 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub target_label: String,
    pub regex: String,
    pub modulus: u64,
    pub replacement: String,
    pub action: Action,
    /// Which names `replace` may write and which targets are accepted.
    pub name_validation: NameValidation,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        Self {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            target_label: String::new(),
            regex: DEFAULT_REGEX.to_string(),
            modulus: 0,
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: Action::Replace,
            name_validation: NameValidation::Utf8,
        }
    }
}

impl RelabelConfig {
    /// Checks the rule as Prometheus does when loading configuration, and
    /// that the regex compiles.
    pub fn validate(&self) -> Result<(), String> {
        self.compile().map(|_| ())
    }

    fn compile(&self) -> Result<Regex, String> {
        let regex = compile_regex(&self.regex)?;
        let action = self.action;
        let target = self.target_label.as_str();
        let names = self.name_validation;
        let invalid_target =
            || Err(format!("{target:?} is invalid 'target_label' for {action} action"));

        if action == Action::HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".to_string());
        }
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(format!(
                "relabel configuration for {action} action requires 'target_label' value"
            ));
        }
        if action == Action::Replace {
            let ok = if target.contains('$') {
                names.is_valid_template(target)
            } else {
                names.is_valid_label_name(target)
            };
            if !ok {
                return invalid_target();
            }
        }
        let plain_target = matches!(
            action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if plain_target && !names.is_valid_label_name(target) {
            return invalid_target();
        }
        if plain_target && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {action} action"));
        }
        if action == Action::LabelMap && !names.is_valid_template(&self.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {action} action",
                self.replacement
            ));
        }
        if action == Action::HashMod && !names.is_valid_label_name(target) {
            return invalid_target();
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex != DEFAULT_REGEX
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !target.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!("{action} action requires only 'regex', and no other fields"));
        }
        Ok(regex)
    }
}

/// Compiles a relabel regex: Go syntax, fully anchored, `.` matching newlines.
fn compile_regex(pattern: &str) -> Result<Regex, String> {
    let anchored = format!("^(?s:{})$", translate_go_regex(pattern));
    Regex::new(&anchored).map_err(|e| {
        let text = e.to_string();
        let detail = text.lines().last().unwrap_or("").trim();
        format!("invalid regular expression {pattern:?}: {detail}")
    })
}

/// Rewrites Go regex syntax into the regex crate's where the two disagree:
/// Perl classes and word boundaries are ASCII-only in Go, `\Q…\E` quotes,
/// escaped punctuation is always literal, a `{` that does not start a
/// repetition is literal, and inside a class `[`, `&`, `~` are literal and a
/// `-` is a range only between two single characters.
fn translate_go_regex(go: &str) -> String {
    let chars: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    // A trailing backslash; the engine reports it.
                    out.push('\\');
                    i += 1;
                    continue;
                };
                i += 2;
                match n {
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => push_perl_class(&mut out, n, false),
                    'b' | 'B' => {
                        out.push_str("(?-u:\\");
                        out.push(n);
                        out.push(')');
                    }
                    'Q' => {
                        let mut end = chars.len();
                        let mut next = chars.len();
                        let mut j = i;
                        while j + 1 < chars.len() {
                            if chars[j] == '\\' && chars[j + 1] == 'E' {
                                end = j;
                                next = j + 2;
                                break;
                            }
                            j += 1;
                        }
                        let literal: String = chars[i..end].iter().collect();
                        out.push_str(&regex::escape(&literal));
                        i = next;
                    }
                    'x' => {
                        out.push_str("\\x");
                        i = copy_hex(&chars, i, &mut out);
                    }
                    'p' | 'P' => {
                        out.push('\\');
                        out.push(n);
                        i = copy_braced(&chars, i, &mut out);
                    }
                    n if n.is_ascii_punctuation() => out.push_str(&regex::escape(&n.to_string())),
                    n => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' => i = translate_class(&chars, i, &mut out),
            '{' => match repeat_len(&chars[i..]) {
                Some(len) => {
                    out.extend(&chars[i..i + len]);
                    i += len;
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Copies a `{...}` group starting at `i`, if there is one, and returns the
/// index after what was copied.
fn copy_braced(chars: &[char], i: usize, out: &mut String) -> usize {
    if chars.get(i) != Some(&'{') {
        return i;
    }
    match chars[i..].iter().position(|c| *c == '}') {
        Some(p) => {
            out.extend(&chars[i..=i + p]);
            i + p + 1
        }
        None => i,
    }
}

/// Copies the digits of a `\x` escape (`{...}` or two characters) starting
/// at `i` and returns the index after them.
fn copy_hex(chars: &[char], i: usize, out: &mut String) -> usize {
    if chars.get(i) == Some(&'{') {
        return copy_braced(chars, i, out);
    }
    let end = (i + 2).min(chars.len());
    out.extend(&chars[i..end]);
    end
}

/// The length of a Go repetition `{n}`, `{n,}` or `{n,m}` at the start of
/// `chars` (numbers without leading zeros), if there is one.
fn repeat_len(chars: &[char]) -> Option<usize> {
    fn number(chars: &[char], at: usize) -> Option<usize> {
        let digits = chars[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && chars[at] == '0') {
            return None;
        }
        Some(at + digits)
    }
    if chars.first() != Some(&'{') {
        return None;
    }
    let mut at = number(chars, 1)?;
    if chars.get(at) == Some(&',') {
        at += 1;
        if chars.get(at) != Some(&'}') {
            at = number(chars, at)?;
        }
    }
    (chars.get(at) == Some(&'}')).then_some(at + 1)
}

fn push_perl_class(out: &mut String, letter: char, in_class: bool) {
    let (set, negated) = match letter {
        'd' => ("0-9", false),
        'D' => ("0-9", true),
        'w' => ("0-9A-Za-z_", false),
        'W' => ("0-9A-Za-z_", true),
        's' => ("\\t\\n\\x0C\\r ", false),
        _ => ("\\t\\n\\x0C\\r ", true),
    };
    if in_class && !negated {
        out.push_str(set);
    } else {
        out.push_str(if negated { "[^" } else { "[" });
        out.push_str(set);
        out.push(']');
    }
}

fn push_class_literal(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '-' | '^' | '&' | '~') {
        out.push('\\');
    }
    out.push(c);
}

/// Translates a character class starting at `chars[start] == '['` and
/// returns the index after it. An unterminated class is copied so that the
/// engine reports it.
fn translate_class(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    // Set right after a range's `-`: the next item is its upper end.
    let mut range_end = false;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && !first {
            out.push(']');
            return i + 1;
        }
        first = false;
        // One item: a POSIX class, an escape, or a single character.
        let single = if c == '[' && chars.get(i + 1) == Some(&':') {
            let close = chars[i + 2..].windows(2).position(|w| w == [':', ']']);
            match close {
                Some(p) => {
                    let end = i + 2 + p + 2;
                    out.extend(&chars[i..end]);
                    i = end;
                    false
                }
                None => {
                    push_class_literal(out, '[');
                    i += 1;
                    true
                }
            }
        } else if c == '\\' {
            match chars.get(i + 1) {
                None => {
                    out.push('\\');
                    i += 1;
                    true
                }
                Some(&n) => {
                    i += 2;
                    match n {
                        'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                            push_perl_class(out, n, true);
                            false
                        }
                        'p' | 'P' => {
                            out.push('\\');
                            out.push(n);
                            if chars.get(i) == Some(&'{') {
                                i = copy_braced(chars, i, out);
                            } else if let Some(&l) = chars.get(i) {
                                out.push(l);
                                i += 1;
                            }
                            false
                        }
                        'x' => {
                            out.push_str("\\x");
                            i = copy_hex(chars, i, out);
                            true
                        }
                        n if n.is_ascii_punctuation() => {
                            push_class_literal(out, n);
                            true
                        }
                        n => {
                            out.push('\\');
                            out.push(n);
                            true
                        }
                    }
                }
            }
        } else {
            push_class_literal(out, c);
            i += 1;
            true
        };
        if range_end {
            range_end = false;
            continue;
        }
        if single && chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|n| *n != ']') {
            out.push('-');
            i += 1;
            range_end = true;
        }
    }
    i
}

/// Letters, digits and underscores, as Go's template names use them.
static TEMPLATE_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\A[\p{L}\p{Nd}_]+").ok());

fn template_name_len(s: &str) -> usize {
    match TEMPLATE_NAME.as_ref() {
        Some(re) => re.find(s).map_or(0, |m| m.end()),
        None => s
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(s.len(), |(i, _)| i),
    }
}

/// The group a template name refers to by number: ASCII digits without a
/// leading zero, below 10^8.
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    let mut n: usize = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// Appends `template` to `out` with `$` references replaced by groups of
/// `caps`.
fn expand(template: &str, caps: &Captures<'_>, out: &mut String) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (braced, body) = match after.strip_prefix('{') {
            Some(body) => (true, body),
            None => (false, after),
        };
        let len = template_name_len(body);
        let name = &body[..len];
        let tail = if len == 0 {
            None
        } else if braced {
            body[len..].strip_prefix('}')
        } else {
            Some(&body[len..])
        };
        let Some(tail) = tail else {
            // Not a reference: the `$` is literal.
            out.push('$');
            rest = after;
            continue;
        };
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => caps.name(name),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
        rest = tail;
    }
    out.push_str(rest);
}

/// Every match of `re` in `text` replaced by the expanded template, the text
/// between matches kept.
fn replace_all(re: &Regex, text: &str, template: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        expand(template, &caps, &mut out);
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// Go's `strings.ToLower`: each character to its simple lowercase mapping.
fn go_lowercase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut it = c.to_lowercase();
            match (it.next(), it.next()) {
                (Some(l), None) => l,
                // Only U+0130 lowercases to two characters; its simple
                // mapping is a plain `i`.
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToUpper`: each character to its simple uppercase mapping.
fn go_uppercase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut it = c.to_uppercase();
            match (it.next(), it.next()) {
                (Some(u), None) => u,
                _ => {
                    // Characters that uppercase to several characters have no
                    // simple mapping, except the Greek ones with
                    // ypogegrammeni, which map to their titlecase forms.
                    let u = u32::from(c);
                    let simple = match u {
                        0x1F80..=0x1FAF if u & 0xF < 8 => u + 8,
                        0x1FB3 | 0x1FC3 | 0x1FF3 => u + 9,
                        _ => u,
                    };
                    char::from_u32(simple).unwrap_or(c)
                }
            }
        })
        .collect()
}

/// MD5 (RFC 1321).
fn md5(data: &[u8]) -> [u8; 16] {
    const SHIFTS: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    const K: [u32; 64] = [
        0xd76a_a478,
        0xe8c7_b756,
        0x2420_70db,
        0xc1bd_ceee,
        0xf57c_0faf,
        0x4787_c62a,
        0xa830_4613,
        0xfd46_9501,
        0x6980_98d8,
        0x8b44_f7af,
        0xffff_5bb1,
        0x895c_d7be,
        0x6b90_1122,
        0xfd98_7193,
        0xa679_438e,
        0x49b4_0821,
        0xf61e_2562,
        0xc040_b340,
        0x265e_5a51,
        0xe9b6_c7aa,
        0xd62f_105d,
        0x0244_1453,
        0xd8a1_e681,
        0xe7d3_fbc8,
        0x21e1_cde6,
        0xc337_07d6,
        0xf4d5_0d87,
        0x455a_14ed,
        0xa9e3_e905,
        0xfcef_a3f8,
        0x676f_02d9,
        0x8d2a_4c8a,
        0xfffa_3942,
        0x8771_f681,
        0x6d9d_6122,
        0xfde5_380c,
        0xa4be_ea44,
        0x4bde_cfa9,
        0xf6bb_4b60,
        0xbebf_bc70,
        0x289b_7ec6,
        0xeaa1_27fa,
        0xd4ef_3085,
        0x0488_1d05,
        0xd9d4_d039,
        0xe6db_99e5,
        0x1fa2_7cf8,
        0xc4ac_5665,
        0xf429_2244,
        0x432a_ff97,
        0xab94_23a7,
        0xfc93_a039,
        0x655b_59c3,
        0x8f0c_cc92,
        0xffef_f47d,
        0x8584_5dd1,
        0x6fa8_7e4f,
        0xfe2c_e6e0,
        0xa301_4314,
        0x4e08_11a1,
        0xf753_7e82,
        0xbd3a_f235,
        0x2ad7_d2bb,
        0xeb86_d391,
    ];

    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());

    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for block in msg.chunks_exact(64) {
        let mut words = [0u32; 16];
        for (w, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let sum = f.wrapping_add(a).wrapping_add(K[i]).wrapping_add(words[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(sum.rotate_left(SHIFTS[(i / 16) * 4 + i % 4]));
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// The last eight bytes of the MD5 digest as a big-endian integer.
fn hash_value(value: &str) -> u64 {
    let digest = md5(value.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest[8..]);
    u64::from_be_bytes(tail)
}

/// The label set being rewritten: the input plus pending additions (in the
/// order they were first made) and deletions. Rules that walk every label
/// see the input's remaining labels in order, then the additions.
struct Builder<'a> {
    base: &'a [Label],
    add: Vec<Label>,
    del: Vec<String>,
}

impl<'a> Builder<'a> {
    fn new(base: &'a Labels) -> Self {
        Self { base: base.as_slice(), add: Vec::new(), del: Vec::new() }
    }

    fn get(&self, name: &str) -> &str {
        if let Some(l) = self.add.iter().find(|l| l.name == name) {
            return &l.value;
        }
        if self.del.iter().any(|d| d == name) {
            return "";
        }
        self.base
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .map_or("", |i| self.base[i].value.as_str())
    }

    fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.del(name);
            return;
        }
        match self.add.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value.to_string(),
            None => self.add.push(Label::new(name, value)),
        }
    }

    fn del(&mut self, name: &str) {
        self.add.retain(|l| l.name != name);
        self.del.push(name.to_string());
    }

    /// The current labels: remaining input labels in order, then additions.
    fn snapshot(&self) -> Vec<Label> {
        self.base
            .iter()
            .filter(|l| !self.del.contains(&l.name) && !self.add.iter().any(|a| a.name == l.name))
            .chain(self.add.iter())
            .cloned()
            .collect()
    }

    fn finish(self) -> Labels {
        Labels::new(self.snapshot())
    }
}

#[derive(Clone, Debug)]
struct Rule {
    config: RelabelConfig,
    regex: Regex,
}

impl Rule {
    /// Applies the rule; false when it drops the set.
    fn run(&self, b: &mut Builder<'_>) -> bool {
        let c = &self.config;
        let mut val = String::new();
        for (i, name) in c.source_labels.iter().enumerate() {
            if i > 0 {
                val.push_str(&c.separator);
            }
            val.push_str(b.get(name));
        }
        match c.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => return b.get(&c.target_label) != val,
            Action::KeepEqual => return b.get(&c.target_label) == val,
            Action::Replace => {
                if let Some(caps) = self.regex.captures(&val) {
                    let mut target = String::new();
                    expand(&c.target_label, &caps, &mut target);
                    if c.name_validation.is_valid_label_name(&target) {
                        let mut value = String::new();
                        expand(&c.replacement, &caps, &mut value);
                        b.set(&target, &value);
                    }
                }
            }
            Action::Lowercase => b.set(&c.target_label, &go_lowercase(&val)),
            Action::Uppercase => b.set(&c.target_label, &go_uppercase(&val)),
            Action::HashMod => {
                if let Some(m) = hash_value(&val).checked_rem(c.modulus) {
                    b.set(&c.target_label, &m.to_string());
                }
            }
            Action::LabelMap => {
                for l in b.snapshot() {
                    if self.regex.is_match(&l.name) {
                        let name = replace_all(&self.regex, &l.name, &c.replacement);
                        b.set(&name, &l.value);
                    }
                }
            }
            Action::LabelDrop => {
                for l in b.snapshot() {
                    if self.regex.is_match(&l.name) {
                        b.del(&l.name);
                    }
                }
            }
            Action::LabelKeep => {
                for l in b.snapshot() {
                    if !self.regex.is_match(&l.name) {
                        b.del(&l.name);
                    }
                }
            }
        }
        true
    }
}

/// A validated list of rules with their regexes compiled.
#[derive(Clone, Debug)]
pub struct Relabeler {
    rules: Vec<Rule>,
}

impl Relabeler {
    /// Validates and compiles `configs`; the error names the first invalid
    /// rule by its position (from 1).
    pub fn new(configs: &[RelabelConfig]) -> Result<Relabeler, String> {
        let rules = configs
            .iter()
            .enumerate()
            .map(|(i, config)| match config.compile() {
                Ok(regex) => Ok(Rule { config: config.clone(), regex }),
                Err(e) => Err(format!("relabel rule {}: {e}", i + 1)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Relabeler { rules })
    }

    /// The rules, in order.
    pub fn configs(&self) -> impl Iterator<Item = &RelabelConfig> {
        self.rules.iter().map(|r| &r.config)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs every rule in order. `None` when a rule drops the set or no
    /// label is left.
    pub fn apply(&self, labels: &Labels) -> Option<Labels> {
        self.process(labels).filter(|l| !l.is_empty())
    }

    /// Runs every rule in order. `None` only when a rule drops the set; an
    /// empty result is returned as is (for callers that report it, as target
    /// relabeling reports a missing address).
    pub fn process(&self, labels: &Labels) -> Option<Labels> {
        let mut b = Builder::new(labels);
        for rule in &self.rules {
            if !rule.run(&mut b) {
                return None;
            }
        }
        Some(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs)
    }

    fn cfg(action: Action) -> RelabelConfig {
        RelabelConfig { action, ..RelabelConfig::default() }
    }

    fn src(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn replace(sources: &[&str], regex: &str, target: &str, replacement: &str) -> RelabelConfig {
        RelabelConfig {
            source_labels: src(sources),
            regex: regex.to_string(),
            target_label: target.to_string(),
            replacement: replacement.to_string(),
            ..RelabelConfig::default()
        }
    }

    fn run(configs: &[RelabelConfig], input: &Labels) -> Option<Labels> {
        match Relabeler::new(configs) {
            Ok(r) => r.apply(input),
            Err(e) => panic!("invalid test configuration: {e}"),
        }
    }

    fn check(configs: &[RelabelConfig], input: &[(&str, &str)], want: Option<&[(&str, &str)]>) {
        let got = run(configs, &ls(input));
        assert_eq!(got, want.map(ls), "configs {configs:?} on {input:?}");
    }

    fn err(config: RelabelConfig) -> String {
        match config.validate() {
            Ok(()) => panic!("expected an error for {config:?}"),
            Err(e) => e,
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    // --- MD5 ---

    #[test]
    fn md5_rfc1321_vectors() {
        let cases = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&md5(input.as_bytes())), want, "md5({input:?})");
        }
    }

    #[test]
    fn md5_padding_boundaries() {
        let cases = [
            (55, "04364420e25c512fd958a70738aa8f72"),
            (56, "668a72d5ba17f08e62dabcafad6db14b"),
            (63, "7dc2ca208106a2f703567bdff99d8981"),
            (64, "c1bb4f81d892b2d57947682aeb252456"),
            (65, "1bc932052302d074bdec39795fe00cf6"),
            (1000, "398533d48111e9f664b1f64cb10c4b63"),
        ];
        for (n, want) in cases {
            assert_eq!(hex(&md5(&vec![b'x'; n])), want, "md5 of {n} x's");
        }
    }

    #[test]
    fn md5_constants_are_sines() {
        // K[i] = floor(|sin(i + 1)| * 2^32), spot-checked against the table.
        for (i, want) in [(0, 0xd76a_a478u32), (1, 0xe8c7_b756), (63, 0xeb86_d391)] {
            let k = ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32;
            assert_eq!(k, want);
        }
    }

    // --- Action parsing ---

    #[test]
    fn action_parses_case_insensitively() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
            assert_eq!(a.as_str().to_uppercase().parse::<Action>(), Ok(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!("LabelMap".parse::<Action>(), Ok(Action::LabelMap));
        assert_eq!("KeepEqual".parse::<Action>(), Ok(Action::KeepEqual));
        assert_eq!("HashMod".parse::<Action>(), Ok(Action::HashMod));
        assert_eq!("rePlace".parse::<Action>(), Ok(Action::Replace));
        assert_eq!("foo".parse::<Action>(), Err(r#"unknown relabel action "foo""#.to_string()));
        assert_eq!("".parse::<Action>(), Err(r#"unknown relabel action """#.to_string()));
        assert!("label_map".parse::<Action>().is_err());
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let d = RelabelConfig::default();
        assert_eq!(d.action, Action::Replace);
        assert_eq!(d.separator, ";");
        assert_eq!(d.regex, "(.*)");
        assert_eq!(d.replacement, "$1");
        assert_eq!(d.modulus, 0);
        assert!(d.source_labels.is_empty());
        assert!(d.target_label.is_empty());
        assert_eq!(d.name_validation, NameValidation::Utf8);
        assert_eq!(Action::default(), Action::Replace);
    }

    // --- Cases of Prometheus's relabel tests ---

    #[test]
    fn replace_with_braced_groups() {
        check(
            &[replace(&["a"], "f(.*)", "d", "ch${1}-ch${1}")],
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
        );
    }

    #[test]
    fn chained_replaces_see_earlier_results() {
        check(
            &[
                replace(&["a", "b"], "f(.*);(.*)r", "a", "b${1}${2}m"),
                replace(&["c", "a"], "(b).*b(.*)ba(.*)", "d", "$1$2$2$3"),
            ],
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
        );
    }

    #[test]
    fn drop_stops_the_chain() {
        let drop = RelabelConfig {
            source_labels: src(&["a"]),
            regex: ".*o.*".into(),
            ..cfg(Action::Drop)
        };
        check(&[drop.clone(), replace(&["a"], "f(.*)", "d", "ch$1-ch$1")], &[("a", "foo")], None);
        check(&[drop], &[("a", "foo"), ("b", "bar")], None);
    }

    #[test]
    fn replace_with_group_in_the_middle() {
        check(
            &[replace(&["a"], ".*(b).*", "d", "$1")],
            &[("a", "abc")],
            Some(&[("a", "abc"), ("d", "b")]),
        );
    }

    #[test]
    fn drop_and_keep_are_anchored() {
        let drop = |re: &str| RelabelConfig {
            source_labels: src(&["a"]),
            regex: re.into(),
            ..cfg(Action::Drop)
        };
        let keep = |re: &str| RelabelConfig {
            source_labels: src(&["a"]),
            regex: re.into(),
            ..cfg(Action::Keep)
        };
        let foo: &[(&str, &str)] = &[("a", "foo")];
        check(&[drop("no-match")], foo, Some(foo));
        // `f|o` must match the whole value, not a part of it.
        check(&[drop("f|o")], foo, Some(foo));
        check(&[drop("fo")], foo, Some(foo));
        check(&[drop("foo|x")], foo, None);
        check(&[keep("no-match")], foo, None);
        check(&[keep("f.*")], foo, Some(foo));
        check(&[keep("o")], foo, None);
    }

    #[test]
    fn replace_without_match_changes_nothing() {
        check(&[replace(&["a"], "f", "b", "bar")], &[("a", "boo")], Some(&[("a", "boo")]));
    }

    #[test]
    fn blank_replacement_deletes_the_target() {
        // `$1` names the target `f`; `$2` does not exist and expands to "".
        check(
            &[replace(&["a"], "(f).*", "$1", "$2")],
            &[("a", "foo"), ("f", "baz")],
            Some(&[("a", "foo")]),
        );
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Both expected values are from Prometheus's own relabel tests.
        let h = |source: &str, target: &str| RelabelConfig {
            source_labels: src(&[source]),
            target_label: target.into(),
            modulus: 1000,
            ..cfg(Action::HashMod)
        };
        check(
            &[h("c", "d")],
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
        );
        check(&[h("a", "b")], &[("a", "foo\nbar")], Some(&[("a", "foo\nbar"), ("b", "734")]));
    }

    #[test]
    fn hashmod_of_other_values() {
        // Computed from the MD5 above (and cross-checked with another MD5
        // implementation): last 8 digest bytes, big-endian, modulo.
        let h = |sources: &[&str], modulus: u64| RelabelConfig {
            source_labels: src(sources),
            target_label: "shard".into(),
            modulus,
            ..cfg(Action::HashMod)
        };
        let input = ls(&[("x", "a"), ("y", "http-metrics")]);
        let shard =
            |c: RelabelConfig| run(&[c], &input).and_then(|l| l.get("shard").map(String::from));
        assert_eq!(shard(h(&["x"], 1000)).as_deref(), Some("697"));
        assert_eq!(shard(h(&["y"], 1000)).as_deref(), Some("179"));
        assert_eq!(shard(h(&["y"], 3)).as_deref(), Some("1"));
        // A missing label hashes "".
        assert_eq!(shard(h(&["missing"], 1000)).as_deref(), Some("958"));
        // Modulus 1 always gives 0.
        assert_eq!(shard(h(&["x"], 1)).as_deref(), Some("0"));
        // The hash is a full 64-bit value.
        let full = hash_value("a");
        assert_eq!(full % 1000, 697);
        assert_eq!(shard(h(&["x"], u64::MAX)), Some((full % u64::MAX).to_string()));
    }

    #[test]
    fn labelmap_copies_matching_names() {
        let map = |re: &str, replacement: &str| RelabelConfig {
            regex: re.into(),
            replacement: replacement.into(),
            ..cfg(Action::LabelMap)
        };
        check(
            &[map("(b.*)", "bar_${1}")],
            &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            Some(&[
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("bar_b1", "bar"),
                ("bar_b2", "baz"),
            ]),
        );
        check(
            &[map("__meta_(my.*)", "${1}")],
            &[
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
            ],
            Some(&[
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
                ("my_bar", "aaa"),
                ("my_baz", "bbb"),
            ]),
        );
    }

    #[test]
    fn labelmap_meta_then_labeldrop_meta() {
        let configs = [
            RelabelConfig { regex: "__meta_(.+)".into(), ..cfg(Action::LabelMap) },
            RelabelConfig { regex: "__meta_.*".into(), ..cfg(Action::LabelDrop) },
        ];
        check(
            &configs,
            &[
                ("__address__", "h:80"),
                ("__meta_kubernetes_namespace", "prod"),
                ("__meta_zone", "eu"),
                ("job", "j"),
            ],
            Some(&[
                ("__address__", "h:80"),
                ("job", "j"),
                ("kubernetes_namespace", "prod"),
                ("zone", "eu"),
            ]),
        );
    }

    #[test]
    fn labelmap_overwrites_existing_and_later_source_wins() {
        let map = RelabelConfig {
            regex: "__(meta|tmp)_(.+)".into(),
            replacement: "$2".into(),
            ..cfg(Action::LabelMap)
        };
        // Input labels are visited in name order; the later one wins.
        check(
            std::slice::from_ref(&map),
            &[("__meta_x", "1"), ("__tmp_x", "2"), ("x", "0")],
            Some(&[("__meta_x", "1"), ("__tmp_x", "2"), ("x", "2")]),
        );
        // Labels added by earlier rules are visited after the input's, in the
        // order they were added.
        let set = |target: &str, value: &str| RelabelConfig {
            target_label: target.into(),
            replacement: value.into(),
            ..RelabelConfig::default()
        };
        check(
            &[set("__tmp_y", "b"), set("__meta_y", "a"), map],
            &[("j", "1")],
            Some(&[("__meta_y", "a"), ("__tmp_y", "b"), ("j", "1"), ("y", "a")]),
        );
    }

    #[test]
    fn replace_target_from_groups() {
        let r = |replacement: &str, target: &str| {
            replace(&["a"], "some-([^-]+)-([^,]+)", target, replacement)
        };
        check(
            &[r("${2}", "${1}")],
            &[("a", "some-name-value")],
            Some(&[("a", "some-name-value"), ("name", "value")]),
        );
        // An empty replacement deletes `name`, which is not there.
        check(&[r("${3}", "${1}")], &[("a", "some-name-value")], Some(&[("a", "some-name-value")]));
        // The target expands to "", which is not a label name.
        check(
            &[
                r("${1}", "${3}"),
                r("${1}", "${3}"),
                replace(&["a"], "some-([^-]+)(-[^,]+)", "${3}", "${1}"),
            ],
            &[("a", "some-name-0")],
            Some(&[("a", "some-name-0")]),
        );
    }

    #[test]
    fn replace_real_life_tags() {
        let tags = "path:/secret,job:some-job,label:foo=bar";
        check(
            &[
                replace(
                    &["__meta_sd_tags"],
                    "(?:.+,|^)path:(/[^,]+).*",
                    "__metrics_path__",
                    "${1}",
                ),
                replace(&["__meta_sd_tags"], "(?:.+,|^)job:([^,]+).*", "job", "${1}"),
                replace(&["__meta_sd_tags"], "(?:.+,|^)label:([^=]+)=([^,]+).*", "${1}", "${2}"),
            ],
            &[("__meta_sd_tags", tags)],
            Some(&[
                ("__meta_sd_tags", tags),
                ("__metrics_path__", "/secret"),
                ("job", "some-job"),
                ("foo", "bar"),
            ]),
        );
    }

    #[test]
    fn labeldrop_then_recreate_then_keep() {
        check(
            &[
                RelabelConfig {
                    regex: "^__meta_kubernetes_pod_container_port_name$".into(),
                    ..cfg(Action::LabelDrop)
                },
                replace(
                    &["__meta_kubernetes_pod_annotation_XXX_metrics_port"],
                    "(.+)",
                    "__meta_kubernetes_pod_container_port_name",
                    "metrics",
                ),
                RelabelConfig {
                    source_labels: src(&["__meta_kubernetes_pod_container_port_name"]),
                    regex: "^metrics$".into(),
                    ..cfg(Action::Keep)
                },
            ],
            &[
                ("__meta_kubernetes_pod_container_port_name", "foo"),
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ],
            Some(&[
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                ("__meta_kubernetes_pod_container_port_name", "metrics"),
            ]),
        );
    }

    #[test]
    fn labelkeep_and_labeldrop() {
        let input: &[(&str, &str)] = &[("a", "foo"), ("b1", "bar"), ("b2", "baz")];
        check(
            &[RelabelConfig { regex: "(b.*)".into(), ..cfg(Action::LabelKeep) }],
            input,
            Some(&[("b1", "bar"), ("b2", "baz")]),
        );
        check(
            &[RelabelConfig { regex: "(b.*)".into(), ..cfg(Action::LabelDrop) }],
            input,
            Some(&[("a", "foo")]),
        );
        // Anchored: `b` alone matches neither `b1` nor `b2`.
        check(&[RelabelConfig { regex: "b".into(), ..cfg(Action::LabelDrop) }], input, Some(input));
    }

    #[test]
    fn uppercase_and_lowercase() {
        let case = |action: Action, target: &str| RelabelConfig {
            source_labels: src(&["foo"]),
            target_label: target.into(),
            ..cfg(action)
        };
        check(
            &[case(Action::Uppercase, "foo_uppercase"), case(Action::Lowercase, "foo_lowercase")],
            &[("foo", "bAr123Foo")],
            Some(&[
                ("foo", "bAr123Foo"),
                ("foo_lowercase", "bar123foo"),
                ("foo_uppercase", "BAR123FOO"),
            ]),
        );
        // An empty source value deletes the target.
        check(
            &[RelabelConfig {
                source_labels: src(&["missing"]),
                target_label: "t".into(),
                ..cfg(Action::Lowercase)
            }],
            &[("t", "x"), ("u", "y")],
            Some(&[("u", "y")]),
        );
    }

    #[test]
    fn case_mapping_is_one_to_one_like_go() {
        assert_eq!(go_uppercase("straße"), "STRAßE");
        assert_eq!(go_uppercase("ﬁx"), "ﬁX");
        assert_eq!(go_uppercase("ᾳ ᾀ ᾈ ῳ"), "ᾼ ᾈ ᾈ ῼ");
        assert_eq!(go_uppercase("ǆ ı ſ é"), "Ǆ I S É");
        assert_eq!(go_lowercase("İSTANBUL"), "istanbul");
        assert_eq!(go_lowercase("ΟΔΟΣ"), "οδοσ");
        assert_eq!(go_lowercase("ǅ Ä K"), "ǆ ä k");
    }

    #[test]
    fn keepequal_and_dropequal() {
        let input: &[(&str, &str)] =
            &[("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")];
        let eq = |action: Action, target: &str| RelabelConfig {
            source_labels: src(&["__tmp_port"]),
            target_label: target.into(),
            ..cfg(action)
        };
        check(&[eq(Action::KeepEqual, "__port1")], input, Some(input));
        check(&[eq(Action::DropEqual, "__port1")], input, None);
        check(&[eq(Action::DropEqual, "__port2")], input, Some(input));
        check(&[eq(Action::KeepEqual, "__port2")], input, None);
        // A missing target reads as "", as does a missing source.
        let missing = RelabelConfig {
            source_labels: src(&["nope"]),
            target_label: "also_nope".into(),
            ..cfg(Action::KeepEqual)
        };
        check(std::slice::from_ref(&missing), input, Some(input));
        check(&[RelabelConfig { action: Action::DropEqual, ..missing }], input, None);
        // Several sources are joined before comparing.
        let joined = RelabelConfig {
            source_labels: src(&["a", "b"]),
            target_label: "c".into(),
            ..cfg(Action::KeepEqual)
        };
        check(
            std::slice::from_ref(&joined),
            &[("a", "x"), ("b", "y"), ("c", "x;y")],
            Some(&[("a", "x"), ("b", "y"), ("c", "x;y")]),
        );
        check(&[joined], &[("a", "x"), ("b", "y"), ("c", "xy")], None);
    }

    #[test]
    fn dot_matches_newline() {
        let input: &[(&str, &str)] = &[("a", "line1\nline2"), ("b", "bar"), ("c", "baz")];
        let mut want = input.to_vec();
        want.push(("d", "match"));
        check(&[replace(&["a"], "line1.*line2", "d", "match${1}")], input, Some(&want));
        check(
            &[RelabelConfig {
                source_labels: src(&["a"]),
                regex: "line1.line2".into(),
                ..cfg(Action::Drop)
            }],
            input,
            None,
        );
    }

    #[test]
    fn utf8_label_names() {
        let input: &[(&str, &str)] = &[("utf-8.label", "line1\nline2"), ("b", "bar"), ("c", "baz")];
        let mut want = input.to_vec();
        want.push(("d", "match"));
        check(&[replace(&["utf-8.label"], "line1.*line2", "d", "match${1}")], input, Some(&want));

        let input: &[(&str, &str)] = &[("a", "line1\nline2"), ("b", "bar"), ("c", "baz")];
        let mut want = input.to_vec();
        want.push(("utf-8.label", "match"));
        check(&[replace(&["a"], "line1.*line2", "utf-8.label", "match${1}")], input, Some(&want));
        // `${1}` of a regex without groups expands to "".
        check(
            &[replace(&["a"], "line1.*line2", "utf-8.label${1}", "match${1}")],
            input,
            Some(&want),
        );
    }

    #[test]
    fn named_groups_in_both_styles() {
        let re = "(line1).*(?<second>line2)";
        check(
            &[
                replace(&["a"], re, "label1_${1}", "val_${second}"),
                replace(&["a"], re, "label2_$1", "val_$second"),
                replace(&["a"], "(line1).*(?P<second>line2)", "label3_$1", "val_${second}"),
            ],
            &[("a", "line1\nline2"), ("b", "bar"), ("c", "baz")],
            Some(&[
                ("a", "line1\nline2"),
                ("b", "bar"),
                ("c", "baz"),
                ("label1_line1", "val_line2"),
                ("label2_line1", "val_line2"),
                ("label3_line1", "val_line2"),
            ]),
        );
    }

    #[test]
    fn reserved_type_and_unit_targets() {
        check(
            &[replace(&["__name__"], ".*_total$", "__type__", "counter")],
            &[("__name__", "http_requests_total")],
            Some(&[("__name__", "http_requests_total"), ("__type__", "counter")]),
        );
        check(
            &[replace(&["__name__"], ".*_bytes$", "__unit__", "bytes")],
            &[("__name__", "disk_usage_bytes")],
            Some(&[("__name__", "disk_usage_bytes"), ("__unit__", "bytes")]),
        );
    }

    // --- Further semantics ---

    #[test]
    fn default_replace_copies_or_deletes() {
        let input: &[(&str, &str)] = &[("abc", "def"), ("job", "foo")];
        // No sources: the value is "", `(.*)` matches it, `$1` is "": delete.
        check(
            &[RelabelConfig { target_label: "abc".into(), ..RelabelConfig::default() }],
            input,
            Some(&[("job", "foo")]),
        );
        // Copying one label to another.
        check(
            &[RelabelConfig {
                source_labels: src(&["job"]),
                target_label: "cde".into(),
                ..RelabelConfig::default()
            }],
            input,
            Some(&[("abc", "def"), ("cde", "foo"), ("job", "foo")]),
        );
        // A static value.
        check(
            &[RelabelConfig {
                target_label: "abc".into(),
                replacement: "static".into(),
                ..RelabelConfig::default()
            }],
            input,
            Some(&[("abc", "static"), ("job", "foo")]),
        );
        // `${0}` as a target is "" for an empty value: nothing happens.
        check(
            &[RelabelConfig {
                target_label: "${0}".into(),
                replacement: "dropped".into(),
                ..RelabelConfig::default()
            }],
            input,
            Some(input),
        );
        // `${0}` is the whole match.
        check(
            &[RelabelConfig {
                source_labels: src(&["job"]),
                target_label: "x_${0}".into(),
                replacement: "<$0>".into(),
                ..RelabelConfig::default()
            }],
            input,
            Some(&[("abc", "def"), ("job", "foo"), ("x_foo", "<foo>")]),
        );
    }

    #[test]
    fn separators_and_missing_labels() {
        let join = |separator: &str| RelabelConfig {
            source_labels: src(&["a", "missing", "b"]),
            separator: separator.into(),
            target_label: "j".into(),
            ..RelabelConfig::default()
        };
        let input: &[(&str, &str)] = &[("a", "x"), ("b", "y")];
        check(&[join(";")], input, Some(&[("a", "x"), ("b", "y"), ("j", "x;;y")]));
        check(&[join("/")], input, Some(&[("a", "x"), ("b", "y"), ("j", "x//y")]));
        check(&[join("")], input, Some(&[("a", "x"), ("b", "y"), ("j", "xy")]));
        check(&[join("::")], input, Some(&[("a", "x"), ("b", "y"), ("j", "x::::y")]));
    }

    #[test]
    fn kubernetes_address_rewrite() {
        let addr = RelabelConfig {
            source_labels: src(&["__address__", "__meta_port"]),
            regex: r"(.+?)(\:\d+)?;(\d+)".into(),
            target_label: "__address__".into(),
            replacement: "$1:$3".into(),
            ..RelabelConfig::default()
        };
        check(
            std::slice::from_ref(&addr),
            &[("__address__", "10.0.0.1:80"), ("__meta_port", "9091")],
            Some(&[("__address__", "10.0.0.1:9091"), ("__meta_port", "9091")]),
        );
        check(
            std::slice::from_ref(&addr),
            &[("__address__", "10.0.0.1"), ("__meta_port", "9091")],
            Some(&[("__address__", "10.0.0.1:9091"), ("__meta_port", "9091")]),
        );
        // No port annotation: no match, no change.
        check(&[addr], &[("__address__", "10.0.0.1:80")], Some(&[("__address__", "10.0.0.1:80")]));
    }

    #[test]
    fn keep_and_drop_on_missing_labels() {
        let drop_empty =
            RelabelConfig { source_labels: src(&["team"]), regex: "".into(), ..cfg(Action::Drop) };
        check(std::slice::from_ref(&drop_empty), &[("job", "a")], None);
        check(&[drop_empty], &[("job", "a"), ("team", "t")], Some(&[("job", "a"), ("team", "t")]));
        let keep_any = RelabelConfig {
            source_labels: src(&["team"]),
            regex: ".+".into(),
            ..cfg(Action::Keep)
        };
        check(std::slice::from_ref(&keep_any), &[("job", "a")], None);
        // `(.*)` matches the empty value of a missing label.
        check(
            &[RelabelConfig { source_labels: src(&["team"]), ..cfg(Action::Keep) }],
            &[("job", "a")],
            Some(&[("job", "a")]),
        );
        // Without source labels the value is "".
        check(&[RelabelConfig { regex: "".into(), ..cfg(Action::Drop) }], &[("job", "a")], None);
    }

    #[test]
    fn template_expansion_follows_go() {
        let t = |replacement: &str| {
            let c = replace(&["a"], "(?P<x>a)(b)(?P<x1>c)?", "out", replacement);
            run(&[c], &ls(&[("a", "ab")])).and_then(|l| l.get("out").map(String::from))
        };
        assert_eq!(t("$1x").as_deref(), None, "`$1x` is the group named `1x`");
        assert_eq!(t("${1}x").as_deref(), Some("ax"));
        assert_eq!(t("$x1").as_deref(), None, "`x1` did not participate");
        assert_eq!(t("$x-$2").as_deref(), Some("a-b"));
        assert_eq!(t("$$1").as_deref(), Some("$1"));
        assert_eq!(t("$$$1").as_deref(), Some("$a"));
        assert_eq!(t("cost: 5$").as_deref(), Some("cost: 5$"));
        assert_eq!(t("$-$.${").as_deref(), Some("$-$.${"));
        assert_eq!(t("${1").as_deref(), Some("${1"));
        assert_eq!(t("${}").as_deref(), Some("${}"));
        assert_eq!(t("${x}${2}").as_deref(), Some("ab"));
        assert_eq!(t("$01|$0").as_deref(), Some("|ab"), "leading zero: a name, not a number");
        assert_eq!(t("$9|$99999999999").as_deref(), Some("|"));
        assert_eq!(t("$1é").as_deref(), None, "letters beyond ASCII continue the name");
        assert_eq!(t("${1}é").as_deref(), Some("aé"));
    }

    #[test]
    fn invalid_target_after_expansion_depends_on_scheme() {
        let c = |names: NameValidation| RelabelConfig {
            name_validation: names,
            ..replace(&["a"], "(.*)", "${1}", "v")
        };
        let input: &[(&str, &str)] = &[("a", "not-legacy")];
        check(&[c(NameValidation::Utf8)], input, Some(&[("a", "not-legacy"), ("not-legacy", "v")]));
        check(&[c(NameValidation::Legacy)], input, Some(input));
        let ok: &[(&str, &str)] = &[("a", "fine_name")];
        check(&[c(NameValidation::Legacy)], ok, Some(&[("a", "fine_name"), ("fine_name", "v")]));
        check(&[c(NameValidation::Legacy)], &[("a", "9lives")], Some(&[("a", "9lives")]));
    }

    #[test]
    fn empty_result_is_dropped_by_apply_only() {
        let r =
            match Relabeler::new(&[RelabelConfig { regex: ".*".into(), ..cfg(Action::LabelDrop) }])
            {
                Ok(r) => r,
                Err(e) => panic!("{e}"),
            };
        let input = ls(&[("a", "1")]);
        assert_eq!(r.apply(&input), None);
        assert_eq!(r.process(&input), Some(Labels::empty()));
        assert_eq!(r.len(), 1);
        assert!(!r.is_empty());
        assert_eq!(r.configs().count(), 1);
    }

    #[test]
    fn no_rules_pass_through() {
        let r = match Relabeler::new(&[]) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert!(r.is_empty());
        let input = ls(&[("__name__", "up"), ("job", "x")]);
        assert_eq!(r.apply(&input), Some(input.clone()));
        assert_eq!(r.apply(&Labels::empty()), None);
        assert_eq!(r.process(&Labels::empty()), Some(Labels::empty()));
    }

    #[test]
    fn set_after_delete_and_delete_after_set() {
        let set = |target: &str, value: &str| RelabelConfig {
            target_label: target.into(),
            replacement: value.into(),
            ..RelabelConfig::default()
        };
        let copy = |from: &str, to: &str| RelabelConfig {
            source_labels: src(&[from]),
            target_label: to.into(),
            ..RelabelConfig::default()
        };
        check(
            &[
                set("a", ""),
                copy("a", "b"),
                set("a", "2"),
                copy("a", "c"),
                set("d", "4"),
                set("d", ""),
            ],
            &[("a", "1"), ("z", "z")],
            Some(&[("a", "2"), ("c", "2"), ("z", "z")]),
        );
    }

    #[test]
    fn go_regex_dialect() {
        let matches = |re: &str, value: &str| match compile_regex(re) {
            Ok(r) => r.is_match(value),
            Err(e) => panic!("{re:?}: {e}"),
        };
        // ASCII-only Perl classes.
        assert!(matches(r"\d+", "0123456789"));
        assert!(!matches(r"\d", "٣"));
        assert!(matches(r"\D", "٣"));
        assert!(matches(r"\w+", "a_Z9"));
        assert!(!matches(r"\w", "é"));
        assert!(matches(r"\W", "é"));
        assert!(matches(r"\s", "\t"));
        assert!(!matches(r"\s", "\u{a0}"));
        assert!(matches(r"[\d.]+", "1.2"));
        assert!(!matches(r"[\d.]+", "1.٢"));
        assert!(matches(r"[^\d]", "x"));
        assert!(!matches(r"[^\d]", "5"));
        assert!(matches(r"[\D]", "x"));
        assert!(!matches(r"[\D]", "5"));
        // ASCII word boundaries.
        assert!(matches(r".*\bb.*", "a b"));
        assert!(!matches(r".*\bb.*", "ab"));
        // `é` is not a word character, so there is a boundary before `b`.
        assert!(matches(r".*\bb.*", "éb"));
        assert!(!matches(r".*\Bb.*", "éb"));
        // Quoting.
        assert!(!matches(r"\Qa.b*\E+", "a.b*a.b*"));
        assert!(matches(r"\Qa.b*\E+", "a.b**"));
        assert!(matches(r"\Qa.b\E*", "a.bbb"));
        assert!(matches(r"x\Q.*", "x.*"));
        assert!(!matches(r"x\Q.*", "xyz"));
        // A `{` that is not a repetition is literal.
        assert!(matches(r"{", "{"));
        assert!(matches(r"a{", "a{"));
        assert!(matches(r"a{,2}", "a{,2}"));
        assert!(matches(r"a{01}", "a{01}"));
        assert!(matches(r"{(.*)}", "{x}"));
        assert!(matches(r"a{2}", "aa"));
        assert!(matches(r"a{2,}", "aaa"));
        assert!(matches(r"a{1,2}b{0}", "aa"));
        assert!(matches(r"\x{41}\x42\pL\p{Greek}", "ABxλ"));
        // Escaped punctuation is literal (`\<` is not a word boundary).
        assert!(matches(r"\<a\>", "<a>"));
        assert!(matches(r"\.\-\#", ".-#"));
        // Inside classes: `[`, `&`, `~` are literal, `-` is a range only
        // between two characters.
        assert!(matches(r"[[]", "["));
        assert!(matches(r"[]a]+", "]a"));
        assert!(matches(r"[^]a]", "b"));
        assert!(matches(r"[a&&b]+", "a&b"));
        assert!(matches(r"[a~~b]+", "a~b"));
        assert!(matches(r"[a-c-]+", "b-"));
        assert!(matches(r"[+--]+", ",+-"));
        assert!(matches(r"[--/]+", "-./"));
        assert!(!matches(r"[a-c-]", "d"));
        assert!(matches(r"[[:alpha:]_]+", "ab_"));
        assert!(matches(r"[[:^digit:]]", "x"));
        assert!(matches(r"[\]\[\-\\]+", "][-\\"));
        assert!(matches(r"[\x41-\x43]+", "ABC"));
        assert!(matches(r"[\p{Greek}\d]+", "λ1"));
        // Unchanged syntax.
        assert!(matches(r"(?i)FOO", "foo"));
        assert!(matches(r"(?i:a)B", "AB"));
        assert!(matches(r"^foo$", "foo"));
        assert!(matches(r"", ""));
        assert!(!matches(r"", "x"));
    }

    #[test]
    fn invalid_regexes_are_errors() {
        for re in ["(", "[a", r"\", "(?P<>a)", "*", "a{3,2}", "[z-a]", r"\pX"] {
            let c = RelabelConfig {
                regex: re.into(),
                ..RelabelConfig { target_label: "t".into(), ..RelabelConfig::default() }
            };
            let e = err(c);
            assert!(e.starts_with(&format!("invalid regular expression {re:?}: ")), "{e}");
        }
        let bad = RelabelConfig { regex: "(".into(), ..cfg(Action::LabelDrop) };
        let e = match Relabeler::new(&[cfg(Action::Keep), bad]) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        };
        assert!(e.starts_with("relabel rule 2: invalid regular expression \"(\""), "{e}");
    }

    // --- Validation ---

    #[test]
    fn validation_requires_target_label() {
        for action in [
            Action::Replace,
            Action::HashMod,
            Action::Lowercase,
            Action::Uppercase,
            Action::KeepEqual,
            Action::DropEqual,
        ] {
            let modulus = if action == Action::HashMod { 1 } else { 0 };
            let c = RelabelConfig { modulus, ..cfg(action) };
            assert_eq!(
                err(c),
                format!("relabel configuration for {action} action requires 'target_label' value")
            );
        }
    }

    #[test]
    fn validation_hashmod() {
        let h = RelabelConfig { target_label: "t".into(), ..cfg(Action::HashMod) };
        assert_eq!(err(h.clone()), "relabel configuration for hashmod requires non-zero modulus");
        // The modulus is checked before the target.
        assert_eq!(
            err(RelabelConfig { target_label: String::new(), ..h.clone() }),
            "relabel configuration for hashmod requires non-zero modulus"
        );
        assert_eq!(RelabelConfig { modulus: 8, ..h.clone() }.validate(), Ok(()));
        assert_eq!(
            err(RelabelConfig {
                modulus: 8,
                target_label: "a-b".into(),
                name_validation: NameValidation::Legacy,
                ..h.clone()
            }),
            r#""a-b" is invalid 'target_label' for hashmod action"#
        );
        assert_eq!(
            err(RelabelConfig {
                modulus: 8,
                target_label: "${1}".into(),
                name_validation: NameValidation::Legacy,
                ..h
            }),
            r#""${1}" is invalid 'target_label' for hashmod action"#
        );
    }

    #[test]
    fn validation_replace_targets() {
        let r = |target: &str, names: NameValidation| RelabelConfig {
            target_label: target.into(),
            name_validation: names,
            ..RelabelConfig::default()
        };
        for target in ["${3}", "0${3}", "-${3}", "a.b", "a-b", "9", "${1}label"] {
            assert_eq!(r(target, NameValidation::Utf8).validate(), Ok(()), "{target}");
        }
        let legacy_ok = [
            "label",
            "label${1}",
            "${1}label",
            "${1}",
            "$1",
            "asd$2asd",
            "_${1}_",
            "foo${bar}foo",
            "_",
        ];
        for target in legacy_ok {
            assert_eq!(r(target, NameValidation::Legacy).validate(), Ok(()), "{target}");
        }
        let legacy_bad = [
            "-label",
            "${",
            "$",
            "${}",
            "foo${",
            "-foo${1}bar-",
            "bar.foo${1}bar",
            "0${3}",
            "9",
            "a-b",
            "${a-b}",
        ];
        for target in legacy_bad {
            assert_eq!(
                err(r(target, NameValidation::Legacy)),
                format!("{target:?} is invalid 'target_label' for replace action")
            );
        }
    }

    #[test]
    fn validation_case_and_equal_actions() {
        for action in [Action::Lowercase, Action::Uppercase, Action::KeepEqual, Action::DropEqual] {
            let base = RelabelConfig { target_label: "t".into(), ..cfg(action) };
            assert_eq!(base.validate(), Ok(()));
            // With UTF-8 names `${3}` is a plain (valid) name.
            assert_eq!(
                RelabelConfig { target_label: "${3}".into(), ..base.clone() }.validate(),
                Ok(())
            );
            assert_eq!(
                err(RelabelConfig {
                    target_label: "${3}".into(),
                    name_validation: NameValidation::Legacy,
                    ..base.clone()
                }),
                format!("\"${{3}}\" is invalid 'target_label' for {action} action")
            );
            assert_eq!(
                err(RelabelConfig { replacement: "x".into(), ..base.clone() }),
                format!("'replacement' can not be set for {action} action")
            );
        }
        for action in [Action::KeepEqual, Action::DropEqual] {
            let base = RelabelConfig {
                target_label: "t".into(),
                source_labels: src(&["s"]),
                ..cfg(action)
            };
            let want = format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            );
            assert_eq!(err(RelabelConfig { regex: "x".into(), ..base.clone() }), want);
            assert_eq!(err(RelabelConfig { modulus: 2, ..base.clone() }), want);
            assert_eq!(err(RelabelConfig { separator: ",".into(), ..base.clone() }), want);
        }
        // Lowercase and uppercase may use a custom regex and separator.
        assert_eq!(
            RelabelConfig {
                target_label: "t".into(),
                regex: "x".into(),
                separator: ",".into(),
                ..cfg(Action::Lowercase)
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn validation_labelmap() {
        let m = |replacement: &str, names: NameValidation| RelabelConfig {
            regex: "__meta_(.+)".into(),
            replacement: replacement.into(),
            name_validation: names,
            ..cfg(Action::LabelMap)
        };
        assert_eq!(m("$1", NameValidation::Legacy).validate(), Ok(()));
        assert_eq!(m("${1}", NameValidation::Legacy).validate(), Ok(()));
        assert_eq!(m("prefix_$1", NameValidation::Legacy).validate(), Ok(()));
        assert_eq!(m("a.$1", NameValidation::Utf8).validate(), Ok(()));
        assert_eq!(
            err(m("a.$1", NameValidation::Legacy)),
            r#""a.$1" is invalid 'replacement' for labelmap action"#
        );
        assert_eq!(
            err(m("", NameValidation::Utf8)),
            r#""" is invalid 'replacement' for labelmap action"#
        );
        // Other fields are not checked for labelmap.
        assert_eq!(
            RelabelConfig {
                source_labels: src(&["x"]),
                target_label: "y".into(),
                ..m("$1", NameValidation::Utf8)
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn validation_labeldrop_and_labelkeep() {
        for action in [Action::LabelDrop, Action::LabelKeep] {
            let base = RelabelConfig { regex: "tmp_.*".into(), ..cfg(action) };
            assert_eq!(base.validate(), Ok(()));
            let want = format!("{action} action requires only 'regex', and no other fields");
            assert_eq!(err(RelabelConfig { source_labels: src(&["a"]), ..base.clone() }), want);
            assert_eq!(err(RelabelConfig { target_label: "a".into(), ..base.clone() }), want);
            assert_eq!(err(RelabelConfig { modulus: 1, ..base.clone() }), want);
            assert_eq!(err(RelabelConfig { separator: "".into(), ..base.clone() }), want);
            assert_eq!(err(RelabelConfig { replacement: "$2".into(), ..base }), want);
        }
    }

    #[test]
    fn validation_accepts_keep_and_drop_without_target() {
        assert_eq!(cfg(Action::Keep).validate(), Ok(()));
        assert_eq!(cfg(Action::Drop).validate(), Ok(()));
        assert_eq!(
            RelabelConfig { source_labels: src(&["a"]), regex: "x|y".into(), ..cfg(Action::Drop) }
                .validate(),
            Ok(())
        );
    }

    #[test]
    fn new_rejects_invalid_configs() {
        let e = match Relabeler::new(&[cfg(Action::Keep), cfg(Action::Drop), cfg(Action::Replace)])
        {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        };
        assert_eq!(
            e,
            "relabel rule 3: relabel configuration for replace action requires 'target_label' value"
        );
    }

    // --- Properties ---

    fn name_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "a", "b", "c", "__meta_x", "__meta_y", "__name__", "job", "é", "a.b",
        ])
        .prop_map(String::from)
    }

    fn value_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["", "foo", "bar", "a;b", "x\ny", "1234", "$1", "ΣΑΣ", "ß"])
                .prop_map(String::from),
            ".{0,8}",
        ]
    }

    fn template_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "", "t", "$1", "${1}", "$2", "${name}", "$name", "$$", "$", "${", "x_$1_y", "$0",
                "${0}", "$1x", "a.b", "-",
            ])
            .prop_map(String::from),
            "[a-z_$&{}0-9]{0,6}",
        ]
    }

    fn regex_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "(.*)",
                "",
                ".*",
                "(.+)",
                "__meta_(.+)",
                "f(o+)",
                "(?P<name>[a-z]+)",
                "(a)|(b)",
                "a)|(b",
                r"\d+",
                "[[]",
                "(",
                "x{2",
                r"\Q.",
                "[^a-c-]",
            ])
            .prop_map(String::from),
            r"[a-z().*+?|\[\]{}\\^$0-9-]{0,8}",
        ]
    }

    fn config_strategy() -> impl Strategy<Value = RelabelConfig> {
        (
            prop::sample::select(Action::ALL.to_vec()),
            prop::collection::vec(name_strategy(), 0..3),
            prop::sample::select(vec![";", "", ",", "::"]),
            prop_oneof![name_strategy(), template_strategy()],
            regex_strategy(),
            0u64..5,
            template_strategy(),
            prop::bool::ANY,
        )
            .prop_map(
                |(action, sources, sep, target, regex, modulus, replacement, legacy)| {
                    RelabelConfig {
                        source_labels: sources,
                        separator: sep.to_string(),
                        target_label: target,
                        regex,
                        modulus,
                        replacement,
                        action,
                        name_validation: if legacy {
                            NameValidation::Legacy
                        } else {
                            NameValidation::Utf8
                        },
                    }
                },
            )
    }

    fn labels_strategy() -> impl Strategy<Value = Labels> {
        prop::collection::vec((name_strategy(), value_strategy()), 0..6)
            .prop_map(|pairs| pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    proptest! {
        #[test]
        fn apply_never_panics(configs in prop::collection::vec(config_strategy(), 0..5), input in labels_strategy()) {
            // Keep the valid rules so that most runs exercise `apply`.
            let valid: Vec<RelabelConfig> = configs.into_iter().filter(|c| c.validate().is_ok()).collect();
            let r = match Relabeler::new(&valid) {
                Ok(r) => r,
                Err(e) => return Err(TestCaseError::fail(e)),
            };
            if let Some(out) = r.apply(&input) {
                prop_assert!(!out.is_empty());
                prop_assert!(out.iter().all(|l| !l.value.is_empty()));
                prop_assert!(out.as_slice().windows(2).all(|w| w[0].name < w[1].name));
            }
            if let Some(out) = r.process(&input) {
                prop_assert_eq!(r.apply(&input), if out.is_empty() { None } else { Some(out) });
            }
        }

        #[test]
        fn arbitrary_regex_and_template_never_panic(regex in ".{0,12}", template in ".{0,12}", value in ".{0,12}") {
            if let Ok(re) = compile_regex(&regex) {
                if let Some(caps) = re.captures(&value) {
                    let mut out = String::new();
                    expand(&template, &caps, &mut out);
                }
                let _ = replace_all(&re, &value, &template);
            }
        }

        #[test]
        fn labeldrop_removes_exactly_matching_names(input in labels_strategy(), regex in regex_strategy()) {
            let c = RelabelConfig { regex: regex.clone(), ..cfg(Action::LabelDrop) };
            if let Ok(r) = Relabeler::new(&[c]) {
                let re = match compile_regex(&regex) {
                    Ok(re) => re,
                    Err(e) => return Err(TestCaseError::fail(e)),
                };
                let want: Labels = input.iter().filter(|l| !re.is_match(&l.name)).cloned().collect();
                prop_assert_eq!(r.process(&input), Some(want));
            }
        }

        #[test]
        fn hashmod_is_below_modulus(value in ".{0,20}", modulus in 1u64..1000) {
            let c = RelabelConfig {
                source_labels: vec!["v".into()],
                target_label: "h".into(),
                modulus,
                ..cfg(Action::HashMod)
            };
            let out = run(&[c], &ls(&[("v", &value), ("k", "k")]));
            let h = out.as_ref().and_then(|l| l.get("h")).and_then(|h| h.parse::<u64>().ok());
            prop_assert!(matches!(h, Some(h) if h < modulus));
        }
    }
}
