//! Reading manifests from paths: files, directories (recursively, `*.yaml`, `*.yml`,
//! `*.json`), or `-` for standard input; the shared first step of `lint` and `apply`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Pos};
use crate::resource::{Manifest, check_unique, parse_manifests};

/// One input read from disk, kept so diagnostics can show source snippets.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Expands paths into the files to read, in a stable order.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut buf = Vec::new();
            match std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf) {
                Ok(_) => files.push(Input { name: "-".into(), bytes: buf }),
                Err(e) => errors.push(io_error("-", &e)),
            }
            continue;
        }
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut files, &mut errors),
            Ok(_) => read_one(p, &mut files, &mut errors),
            Err(e) => errors.push(io_error(&p.display().to_string(), &e)),
        }
    }
    if errors.is_empty() { Ok(files) } else { Err(errors) }
}

fn io_error(name: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::at(Pos::new(1, 1), "", format!("cannot read: {e}")).with_file(name)
}

fn read_one(p: &Path, files: &mut Vec<Input>, errors: &mut Vec<Diagnostic>) {
    match fs::metadata(p) {
        Ok(m) if m.len() > crate::yaml::MAX_INPUT_BYTES as u64 => errors.push(
            Diagnostic::at(
                Pos::new(1, 1),
                "",
                format!(
                    "input is {} bytes, more than the limit of {} bytes (8 MiB)",
                    m.len(),
                    crate::yaml::MAX_INPUT_BYTES
                ),
            )
            .with_class(crate::diag::Class::TooLarge)
            .with_file(&p.display().to_string()),
        ),
        _ => match fs::read(p) {
            Ok(bytes) => files.push(Input { name: p.display().to_string(), bytes }),
            Err(e) => errors.push(io_error(&p.display().to_string(), &e)),
        },
    }
}

fn walk(dir: &Path, files: &mut Vec<Input>, errors: &mut Vec<Diagnostic>) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return errors.push(io_error(&dir.display().to_string(), &e)),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, files, errors);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            read_one(&p, files, errors);
        }
    }
}

/// Parses and validates every input as one set: all problems, or all manifests.
pub fn load(
    inputs: &[Input],
    default_namespace: Option<&str>,
) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    let mut all = Vec::new();
    let mut diags = Vec::new();
    for input in inputs {
        match parse_manifests(&input.name, &input.bytes, default_namespace) {
            Ok(ms) => all.extend(ms),
            Err(ds) => diags.extend(ds),
        }
    }
    if diags.is_empty() {
        // Duplicates within one file were reported already; this catches those across files.
        diags.extend(check_unique(&all));
    }
    if diags.is_empty() { Ok(all) } else { Err(diags) }
}

/// Expands `*`, `?` and `[...]` in the last path component, as Prometheus's
/// `rule_files` and Alertmanager's `templates` do; matches sorted by name.
pub fn glob(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return if path.exists() { vec![path.to_path_buf()] } else { Vec::new() };
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut re = String::from("^");
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'^') || chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d == '\\' || d == '[' {
                        re.push('\\');
                    }
                    re.push(d);
                }
                re.push(']');
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    let Ok(re) = regex::Regex::new(&re) else { return Vec::new() };
    // Matches keep the directory as written (`x.tmpl`, not `./x.tmpl`).
    let listed = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let mut out: Vec<PathBuf> = std::fs::read_dir(listed)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| re.is_match(&e.file_name().to_string_lossy()))
                .map(|e| dir.join(e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
