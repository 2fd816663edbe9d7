//! Field errors: what a `422 VALIDATION_FAILED` answer lists, field by field.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Field name → what is wrong with it, e.g. `{"end": "must be after start"}`.
///
/// Constructors in this crate collect every problem of an input before answering, so a form
/// shows all of them at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One error.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records a problem with `field`; the first message for a field wins.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// Every (field, message) pair, sorted by field.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Adds all of `other`, each field prefixed (`skus[2].stock`).
    pub fn merge_prefixed(&mut self, prefix: &str, other: FieldErrors) {
        for (field, message) in other.0 {
            self.add(format!("{prefix}.{field}"), message);
        }
    }

    /// `Ok(value)` when empty, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, message) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{field}: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// Trims `value` and checks it is non-empty and at most `max` characters.
pub fn text(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.add(field, "must not be empty");
    } else if trimmed.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    } else if trimmed.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
    trimmed.to_owned()
}

/// Like [`text`], for a field that may be absent or blank (blank becomes `None`).
pub fn optional_text(errors: &mut FieldErrors, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    match value.map(str::trim) {
        None | Some("") => None,
        Some(v) => Some(text(errors, field, v, max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_for_a_field_wins_and_all_fields_are_kept() {
        let mut e = FieldErrors::new();
        e.add("name", "must not be empty");
        e.add("name", "second");
        e.add("end", "must be after start");
        assert_eq!(e.get("name"), Some("must not be empty"));
        assert_eq!(e.to_string(), "end: must be after start; name: must not be empty");
        assert!(e.into_result(()).is_err());
    }

    #[test]
    fn text_fields_are_trimmed_bounded_and_printable() {
        let mut e = FieldErrors::new();
        assert_eq!(text(&mut e, "a", "  hi ", 5), "hi");
        assert!(e.is_empty());
        text(&mut e, "b", "   ", 5);
        text(&mut e, "c", "toolong", 5);
        text(&mut e, "d", "a\u{0}b", 5);
        assert_eq!(e.get("b"), Some("must not be empty"));
        assert_eq!(e.get("c"), Some("must be at most 5 characters"));
        assert_eq!(e.get("d"), Some("must not contain control characters"));
        assert_eq!(optional_text(&mut e, "e", Some("  "), 5), None);
    }
}
