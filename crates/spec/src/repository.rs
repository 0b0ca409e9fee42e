//! `kind: Repository`: a git repository whose GitHub Actions workflows andon runs when
//! its branches get new commits (found by polling and by push hooks).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::decode::{Ctx, index};
use crate::diag::Pos;
use crate::yaml::Node;

/// How often a repository is polled when `pollInterval` is not given.
pub const DEFAULT_POLL_INTERVAL: &str = "60s";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositorySpec {
    /// An absolute local path, or a URL git can fetch (`https://`, `ssh://`, `git://`,
    /// `file://`, `user@host:path`).
    pub url: String,
    /// Branch filters with GitHub's pattern rules (`!` excludes); every branch when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<String>,
    /// Where each of `branches` is written (for checks with positions).
    #[serde(skip)]
    pub branch_positions: Vec<Pos>,
    /// How often the repository is fetched; `0s` turns polling off (push hooks only).
    pub poll_interval: String,
    /// The `vars` context of its runs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    /// How many jobs of one run may run at once (default: the machine's cores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// A file on the server's machine with the runs' secrets (`NAME=VALUE` lines), read
    /// when each run starts; the values never enter the store or the journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_file: Option<String>,
}

/// Whether `url` names something git can fetch: an absolute path or a URL.
fn url_problem(url: &str) -> Option<String> {
    if url.is_empty() {
        return Some("must not be empty".into());
    }
    if url.starts_with('-') {
        return Some(format!("{url:?} is not a path or URL"));
    }
    let schemes = ["https://", "http://", "ssh://", "git://", "file://", "git+ssh://"];
    if url.starts_with('/') || schemes.iter().any(|s| url.starts_with(s)) {
        return None;
    }
    // scp-like `user@host:path` (git's own shorthand).
    if let Some((host, _)) = url.split_once(':')
        && !host.contains('/')
        && host.contains('@')
    {
        return None;
    }
    Some(format!(
        "{url:?} is neither an absolute path nor a URL (https://, ssh://, git://, file://, user@host:path)"
    ))
}

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<RepositorySpec> {
    let before = ctx.diags.len();
    let o = ctx.object(
        node,
        path,
        &["url", "branches", "pollInterval", "vars", "parallelism", "secretsFile"],
    )?;
    let url = o.require(ctx, "url").and_then(|n| {
        let p = o.path_of("url");
        let url = ctx.string(n, &p)?;
        if let Some(problem) = url_problem(&url) {
            ctx.error(n.pos, &p, problem);
        }
        Some(url)
    });
    let mut branches = Vec::new();
    let mut branch_positions = Vec::new();
    if let Some(n) = o.opt("branches") {
        let p = o.path_of("branches");
        for (i, item) in ctx.list(n, &p).unwrap_or_default().iter().enumerate() {
            if let Some(b) = ctx.string(item, &index(&p, i)) {
                if b.is_empty() {
                    ctx.error(item.pos, index(&p, i), "a branch pattern must not be empty");
                }
                branches.push(b);
                branch_positions.push(item.pos);
            }
        }
    }
    let poll_interval = match o.opt("pollInterval") {
        Some(n) => {
            let p = o.path_of("pollInterval");
            ctx.string(n, &p).inspect(|s| {
                if andon_core::time::parse_duration(s).is_none() && s != "0" {
                    ctx.error(
                        n.pos,
                        &p,
                        format!("{s:?} is not a duration (like 30s, 5m; 0s turns polling off)"),
                    );
                }
            })
        }
        None => Some(DEFAULT_POLL_INTERVAL.to_owned()),
    };
    let vars = o
        .opt("vars")
        .and_then(|n| {
            ctx.string_map(n, "spec.vars", |ctx, k, _, key, _| {
                let ok = !key.is_empty()
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !key.starts_with(|c: char| c.is_ascii_digit());
                if !ok {
                    ctx.error(
                        k.pos,
                        format!("spec.vars.{key}"),
                        "a variable name has only letters, digits and _ and does not start with a digit",
                    );
                }
            })
        })
        .unwrap_or_default();
    let parallelism = o.opt("parallelism").and_then(|n| {
        ctx.int_min(n, &o.path_of("parallelism"), 1).map(|v| u32::try_from(v).unwrap_or(u32::MAX))
    });
    let secrets_file = o.opt("secretsFile").and_then(|n| {
        let p = o.path_of("secretsFile");
        let f = ctx.string(n, &p)?;
        if !f.starts_with('/') {
            ctx.error(n.pos, &p, format!("{f:?} is not an absolute path"));
        }
        Some(f)
    });
    (ctx.diags.len() == before).then_some(RepositorySpec {
        url: url?,
        branches,
        branch_positions,
        poll_interval: poll_interval?,
        vars,
        parallelism,
        secrets_file,
    })
}

impl RepositorySpec {
    /// The poll period; `None` when polling is off.
    pub fn poll_every(&self) -> Option<std::time::Duration> {
        andon_core::time::parse_duration(&self.poll_interval).filter(|d| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::url_problem;

    #[test]
    fn urls_git_can_fetch() {
        for ok in [
            "/srv/git/app",
            "https://example.com/a/b.git",
            "ssh://git@host/x",
            "git@github.com:org/repo.git",
            "file:///tmp/x",
        ] {
            assert_eq!(url_problem(ok), None, "{ok}");
        }
        for bad in ["", "relative/path", "--upload-pack=x", "host:path"] {
            assert!(url_problem(bad).is_some(), "{bad}");
        }
    }
}
