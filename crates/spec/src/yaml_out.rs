//! Rendering JSON values as block-style YAML, for `-o yaml` and the UI. Strings that
//! would read back as another type, or need escaping, are double-quoted.

use std::fmt::Write;

use serde_json::Value;

/// The value as a YAML document (without `---`), ending in a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&string(k));
        out.push(':');
        write_value_after_key(out, v, indent);
    }
}

fn write_value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => write_map(out, m, indent + 2),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn string(s: &str) -> String {
    if needs_quotes(s) {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\t' => q.push_str("\\t"),
                '\r' => q.push_str("\\r"),
                c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{feff}' => {
                    let _ = write!(q, "\\u{:04x}", c as u32);
                }
                c => q.push(c),
            }
        }
        q.push('"');
        q
    } else {
        s.to_owned()
    }
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return true };
    if first.is_whitespace() || s.ends_with(char::is_whitespace) {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    if s.chars().any(|c| c.is_control() || c == '\u{feff}') {
        return true;
    }
    // Anything that would read back as null, a boolean or a number (including YAML 1.1's words).
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) {
        return true;
    }
    s.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '+')
        && !matches!(
            crate::yaml::parse(s.as_bytes())
                .ok()
                .and_then(|d| d.into_iter().next())
                .map(|d| d.root.value),
            Some(crate::yaml::Value::Str(_))
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_block_yaml_that_reads_back_the_same() {
        let v = json!({
            "apiVersion": "andon.dev/v1",
            "metadata": {"name": "api", "labels": {}},
            "spec": {
                "replicas": 3,
                "command": ["andon-demo", "--flag"],
                "env": [{"name": "VERSION", "value": "1.0"}, {"name": "E", "value": ""}],
                "nested": [[1, 2], []],
                "odd": ["yes", "1e3", "500m", "a: b", "#x", " pad", "line\nbreak", null, true, 1.5]
            }
        });
        let text = to_yaml(&v);
        assert_eq!(
            text,
            "apiVersion: andon.dev/v1\nmetadata:\n  labels: {}\n  name: api\nspec:\n  command:\n  - andon-demo\n  - \"--flag\"\n  env:\n  - name: VERSION\n    value: \"1.0\"\n  - name: E\n    value: \"\"\n  nested:\n  - \n    - 1\n    - 2\n  - []\n  odd:\n  - \"yes\"\n  - \"1e3\"\n  - 500m\n  - \"a: b\"\n  - \"#x\"\n  - \" pad\"\n  - \"line\\nbreak\"\n  - null\n  - true\n  - 1.5\n  replicas: 3\n"
        );
        let back = crate::yaml::parse(text.as_bytes()).unwrap();
        assert_eq!(back[0].root.to_json(), v);
    }
}
