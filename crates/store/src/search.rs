//! Shoppers' search over the catalog: what they typed, parsed into terms, and what a backend
//! answers with.
//!
//! The terms are plain text, never query syntax: each backend turns them into its own full-text
//! query (SQLite FTS5 with the trigram tokenizer, PostgreSQL trigram/`tsvector` indexes) and
//! quotes them there, so no input can reach a backend's query parser as an operator.

use seckill_domain::activity::Activity;
use seckill_domain::catalog::Product;
use seckill_domain::validation::FieldErrors;

/// The longest query accepted, in characters (not bytes: 100 Chinese characters are fine).
pub const MAX_QUERY_CHARS: usize = 100;

/// A shopper's search, parsed: 1–[`MAX_QUERY_CHARS`] characters once trimmed, split at
/// whitespace (the ideographic space `U+3000` included) into distinct terms. Control
/// characters separate terms like whitespace, so none reaches a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    /// Parses the raw query; `field` names it in the errors (`q` for the HTTP API).
    /// Empty or blank: "must not be empty"; over [`MAX_QUERY_CHARS`]: "must be at most … characters".
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldErrors> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > MAX_QUERY_CHARS {
            return Err(FieldErrors::single(field, format!("must be at most {MAX_QUERY_CHARS} characters")));
        }
        let mut terms: Vec<String> = Vec::new();
        for term in trimmed.split(|c: char| c.is_whitespace() || c.is_control()).filter(|t| !t.is_empty()) {
            if !terms.iter().any(|t| t == term) {
                terms.push(term.to_owned());
            }
        }
        if terms.is_empty() {
            return Err(FieldErrors::single(field, "must not be empty"));
        }
        Ok(SearchQuery { terms })
    }

    /// The terms, in the order typed, at least one, none empty and none repeated. A product
    /// matches when every term occurs in it.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }
}

/// One activity found by a search, with its product as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The activity with its slots and SKUs (seckill prices, stock, sold).
    pub activity: Activity,
    /// The activity's product with its live SKUs (list prices, images).
    pub product: Product,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn terms(raw: &str) -> Vec<String> {
        SearchQuery::parse(raw, "q").unwrap_or_else(|e| panic!("{raw:?}: {e}")).terms().to_vec()
    }

    #[track_caller]
    fn error(raw: &str) -> String {
        let e = SearchQuery::parse(raw, "q").expect_err(raw);
        e.get("q").unwrap_or_default().to_owned()
    }

    #[test]
    fn terms_are_split_at_any_whitespace_and_kept_once() {
        assert_eq!(terms("  mate  "), ["mate"]);
        assert_eq!(terms("华为\u{3000}手机\tmate\nmate"), ["华为", "手机", "mate"]);
        assert_eq!(terms("a\u{0}b\u{7f}c"), ["a", "b", "c"]);
        // Query syntax of any backend is just text here.
        assert_eq!(terms(r#""mate" OR -pro* NEAR(a b)"#), [r#""mate""#, "OR", "-pro*", "NEAR(a", "b)"]);
        // Letter case is the backend's to ignore; distinct spellings stay distinct terms.
        assert_eq!(terms("Mate mate"), ["Mate", "mate"]);
    }

    #[test]
    fn blank_and_overlong_queries_are_refused() {
        for blank in ["", "   ", "\u{3000}", "\t\n", "\u{0}"] {
            assert_eq!(error(blank), "must not be empty", "{blank:?}");
        }
        assert_eq!(error(&"x".repeat(MAX_QUERY_CHARS + 1)), "must be at most 100 characters");
        assert_eq!(terms(&"手".repeat(MAX_QUERY_CHARS)).len(), 1, "characters are counted, not bytes");
        assert_eq!(terms(&format!("  {}  ", "x".repeat(MAX_QUERY_CHARS))).len(), 1, "after trimming");
    }
}
