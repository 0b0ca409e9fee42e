//! Artifacts and caches on this machine, content-addressed: every file is stored
//! once under its SHA-256 (`blobs/ab/abcdef…`), and an artifact or cache entry is a
//! manifest of relative paths, modes and digests. Artifacts live for a run and are
//! shared by its jobs (`actions/upload-artifact`, `actions/download-artifact`);
//! cache entries outlive runs and are found by exact key or key prefix
//! (`actions/cache` with `key` and `restore-keys`, newest first).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use andon_core::sha256::{Sha256, hex};

/// One stored file of an artifact or cache entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub digest: String,
    pub executable: bool,
}

/// A content store rooted at a directory.
#[derive(Clone, Debug)]
pub struct Store {
    pub root: PathBuf,
}

fn io(p: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", p.display())
}

/// Expands the `path:` input (one path or glob per line; `!` excludes) relative to
/// `base`: the files and the directory their paths are made relative to (the
/// deepest directory common to everything matched, as GitHub's artifact action does).
pub fn expand_paths(base: &Path, spec: &str) -> Result<(Vec<PathBuf>, PathBuf), String> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut excludes = Vec::new();
    let mut listed: Option<Vec<PathBuf>> = None;
    for line in spec.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(ex) = line.strip_prefix('!') {
            excludes.push(andon_pipeline::pattern::glob_regex(ex.trim_start_matches("./"))?);
            continue;
        }
        let expanded = expand_home(line);
        let p = if Path::new(&expanded).is_absolute() {
            PathBuf::from(&expanded)
        } else {
            base.join(&expanded)
        };
        if line.contains(['*', '?']) {
            let re = andon_pipeline::pattern::glob_regex(line.trim_start_matches("./"))?;
            // The tree is listed once, however many patterns there are.
            let all = listed.get_or_insert_with(|| {
                let mut v = Vec::new();
                walk_files(base, &mut v);
                v
            });
            files.extend(all.iter().filter(|f| re.is_match(&relative(f, base))).cloned());
            // The part of the pattern before its first wildcard is a root.
            let fixed: String = line.chars().take_while(|c| *c != '*' && *c != '?').collect();
            let fixed = fixed.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_string());
            roots.push(base.join(fixed));
        } else if p.is_dir() {
            walk_files(&p, &mut files);
            roots.push(p);
        } else if p.is_file() {
            roots.push(p.parent().map(Path::to_path_buf).unwrap_or_default());
            files.push(p);
        }
    }
    files.retain(|f| !excludes.iter().any(|r| r.is_match(&relative(f, base))));
    files.sort();
    files.dedup();
    let common = roots.iter().skip(1).fold(
        roots.first().cloned().unwrap_or_else(|| base.to_path_buf()),
        |acc, r| {
            let mut out = PathBuf::new();
            for (a, b) in acc.components().zip(r.components()) {
                if a != b {
                    break;
                }
                out.push(a.as_os_str());
            }
            out
        },
    );
    Ok((files, common))
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}

/// Every regular file under `dir`, `.git` directories left out.
pub fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.filter_map(Result::ok) {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if e.file_name() != ".git" {
                walk_files(&e.path(), out);
            }
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

/// `file`'s path under `base` with `/` separators (as globs match it).
pub fn relative(file: &Path, base: &Path) -> String {
    file.strip_prefix(base).map(|r| r.to_string_lossy().replace('\\', "/")).unwrap_or_default()
}

/// A file's SHA-256, read in pieces.
pub fn file_digest(file: &Path) -> Result<[u8; 32], String> {
    let mut f = std::fs::File::open(file).map_err(|e| io(file, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| io(file, e))?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// A relative path that stays inside the directory it is joined to.
fn safe_relative(p: &str) -> Option<PathBuf> {
    let path = Path::new(p);
    path.components().all(|c| matches!(c, Component::Normal(_))).then(|| path.to_path_buf())
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// Where the file with this digest is kept.
    pub fn blob(&self, digest: &str) -> PathBuf {
        self.root.join("blobs").join(&digest[..2]).join(digest)
    }

    /// Stores a file (once per content); its digest.
    pub fn put(&self, file: &Path) -> Result<String, String> {
        let digest = hex(&file_digest(file)?);
        let dest = self.blob(&digest);
        if !dest.exists() {
            let dir = dest.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            let tmp = dir.join(format!(".{digest}.{}", std::process::id()));
            std::fs::copy(file, &tmp).map_err(|e| io(file, e))?;
            std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))?;
        }
        Ok(digest)
    }

    /// Stores files under their paths relative to `relative_to`.
    pub fn put_all(&self, files: &[PathBuf], relative_to: &Path) -> Result<Vec<Entry>, String> {
        use std::os::unix::fs::PermissionsExt;
        let mut out = Vec::new();
        for f in files {
            let rel = f.strip_prefix(relative_to).unwrap_or(f).to_string_lossy().replace('\\', "/");
            let mode = std::fs::metadata(f).map(|m| m.permissions().mode()).unwrap_or(0o644);
            out.push(Entry { path: rel, digest: self.put(f)?, executable: mode & 0o111 != 0 });
        }
        Ok(out)
    }

    /// Writes entries out under `dest`.
    pub fn restore(&self, entries: &[Entry], dest: &Path) -> Result<usize, String> {
        use std::os::unix::fs::PermissionsExt;
        for e in entries {
            let rel = safe_relative(&e.path)
                .ok_or_else(|| format!("refusing to restore outside the target: {}", e.path))?;
            let to = dest.join(rel);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|er| io(dir, er))?;
            }
            let from = self.blob(&e.digest);
            std::fs::copy(&from, &to).map_err(|er| io(&from, er))?;
            let mode = if e.executable { 0o755 } else { 0o644 };
            let _ = std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode));
        }
        Ok(entries.len())
    }

    /// Writes a manifest (one `digest mode path` line per entry) atomically.
    pub fn write_manifest(&self, at: &Path, entries: &[Entry], header: &str) -> Result<(), String> {
        let mut text = format!("# {header}\n");
        for e in entries {
            text.push_str(&format!(
                "{} {} {}\n",
                e.digest,
                if e.executable { 755 } else { 644 },
                e.path
            ));
        }
        if let Some(dir) = at.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        let tmp = at.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, at).map_err(|e| io(at, e))
    }

    /// Reads a manifest: its header and entries.
    pub fn read_manifest(at: &Path) -> Result<(String, Vec<Entry>), String> {
        let text = std::fs::read_to_string(at).map_err(|e| io(at, e))?;
        let mut lines = text.lines();
        let header = lines.next().and_then(|l| l.strip_prefix("# ")).unwrap_or("").to_string();
        let mut out = Vec::new();
        for l in lines {
            let mut parts = l.splitn(3, ' ');
            if let (Some(d), Some(m), Some(p)) = (parts.next(), parts.next(), parts.next()) {
                out.push(Entry {
                    digest: d.to_string(),
                    executable: m == "755",
                    path: p.to_string(),
                });
            }
        }
        Ok((header, out))
    }

    /// The manifest of a cache key.
    pub fn cache_manifest(&self, key: &str) -> PathBuf {
        self.root.join("cache").join(andon_core::sha256::digest_hex(key.as_bytes()))
    }

    /// A cache entry for `key`, else the newest whose key starts with one of
    /// `restore_keys` (tried in order): the key found and its entries.
    pub fn cache_lookup(&self, key: &str, restore_keys: &[String]) -> Option<(String, Vec<Entry>)> {
        if let Ok((k, e)) = Store::read_manifest(&self.cache_manifest(key))
            && k == key
        {
            return Some((k, e));
        }
        let dir = self.root.join("cache");
        let mut all: Vec<(std::time::SystemTime, String, Vec<Entry>)> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let modified = e.metadata().and_then(|m| m.modified()).ok()?;
                let (k, entries) = Store::read_manifest(&e.path()).ok()?;
                Some((modified, k, entries))
            })
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
        for prefix in restore_keys.iter().filter(|p| !p.is_empty()) {
            if let Some((_, k, e)) = all.iter().find(|(_, k, _)| k.starts_with(prefix.as_str())) {
                return Some((k.clone(), e.clone()));
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_once_per_content() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("dist/sub")).unwrap();
        std::fs::write(src.path().join("dist/a.txt"), "same").unwrap();
        std::fs::write(src.path().join("dist/sub/b.txt"), "same").unwrap();
        std::fs::write(src.path().join("dist/run.sh"), "#!/bin/sh\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                src.path().join("dist/run.sh"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        }
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::new(store_dir.path());
        let (files, rel) = expand_paths(src.path(), "dist/\n!dist/sub/**").unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        assert_eq!(rel, src.path().join("dist"));
        let (files, rel) = expand_paths(src.path(), "dist/").unwrap();
        let entries = store.put_all(&files, &rel).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a.txt", "run.sh", "sub/b.txt"]);
        assert_eq!(entries[0].digest, entries[2].digest, "same content, one blob");
        let blobs: usize = std::fs::read_dir(store_dir.path().join("blobs"))
            .unwrap()
            .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
            .sum();
        assert_eq!(blobs, 2);
        let m = store_dir.path().join("artifacts/dist");
        store.write_manifest(&m, &entries, "dist").unwrap();
        let (name, back) = Store::read_manifest(&m).unwrap();
        assert_eq!((name.as_str(), back.clone()), ("dist", entries));
        let out = tempfile::tempdir().unwrap();
        assert_eq!(store.restore(&back, out.path()).unwrap(), 3);
        assert_eq!(std::fs::read_to_string(out.path().join("sub/b.txt")).unwrap(), "same");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(out.path().join("run.sh")).unwrap().permissions().mode() & 0o111,
            0o111
        );
        let evil =
            [Entry { path: "../x".into(), digest: back[0].digest.clone(), executable: false }];
        assert!(store.restore(&evil, out.path()).is_err());
    }

    #[test]
    fn cache_keys_match_exactly_or_by_prefix_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let entries = store.put_all(std::slice::from_ref(&f), dir.path()).unwrap();
        store
            .write_manifest(&store.cache_manifest("deps-linux-aaa"), &entries, "deps-linux-aaa")
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        store
            .write_manifest(&store.cache_manifest("deps-linux-bbb"), &entries, "deps-linux-bbb")
            .unwrap();
        assert_eq!(
            store.cache_lookup("deps-linux-aaa", &[]).map(|c| c.0).as_deref(),
            Some("deps-linux-aaa")
        );
        assert_eq!(
            store.cache_lookup("deps-linux-ccc", &["deps-linux-".into()]).map(|c| c.0).as_deref(),
            Some("deps-linux-bbb"),
            "the newest with the prefix"
        );
        assert!(store.cache_lookup("deps-mac-1", &["deps-mac-".into()]).is_none());
    }
}
