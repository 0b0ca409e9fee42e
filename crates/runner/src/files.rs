//! File commands: a step writes `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_STATE` as
//! `NAME=value` lines or heredocs (`NAME<<DELIM`, lines, `DELIM`), `GITHUB_PATH` as one
//! directory per line, `GITHUB_STEP_SUMMARY` as Markdown (at most 1 MiB). Read after
//! the step ends, with the runner's rules and messages. Also secret files (`NAME=VALUE`
//! lines, as `andon run --secret-file` and a Repository's `secretsFile` give them).

/// The largest step summary kept.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// Reads `NAME=value` / heredoc lines. `env` refuses `NODE_OPTIONS` (compared without
/// regard to case), as the runner does for `GITHUB_ENV`.
pub fn read_pairs(text: &str, env: bool) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        let (name, value) = match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let name = &line[..e];
                if name.is_empty() {
                    return Err(format!("Invalid format '{line}'. Name must not be empty"));
                }
                (name.to_string(), line[e + 1..].to_string())
            }
            (_, Some(h)) => {
                let name = &line[..h];
                let delim = &line[h + 2..];
                if name.is_empty() {
                    return Err(format!("Invalid format '{line}'. Name must not be empty"));
                }
                if delim.is_empty() {
                    return Err(format!("Invalid format '{line}'. Delimiter must not be empty"));
                }
                let mut body: Vec<&str> = Vec::new();
                let mut closed = false;
                for l in lines.by_ref() {
                    if l == delim {
                        closed = true;
                        break;
                    }
                    body.push(l);
                }
                if !closed {
                    return Err(format!("Invalid value. Matching delimiter not found '{delim}'"));
                }
                (name.to_string(), body.join("\n"))
            }
            _ => return Err(format!("Invalid format '{line}'")),
        };
        if env && name.eq_ignore_ascii_case("NODE_OPTIONS") {
            return Err(
                "Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' command.".into()
            );
        }
        out.push((name, value));
    }
    Ok(out)
}

/// `GITHUB_PATH`: one directory per line, prepended in order (the last line first).
pub fn read_paths(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// `GITHUB_STEP_SUMMARY`: refused past the size limit.
pub fn read_summary(text: &str) -> Result<&str, String> {
    if text.len() > SUMMARY_LIMIT {
        return Err(format!(
            "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of {}k, got {}k.",
            SUMMARY_LIMIT / 1024,
            text.len() / 1024
        ));
    }
    Ok(text)
}

/// Reads a secrets file: `NAME=VALUE` lines (quotes around a value dropped), blank lines
/// and `#` comments skipped; a line without `=` is an error naming its place.
pub fn read_secret_file(path: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{}:{}: expected NAME=VALUE", path.display(), n + 1))?;
        out.push((k.trim().to_string(), v.trim().trim_matches('"').to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_heredocs() {
        let text = "tag=v1.2\nnotes<<EOF\nline 1\n\nline=3\nEOF\nempty=\r\nequals=a=b\n";
        assert_eq!(
            read_pairs(text, false),
            Ok(vec![
                ("tag".into(), "v1.2".into()),
                ("notes".into(), "line 1\n\nline=3".into()),
                ("empty".into(), String::new()),
                ("equals".into(), "a=b".into()),
            ])
        );
        assert_eq!(
            read_pairs("x<<END\nno end\n", false),
            Err("Invalid value. Matching delimiter not found 'END'".into())
        );
        assert_eq!(
            read_pairs("=v\n", false),
            Err("Invalid format '=v'. Name must not be empty".into())
        );
        assert_eq!(
            read_pairs("x<<\n", false),
            Err("Invalid format 'x<<'. Delimiter must not be empty".into())
        );
        assert_eq!(read_pairs("justtext\n", false), Err("Invalid format 'justtext'".into()));
        assert!(read_pairs("node_options=--inspect\n", true).is_err());
        assert!(read_pairs("node_options=--inspect\n", false).is_ok());
    }

    #[test]
    fn paths_and_summaries() {
        assert_eq!(read_paths("/opt/a\n\n /opt/b \n"), ["/opt/a", "/opt/b"]);
        assert!(read_summary("# ok").is_ok());
        assert!(read_summary(&"x".repeat(SUMMARY_LIMIT + 1)).is_err());
    }
}
