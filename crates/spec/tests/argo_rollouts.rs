//! Argo Rollouts' own manifests (`../shared/suites/argo-rollouts/`, read in place): every
//! `Rollout`, `AnalysisTemplate` and `ClusterAnalysisTemplate` document reads, or is
//! refused only for a feature andon does not support; the `malformed-*` fixtures are
//! rejected for what makes them malformed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};

fn suite() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites/argo-rollouts");
    assert!(p.is_dir(), "the Argo Rollouts suite is missing: {}", p.display());
    p
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

/// The documents of a file whose kind andon reads, as text.
fn argo_documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let d = docs.last_mut().unwrap();
            d.push_str(line);
            d.push('\n');
        }
    }
    docs.into_iter()
        .filter(|d| {
            d.lines().any(|l| {
                let l = l.trim_end();
                l == "kind: Rollout"
                    || l == "kind: AnalysisTemplate"
                    || l == "kind: ClusterAnalysisTemplate"
            })
        })
        .collect()
}

/// Documents Kubernetes itself would refuse: templates Argo's test harness fills in
/// before applying (placeholder names), and a pod annotation written as an unquoted
/// `{{…}}`, which YAML reads as a mapping used as a key.
const NOT_KUBERNETES_DOCUMENTS: &[&str] = &[
    "test/e2e/functional/bluegreen-duration-template.yaml#0",
    "test/e2e/functional/canary-duration-template.yaml#0",
    "test/e2e/functional/nginx-template.yaml#0",
    "test/e2e/step-plugin/template-rollout.yaml#0",
    "examples/traffic-management/rollout-linkerd.yaml#1",
];

#[test]
fn argo_manifests_read_or_name_what_is_unsupported() {
    let root = suite();
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.sort();
    let (mut read, mut unsupported, mut rejected, mut not_kubernetes) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        if rel.contains("helm-blue-green") || rel.contains("/crds/") {
            continue;
        }
        let malformed = rel.contains("expectedfailures/malformed-");
        for (i, doc) in argo_documents(&text).iter().enumerate() {
            let name = format!("{rel}#{i}");
            match andon_spec::parse_manifests(&name, doc.as_bytes(), None) {
                Ok(ms) => {
                    if malformed {
                        wrong.push(format!("{name}: malformed, but read"));
                    } else {
                        assert_eq!(ms.len(), 1, "{name}");
                        // What is stored reads back as the same spec (the runtime reads it).
                        let stored = ms[0].to_document().to_string();
                        let back = andon_spec::parse_manifests("stored", stored.as_bytes(), None)
                            .unwrap_or_else(|d| {
                                panic!("{name}: stored form does not read: {d:?}\n{stored}")
                            });
                        assert_eq!(back[0].spec, ms[0].spec, "{name}: stored form differs");
                        read += 1;
                    }
                }
                Err(ds) => {
                    let text: Vec<String> = ds.iter().map(ToString::to_string).collect();
                    if NOT_KUBERNETES_DOCUMENTS.contains(&name.as_str()) {
                        not_kubernetes += 1;
                    } else if malformed {
                        if text.iter().any(|d| d.contains("memory") && d.contains("invalid")) {
                            rejected += 1;
                        } else {
                            wrong.push(format!("{name}: rejected for another reason: {text:?}"));
                        }
                    } else if text.iter().all(|d| d.contains("not supported")) {
                        println!("unsupported {name}: {}", text.join(" | "));
                        unsupported += 1;
                    } else {
                        wrong.push(format!("{name}: {}", text.join("\n    ")));
                    }
                }
            }
        }
    }
    println!(
        "argo-rollouts: {read} read, {unsupported} unsupported, {rejected} malformed rejected, {not_kubernetes} not Kubernetes documents"
    );
    assert!(wrong.is_empty(), "{} documents:\n{}", wrong.len(), wrong.join("\n"));
    assert!(read >= 71, "only {read} documents read");
    assert!(unsupported <= 28, "{unsupported} documents use unsupported features");
    assert_eq!(not_kubernetes, NOT_KUBERNETES_DOCUMENTS.len());
    assert_eq!(rejected, 4, "malformed Rollouts and analysis templates rejected");
}
