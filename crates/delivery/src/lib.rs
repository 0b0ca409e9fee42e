//! Progressive delivery, pure: what a Service's rollout does next given what runs, the
//! clock and the analysis so far. The server's shell carries the decisions out (the
//! supervisor's replica sets, the router's weights) and records them in the journal.

pub mod analysis;
pub mod autoscale;
pub mod check;
pub mod expr;
pub mod rollout;
