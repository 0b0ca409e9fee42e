//! GitHub Actions workflows, pure: filter patterns, schedules, reading and
//! validating workflow files with positions, matrices, and the run plan.

pub mod cron;
pub mod matrix;
pub mod pattern;
