//! Running GitHub Actions jobs. The pure parts first: workflow commands on a
//! step's output, file commands after it, and secret masking of every line.

pub mod commands;
pub mod container;
pub mod files;
pub mod git;
pub mod job;
pub mod local;
pub mod mask;
pub mod step;
pub mod store;
