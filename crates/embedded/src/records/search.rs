//! Shoppers' search on SQLite: the FTS5 trigram index `product_search` (migration
//! `0002_search.sql`, kept in step by triggers) joined with the activities not finished.
//!
//! A term is text, never FTS5 syntax. A term of three or more characters becomes one FTS5
//! string (`"…"`, inner quotes doubled), which the trigram tokenizer matches as a substring of
//! any column, in any letter case; `AND`, `NEAR`, `*`, `-`, `:` or parentheses inside it are
//! just characters. A shorter term has no trigram to look up, so it is matched with
//! `LIKE '%…%'` (`%`, `_` and `\` escaped) over the same columns — SQLite's LIKE folds ASCII
//! letters only, which is all a one- or two-letter Latin term needs.

use std::collections::HashMap;

use seckill_domain::Timestamp;
use seckill_store::{SearchHit, SearchQuery};

use super::SqliteRecords;
use super::accounts::contains_pattern;
use super::activities::activities_by_id;
use super::catalog::products_by_id;
use super::error::DbResult;
use super::rows::millis;

/// The length of a trigram: shorter terms cannot use the index.
const TRIGRAM: usize = 3;

/// The enabled activities not finished at `now` whose product matches every term of `query`,
/// best first (the product's own name holds every term), then by `starts_at` and id.
pub(crate) async fn search(
    db: &SqliteRecords,
    query: &SearchQuery,
    now: Timestamp,
    limit: u32,
) -> DbResult<Vec<SearchHit>> {
    let (long, short): (Vec<&String>, Vec<&String>) = query.terms().iter().partition(|t| t.chars().count() >= TRIGRAM);
    // Every term as a LIKE pattern, for the short terms' filter and for ranking name matches.
    let pattern = |t: &str| contains_pattern(Some(t)).unwrap_or_else(|| "%".to_owned());

    let mut sql = String::from(
        "SELECT a.id, a.product_id FROM product_search
         JOIN activities a ON a.product_id = product_search.rowid
         WHERE a.enabled = 1 AND a.ends_at > ?",
    );
    let mut texts: Vec<String> = Vec::new();
    if !long.is_empty() {
        sql.push_str(" AND product_search MATCH ?");
        texts.push(fts_strings(&long));
    }
    for term in &short {
        sql.push_str(
            " AND (product_search.name LIKE ? ESCAPE '\\' OR product_search.brand LIKE ? ESCAPE '\\'
                   OR product_search.category LIKE ? ESCAPE '\\')",
        );
        texts.extend(std::iter::repeat_n(pattern(term), 3));
    }
    let in_name = vec!["product_search.name LIKE ? ESCAPE '\\'"; query.terms().len()].join(" AND ");
    sql.push_str(&format!(" ORDER BY ({in_name}) DESC, a.starts_at, a.id LIMIT ?"));
    texts.extend(query.terms().iter().map(|t| pattern(t)));

    let mut tx = db.read().await?;
    // Safe: `sql` is made of the constant fragments above; every term is a bound parameter.
    let mut select = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql)).bind(millis(now));
    for text in texts {
        select = select.bind(text);
    }
    let found: Vec<(i64, i64)> = select.bind(i64::from(limit)).fetch_all(&mut *tx).await?;
    if found.is_empty() {
        return Ok(Vec::new());
    }

    let activity_ids: Vec<i64> = found.iter().map(|(a, _)| *a).collect();
    let mut product_ids: Vec<i64> = found.iter().map(|(_, p)| *p).collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    let activities = activities_by_id(&mut tx, &activity_ids).await?;
    let products: HashMap<i64, _> =
        products_by_id(&mut tx, &product_ids).await?.into_iter().map(|p| (p.id.get(), p)).collect();
    Ok(activities
        .into_iter()
        .filter_map(|activity| {
            let product = products.get(&activity.product_id.get())?.clone();
            Some(SearchHit { activity, product })
        })
        .collect())
}

/// `terms` as an FTS5 query that matches rows holding every one of them as a substring: each
/// an FTS5 string, `"` doubled inside, joined by spaces (FTS5's implicit AND).
fn fts_strings(terms: &[&String]) -> String {
    terms.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_one_quoted_fts5_string() {
        let terms = ["mate".to_owned(), r#"say "hi""#.to_owned(), "NEAR(a".to_owned()];
        let refs: Vec<&String> = terms.iter().collect();
        assert_eq!(fts_strings(&refs), r#""mate" "say ""hi""" "NEAR(a""#);
    }
}
