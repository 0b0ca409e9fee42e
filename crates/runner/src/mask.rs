//! Secret masking: every secret, and the forms it takes when a step encodes it —
//! base64 at any alignment, URL-escaped, JSON-escaped, XML-escaped, as an
//! expression string — is replaced by `***` in every line a step prints. Values
//! added with `::add-mask::` join the set while the job runs.

use andon_core::base64::{self, STANDARD};
use regex::Regex;

/// The masked text.
pub const MASK: &str = "***";

/// Secrets shorter than this are not masked (a one-letter "secret" would mask every
/// occurrence of that letter); the runner has the same floor in spirit.
const MIN_LEN: usize = 1;

/// The forms a secret may appear in.
pub fn variants(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    let trimmed = secret.trim_matches('"');
    if trimmed != secret && !trimmed.is_empty() {
        out.push(trimmed.to_string());
    }
    // Base64 at the three byte alignments: only the characters that depend on the
    // secret's bytes alone.
    let bytes = secret.as_bytes();
    for shift in 0..3usize {
        let mut data = vec![0u8; shift];
        data.extend_from_slice(bytes);
        let encoded = base64::encode(&data, STANDARD);
        let start = [0, 2, 3][shift];
        let full = data.len() / 3 * 4;
        if full > start && full - start >= 4 {
            out.push(encoded[start..full].to_string());
        }
    }
    // Whole base64, padding included, for a secret encoded on its own.
    out.push(base64::encode(bytes, STANDARD));
    out.push(url_escape(secret));
    out.push(json_escape(secret));
    out.push(xml_escape(secret));
    out.push(secret.replace('\'', "''"));
    out.retain(|v| v.len() >= MIN_LEN);
    out.sort();
    out.dedup();
    out
}

/// RFC 3986 unreserved characters kept, everything else `%XX`.
pub fn url_escape(s: &str) -> String {
    andon_core::url::encode_component(s)
}

/// The inside of a JSON string literal.
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    andon_expr::json_string(s, &mut out);
    out[1..out.len() - 1].to_string()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The set of values masked in output.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    values: Vec<String>,
    regex: Option<Regex>,
}

impl Masker {
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Adds a secret (with its encoded forms). Multi-line secrets are masked line by
    /// line too, as output arrives in lines.
    pub fn add(&mut self, secret: &str) {
        if secret.trim().is_empty() {
            return;
        }
        let mut new = variants(secret);
        for line in secret.lines() {
            if line.trim().len() >= 2 && line != secret {
                new.extend(variants(line));
            }
        }
        let before = self.values.len();
        for v in new {
            if !self.values.contains(&v) {
                self.values.push(v);
            }
        }
        if self.values.len() != before {
            // Longest first, so a secret containing another is masked whole.
            self.values.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            let alternation: Vec<String> = self.values.iter().map(|v| regex::escape(v)).collect();
            self.regex = Regex::new(&alternation.join("|")).ok();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The text with every secret replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.regex {
            Some(r) => r.replace_all(text, MASK),
            None => std::borrow::Cow::Borrowed(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_their_encoded_forms() {
        let mut m = Masker::new();
        m.add("s3cr3t&\"x y");
        let secret = "s3cr3t&\"x y";
        for shown in [
            secret.to_string(),
            base64::encode(secret.as_bytes(), STANDARD),
            url_escape(secret),
            json_escape(secret),
            "s3cr3t&amp;&quot;x y".to_string(),
        ] {
            let line = format!("value: {shown} end");
            assert_eq!(m.mask(&line), "value: *** end", "{shown}");
        }
        // Base64 of the secret inside a longer value, at every alignment.
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            let encoded = base64::encode(format!("{prefix}{secret}!!").as_bytes(), STANDARD);
            assert!(m.mask(&encoded).contains(MASK), "{prefix}: {encoded}");
            assert!(!m.mask(&encoded).contains(&encoded), "{prefix}");
        }
        assert_eq!(m.mask("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn longer_secrets_win_and_multiline_secrets_mask_each_line() {
        let mut m = Masker::new();
        m.add("abc");
        m.add("abcdef");
        assert_eq!(m.mask("abcdef abc"), "*** ***");
        m.add("line one\nline two");
        assert_eq!(m.mask("got line two"), "got ***");
        m.add("   ");
        assert_eq!(m.mask("   "), "   ", "blank values are not masks");
    }
}
