//! Prometheus recording and alerting rules: rule files with positions, group evaluation, alert states, and the `promtool test rules` runner.

pub mod eval;
pub mod file;
pub mod unittest;

pub use eval::{Alert, AlertState, GroupState, Health, RuleEnv, Settings, Transition};
pub use file::{Group, ReadOptions, Rule, RuleFile, RuleKind};
