//! The error of the domain's parsers: a value they refuse, with the reason
//! in words a client can act on. `error.rs` maps it to a 422 problem.

/// A value a domain parser refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);
