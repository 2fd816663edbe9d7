//! Shoppers' search on PostgreSQL: the trigram-indexed `product_search` table (migration
//! `0002_search.sql`, kept in step by triggers) joined with the activities not finished.
//!
//! A term is text, never syntax: each becomes one `ILIKE '%…%'` pattern with `%`, `_` and `\`
//! escaped, bound as a parameter. Every term must occur in `document` (the product's, brand's
//! and category's names joined by newlines, which no term can span), one condition per term,
//! each answerable from the GIN trigram index; terms shorter than a trigram are matched by the
//! recheck alone. The order is SQLite's: products whose own name holds every term first, then
//! by `starts_at` and activity id.

use std::collections::HashMap;

use seckill_domain::Timestamp;
use seckill_store::{SearchHit, SearchQuery};

use super::PgRecords;
use super::accounts::contains_pattern;
use super::activities::activities_by_id;
use super::catalog::products_by_id;
use super::error::DbResult;
use super::rows::millis;

/// The enabled activities not finished at `now` whose product matches every term of `query`,
/// best first (the product's own name holds every term), then by `starts_at` and id.
pub(crate) async fn search(
    db: &PgRecords,
    query: &SearchQuery,
    now: Timestamp,
    limit: u32,
) -> DbResult<Vec<SearchHit>> {
    let patterns: Vec<String> =
        query.terms().iter().map(|t| contains_pattern(Some(t)).unwrap_or_else(|| "%".to_owned())).collect();
    // `$1` now, `$2` the limit, `$3` every pattern (for the ranking), `$4…` one per term.
    let mut sql = String::from(
        "SELECT a.id, a.product_id FROM product_search s
         JOIN activities a ON a.product_id = s.product_id
         WHERE a.enabled AND a.ends_at > $1",
    );
    for n in 0..patterns.len() {
        sql.push_str(&format!(" AND s.document ILIKE ${} ESCAPE '\\'", n + 4));
    }
    sql.push_str(" ORDER BY (s.name ILIKE ALL($3)) DESC, a.starts_at, a.id LIMIT $2");

    let mut tx = db.read().await?;
    // Safe: `sql` is made of the constant fragments above and numbered placeholders; every
    // term is a bound parameter.
    let mut select = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql))
        .bind(millis(now))
        .bind(i64::from(limit))
        .bind(&patterns);
    for pattern in &patterns {
        select = select.bind(pattern);
    }
    let found: Vec<(i64, i64)> = select.fetch_all(&mut *tx).await?;
    if found.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }

    let activity_ids: Vec<i64> = found.iter().map(|(a, _)| *a).collect();
    let mut product_ids: Vec<i64> = found.iter().map(|(_, p)| *p).collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    let activities = activities_by_id(&mut tx, &activity_ids).await?;
    let products: HashMap<i64, _> =
        products_by_id(&mut tx, &product_ids).await?.into_iter().map(|p| (p.id.get(), p)).collect();
    tx.commit().await?;
    Ok(activities
        .into_iter()
        .filter_map(|activity| {
            let product = products.get(&activity.product_id.get())?.clone();
            Some(SearchHit { activity, product })
        })
        .collect())
}
