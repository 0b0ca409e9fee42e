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
pub use token::{Kind, Token};
pub use workflow::{Event, Job, Step, Workflow, read};
