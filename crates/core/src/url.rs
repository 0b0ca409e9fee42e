//! Percent-encoding (RFC 3986): the unreserved characters stay, every other byte
//! becomes `%XX`.

/// Encodes a URL component (a path segment or query value).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn unreserved_stay_everything_else_is_escaped() {
        assert_eq!(super::encode_component("a-b_c.d~e f/g@é"), "a-b_c.d~e%20f%2Fg%40%C3%A9");
    }
}
