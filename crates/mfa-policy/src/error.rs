//! Errors of loading a policy document.

use std::fmt;

/// A policy document that could not be loaded.
///
/// Every variant names where the problem is, so an operator can fix the file without
/// reading code: a syntax error carries the parser's line and column, a validation error
/// the dotted path of the field (`rules[2].networks[0]`).
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum Error {
    /// The document is not valid TOML or JSON, or a field has the wrong type or name.
    #[error("policy document is not valid {format}: {message}")]
    Syntax {
        /// `"toml"` or `"json"`.
        format: &'static str,
        /// The parser's message, with its location.
        message: String,
    },
    /// A field parsed but its value is not acceptable.
    #[error("invalid policy field {field}: {problem}")]
    Invalid {
        /// The dotted path of the field, e.g. `failures.max_consecutive`.
        field: String,
        /// What is wrong with it, as a lowercase phrase.
        problem: String,
    },
}

impl Error {
    pub(crate) fn invalid(field: impl fmt::Display, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    /// The path of the invalid field, for [`Error::Invalid`].
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::Syntax { .. } => None,
        }
    }
}
