//! GitHub Actions workflows, pure: filter patterns, schedules, reading and
//! validating workflow files with positions against the workflow schema, matrices,
//! and the run plan.

pub mod cron;
pub mod matrix;
pub mod pattern;
pub mod plan;
pub mod read;
pub mod schedule;
pub mod schema;
pub mod token;
pub mod workflow;

pub use read::Problem;

/// Checks what `spec` cannot on its own: a `Repository`'s branch filters compile as
/// GitHub patterns (each problem at the pattern's position).
pub fn check_manifests(manifests: &[andon_spec::Manifest]) -> Vec<andon_spec::Diagnostic> {
    let mut out = Vec::new();
    for m in manifests {
        let andon_spec::Spec::Repository(r) = &m.spec else { continue };
        for (i, (b, pos)) in r.branches.iter().zip(&r.branch_positions).enumerate() {
            if let Err(e) = pattern::Pattern::new(b) {
                out.push(
                    andon_spec::Diagnostic::at(*pos, format!("spec.branches[{i}]"), e)
                        .with_file(&m.origin.file),
                );
            }
        }
    }
    out
}
pub use token::{Kind, Token};
pub use workflow::{Event, Job, Step, Workflow, read};
