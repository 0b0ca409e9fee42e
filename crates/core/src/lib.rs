//! andon's foundations: the vocabulary every other crate shares.
//!
//! Nothing here performs IO or depends on an async runtime. Types are small,
//! serializable and stable, because the journal stores them and the API returns them.

pub mod base64;
pub mod error;
pub mod event;
pub mod object;
pub mod prom;
pub mod sha256;
pub mod time;
pub mod url;

pub use error::ErrorKind;
pub use event::{Event, NewEvent};
pub use object::ObjectRef;
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
