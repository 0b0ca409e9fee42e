//! Code-base invariants checked as tests: the crate layering, pure engines free of IO
//! runtimes, and every source file opening with a `//!` line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each crate's layer; a crate may depend only on crates of a strictly lower rank.
/// A new crate must be added here, which is where its place in the design is decided.
pub(crate) const RANKS: &[(&str, u8, &str)] = &[
    ("andon-core", 0, "L0 foundations"),
    ("andon-spec", 1, "L0 resource formats"),
    ("andon-series", 0, "L0 metric data model"),
    ("andon-template", 1, "L0 Go template language"),
    ("andon-expr", 1, "L0 GitHub Actions expression language"),
    ("andon-pipeline", 2, "L1 pure: workflow files, triggers, matrices, run plans and states"),
    ("andon-expo", 2, "L1 pure: exposition formats"),
    ("andon-promql", 2, "L1 pure: PromQL evaluation"),
    ("andon-remote", 2, "L1 pure: remote-write wire format"),
    ("andon-rules", 3, "L1 pure: rule files, evaluation, alert states"),
    ("andon-slo", 3, "L1 pure: SLO specs to rules"),
    (
        "andon-alertmanager",
        3,
        "L1 pure: Alertmanager config, routing, grouping, silences, inhibition, payloads",
    ),
    ("andon-delivery", 3, "L1 pure: rollout state machines, analysis, autoscaling"),
    ("andon-tsdb", 2, "L2 IO driver (files)"),
    ("andon-store", 2, "L2 IO driver"),
    ("andon-supervisor", 2, "L2 IO driver"),
    ("andon-runner", 3, "L2 IO driver: workflow steps as processes"),
    ("andon-router", 3, "L2 IO driver (drives the supervisor's endpoint trait)"),
    ("andon-api", 3, "L3 boundary"),
    ("andon-metrics", 4, "L3 service: scraping, rules and the Prometheus API"),
    ("andon-server", 5, "L4 composition"),
    ("andon-cli", 5, "L4 composition"),
    ("andon", 6, "L5 binary"),
    ("andon-demo", 6, "the sample service (a separate binary)"),
    ("xtask", 7, "development tasks"),
];

/// Crates that must stay pure: no async runtime, HTTP stack or database driver.
pub(crate) const PURE: &[&str] = &[
    "andon-core",
    "andon-spec",
    "andon-series",
    "andon-template",
    "andon-expr",
    "andon-pipeline",
    "andon-expo",
    "andon-promql",
    "andon-remote",
    "andon-rules",
    "andon-slo",
    "andon-alertmanager",
    "andon-delivery",
];
const IO_CRATES: &[&str] = &["tokio", "axum", "hyper", "hyper-util", "sqlx", "reqwest", "tower"];

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// (package, normal dependencies) for every workspace member, from `cargo metadata`.
pub(crate) fn dependencies() -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let mut map = BTreeMap::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        map.insert(p["name"].as_str().unwrap_or_default().to_owned(), deps);
    }
    Ok(map)
}

/// Every layering problem, as messages.
pub(crate) fn layering_violations(deps: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let rank = |name: &str| RANKS.iter().find(|(n, _, _)| *n == name).map(|(_, r, _)| *r);
    let mut problems = Vec::new();
    for (pkg, ds) in deps {
        let Some(r) = rank(pkg) else {
            problems.push(format!("{pkg} has no layer: add it to RANKS in xtask/src/tidy.rs"));
            continue;
        };
        for d in ds {
            if let Some(dr) = rank(d)
                && dr >= r
            {
                problems.push(format!(
                    "{pkg} (rank {r}) depends on {d} (rank {dr}): dependencies must point down"
                ));
            }
            if PURE.contains(&pkg.as_str()) && IO_CRATES.contains(&d.as_str()) {
                problems.push(format!("{pkg} is a pure crate but depends on {d}"));
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Source files that do not start with a `//!` line, and `mod.rs` files outside tests.
pub(crate) fn file_problems(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("xtask"), &mut files);
    let mut problems = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        if !text.starts_with("//!") {
            problems
                .push(format!("{rel}: must start with a `//!` line saying what the file is for"));
        }
        if f.file_name().is_some_and(|n| n == "mod.rs") && !rel.contains("/tests/") {
            problems.push(format!("{rel}: use `foo.rs` + `foo/` instead of `foo/mod.rs`"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_depend_only_downward_and_pure_crates_stay_pure() {
        let deps = dependencies().unwrap();
        assert!(deps.contains_key("andon-store"), "metadata was read");
        let problems = layering_violations(&deps);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_layering_check_catches_upward_and_impure_dependencies() {
        let mut deps = BTreeMap::new();
        deps.insert("andon-spec".to_owned(), vec!["andon-store".to_owned(), "tokio".to_owned()]);
        deps.insert("andon-cli".to_owned(), vec!["andon-server".to_owned()]);
        deps.insert("andon-new".to_owned(), vec![]);
        let problems = layering_violations(&deps);
        assert_eq!(
            problems,
            [
                "andon-cli (rank 5) depends on andon-server (rank 5): dependencies must point down",
                "andon-new has no layer: add it to RANKS in xtask/src/tidy.rs",
                "andon-spec (rank 1) depends on andon-store (rank 2): dependencies must point down",
                "andon-spec is a pure crate but depends on tokio",
            ]
        );
    }

    #[test]
    fn every_source_file_says_what_it_is_for() {
        let problems = file_problems(&workspace_root());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
