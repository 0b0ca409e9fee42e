//! Kubernetes' naming rules: DNS-1123 labels, label keys and values, IANA service
//! names, environment variable names. Each check returns the message Kubernetes users know.

/// DNS-1123 label: metadata names and namespaces.
pub fn check_dns1123_label(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        return Ok(());
    }
    if s.len() > 63 {
        return Err(format!("{s:?} is {} characters long; must be no more than 63", s.len()));
    }
    Err(format!(
        "{s:?} is not a valid name: a lowercase RFC 1123 label must consist of lower case \
         alphanumeric characters or '-', and must start and end with an alphanumeric \
         character (e.g. 'my-name', or '123-abc')"
    ))
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(|part| check_dns1123_label(part).is_ok())
}

/// A label or annotation key: `[prefix/]name`.
pub fn check_label_key(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix
        && !is_dns1123_subdomain(p)
    {
        return Err(format!(
            "{s:?} is not a valid label key: the prefix must be a DNS subdomain \
                 (e.g. 'example.com')"
        ));
    }
    if !is_qualified_name_part(name) {
        return Err(format!(
            "{s:?} is not a valid label key: the name part must be 63 characters or less, \
             consist of alphanumeric characters, '-', '_' or '.', and start and end with an \
             alphanumeric character (e.g. 'MyName', 'my.name', or 'team/my-name')"
        ));
    }
    Ok(())
}

/// A label value: empty, or like the name part of a key.
pub fn check_label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || is_qualified_name_part(s) {
        return Ok(());
    }
    Err(format!(
        "{s:?} is not a valid label value: must be 63 characters or less, empty or \
         consisting of alphanumeric characters, '-', '_' or '.', and start and end with an \
         alphanumeric character"
    ))
}

/// IANA service name, used for port names (`http`, `metrics`).
pub fn check_port_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok {
        return Ok(());
    }
    Err(format!(
        "{s:?} is not a valid port name: must be at most 15 characters, contain only \
         lowercase letters, digits and '-', contain at least one letter, and not start, end \
         or repeat '-'"
    ))
}

/// Environment variable name as Kubernetes accepts it.
pub fn check_env_name(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
    if ok {
        return Ok(());
    }
    Err(format!(
        "{s:?} is not a valid environment variable name: must consist of alphabetic \
         characters, digits, '_', '-', or '.', and must not start with a digit"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        for ok in ["a", "api", "my-name", "123-abc", &"a".repeat(63)] {
            assert!(check_dns1123_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(check_dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_keys_and_values() {
        assert!(check_label_key("team").is_ok());
        assert!(check_label_key("andon.dev/tier").is_ok());
        assert!(check_label_key("Bad Key").is_err());
        assert!(check_label_key("UPPER.example/x").is_err());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("v1.2_x").is_ok());
        assert!(check_label_value("-x").is_err());
    }

    #[test]
    fn port_and_env_names() {
        assert!(check_port_name("http").is_ok());
        assert!(check_port_name("8080").is_err());
        assert!(check_port_name("a--b").is_err());
        assert!(check_port_name("much-too-long-name").is_err());
        assert!(check_env_name("VERSION").is_ok());
        assert!(check_env_name("my.var-1").is_ok());
        assert!(check_env_name("1X").is_err());
        assert!(check_env_name("A B").is_err());
    }
}
