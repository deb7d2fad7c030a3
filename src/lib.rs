//! boxoffice: a cinema ticket booking service that never sells a seat twice.
//!
//! The crate map, one line per module:

pub mod catalog;
pub mod seed;
