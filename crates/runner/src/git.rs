//! A repository watched by the server: a bare mirror kept in the data dir (`git clone
//! --mirror`, then `git fetch --prune`), its branch heads, a commit's author and time,
//! the files a push changed and the workflow files at a commit. Jobs check out from the
//! mirror (`actions/checkout` clones it with `--shared`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one git command may take (a clone of a large repository over a slow link).
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// A commit as the journal records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub author: String,
    pub email: String,
    /// Seconds since the Unix epoch (the committer's time: when it entered the branch's
    /// history, which is what lead time for changes counts from).
    pub time: i64,
    /// The first line of the message.
    pub message: String,
}

async fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(GIT_TIMEOUT, cmd.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(format!("git {}: {e}", args.first().unwrap_or(&""))),
        Err(_) => {
            return Err(format!(
                "git {}: no answer within {} s",
                args.first().unwrap_or(&""),
                GIT_TIMEOUT.as_secs()
            ));
        }
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.trim();
        let last = err.lines().last().unwrap_or("failed");
        return Err(format!("git {}: {last}", args.first().unwrap_or(&"")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A bare mirror of a repository.
#[derive(Clone, Debug)]
pub struct Mirror {
    pub dir: PathBuf,
}

impl Mirror {
    pub fn new(dir: impl Into<PathBuf>) -> Mirror {
        Mirror { dir: dir.into() }
    }

    /// Brings the mirror up to date with `url` (cloning it the first time). A clone is
    /// made beside the final place and renamed, so a crash never leaves half a mirror.
    pub async fn sync(&self, url: &str) -> Result<(), String> {
        if self.dir.join("HEAD").exists() {
            git(Some(&self.dir), &["remote", "set-url", "origin", url]).await?;
            git(Some(&self.dir), &["fetch", "--prune", "--quiet", "origin"]).await?;
            return Ok(());
        }
        if let Some(parent) = self.dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let tmp = self.dir.with_extension(format!("cloning-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let tmp_s = tmp.display().to_string();
        if let Err(e) = git(None, &["clone", "--mirror", "--quiet", url, &tmp_s]).await {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::rename(&tmp, &self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))
    }

    /// Every branch and the commit at its head.
    pub async fn heads(&self) -> Result<Vec<(String, String)>, String> {
        let out = git(
            Some(&self.dir),
            &["for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads"],
        )
        .await?;
        Ok(out
            .lines()
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(b, s)| (b.to_string(), s.to_string()))
            .collect())
    }

    /// Every tag and the commit it points at (annotated tags peeled).
    pub async fn tags(&self) -> Result<Vec<(String, String)>, String> {
        let out = git(
            Some(&self.dir),
            &[
                "for-each-ref",
                "--format=%(refname:strip=2) %(objectname) %(*objectname)",
                "refs/tags",
            ],
        )
        .await?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut parts = l.split(' ');
                let (name, obj, peeled) =
                    (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
                Some((name.to_string(), if peeled.is_empty() { obj } else { peeled }.to_string()))
            })
            .collect())
    }

    /// The default branch (where the mirror's HEAD points).
    pub async fn default_branch(&self) -> Option<String> {
        let out = git(Some(&self.dir), &["symbolic-ref", "--short", "HEAD"]).await.ok()?;
        Some(out.trim().to_string()).filter(|b| !b.is_empty())
    }

    /// The full sha of a revision (a sha, a branch) that names a commit.
    pub async fn resolve(&self, rev: &str) -> Result<String, String> {
        if rev.starts_with('-') {
            return Err(format!("{rev:?} is not a revision"));
        }
        let spec = format!("{rev}^{{commit}}");
        Ok(git(Some(&self.dir), &["rev-parse", "--verify", "--quiet", &spec])
            .await
            .map_err(|_| format!("no commit {rev:?} in the repository"))?
            .trim()
            .to_string())
    }

    /// A commit's author, time and subject.
    pub async fn commit(&self, sha: &str) -> Result<Commit, String> {
        let out =
            git(Some(&self.dir), &["log", "-1", "--format=%H%x00%an%x00%ae%x00%ct%x00%s", sha])
                .await?;
        let f: Vec<&str> = out.trim_end_matches('\n').split('\0').collect();
        match f.as_slice() {
            [sha, author, email, time, message] => Ok(Commit {
                sha: (*sha).to_string(),
                author: (*author).to_string(),
                email: (*email).to_string(),
                time: time.parse().unwrap_or(0),
                message: (*message).to_string(),
            }),
            _ => Err(format!("git log: unexpected output for {sha}")),
        }
    }

    /// The files changed from `before` to `after`; with no `before` (a new branch), the
    /// files of `after` itself.
    pub async fn changed_paths(&self, before: Option<&str>, after: &str) -> Option<Vec<String>> {
        let out = match before {
            Some(b) => git(Some(&self.dir), &["diff", "--name-only", b, after]).await,
            None => {
                git(
                    Some(&self.dir),
                    &["diff-tree", "--root", "--no-commit-id", "--name-only", "-r", after],
                )
                .await
            }
        };
        out.ok().map(|o| o.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
    }

    /// The workflow files (`.github/workflows/*.yml|yaml`) at a commit, with their bytes.
    pub async fn workflow_files(&self, sha: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
        let spec = format!("{sha}:.github/workflows");
        let Ok(list) = git(Some(&self.dir), &["ls-tree", "--name-only", &spec]).await else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for name in list.lines() {
            if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
                continue;
            }
            let path = format!(".github/workflows/{name}");
            let obj = format!("{sha}:{path}");
            let text = git(Some(&self.dir), &["cat-file", "blob", &obj]).await?;
            out.push((path, text.into_bytes()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn sh(dir: &Path, script: &str) {
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    }

    #[tokio::test]
    async fn a_mirror_follows_its_origin() {
        let t = tempfile::tempdir().unwrap();
        let origin = t.path().join("origin");
        std::fs::create_dir_all(origin.join(".github/workflows")).unwrap();
        sh(
            &origin,
            "git init -q -b main . && echo 'on: push' > .github/workflows/ci.yml && \
             echo x > README && git add -A && git commit -q -m 'First commit'",
        );
        let m = Mirror::new(t.path().join("mirror.git"));
        m.sync(origin.to_str().unwrap()).await.unwrap();
        let heads = m.heads().await.unwrap();
        assert_eq!(heads.len(), 1);
        assert_eq!(heads[0].0, "main");
        let first = heads[0].1.clone();
        let c = m.commit(&first).await.unwrap();
        assert_eq!((c.author.as_str(), c.email.as_str()), ("Ada", "ada@example.com"));
        assert_eq!(c.time, 1_767_323_045);
        assert_eq!(c.message, "First commit");
        let files = m.workflow_files(&first).await.unwrap();
        assert_eq!(files, vec![(".github/workflows/ci.yml".to_string(), b"on: push\n".to_vec())]);
        assert_eq!(
            m.changed_paths(None, &first).await.unwrap(),
            vec![".github/workflows/ci.yml", "README"]
        );

        sh(&origin, "echo y > src.txt && git add -A && git commit -q -m second");
        m.sync(origin.to_str().unwrap()).await.unwrap();
        let second = m.heads().await.unwrap()[0].1.clone();
        assert_ne!(first, second);
        assert_eq!(m.changed_paths(Some(&first), &second).await.unwrap(), vec!["src.txt"]);
        assert_eq!(m.resolve("main").await.unwrap(), second);
        sh(&origin, "git tag v1 && git tag -a v2 -m release HEAD~1");
        m.sync(origin.to_str().unwrap()).await.unwrap();
        assert_eq!(
            m.tags().await.unwrap(),
            vec![("v1".to_string(), second.clone()), ("v2".to_string(), first.clone())]
        );
        assert_eq!(m.default_branch().await.as_deref(), Some("main"));
        assert!(m.resolve("nope").await.unwrap_err().contains("no commit \"nope\""));
        assert!(m.resolve("--all").await.is_err());
        // Over the network too: git's own protocol from `git daemon` on loopback.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut daemon = std::process::Command::new("git")
            .args(["daemon", "--export-all", "--reuseaddr", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", t.path().display()))
            .arg(t.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let remote = Mirror::new(t.path().join("remote.git"));
        let url = format!("git://127.0.0.1:{port}/origin");
        let mut synced = remote.sync(&url).await;
        for _ in 0..50 {
            if synced.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            synced = remote.sync(&url).await;
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
        synced.unwrap();
        assert_eq!(remote.resolve("main").await.unwrap(), second);
        let bad = Mirror::new(t.path().join("other.git"));
        let e = bad.sync(t.path().join("missing").to_str().unwrap()).await.unwrap_err();
        assert!(e.starts_with("git clone:"), "{e}");
        assert!(!t.path().join("other.git").exists());
    }
}
