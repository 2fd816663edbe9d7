//! The static product detail pages (`/seckill/{id}`): rendered to files under
//! `<data_dir>/pages/seckill/` whenever an activity is published or changed and at preheat, so
//! a burst of shoppers opening the page costs a file read (or nothing, behind nginx or a CDN).
//!
//! Each page is written atomically (a temp file, then rename) together with its gzip twin
//! (`{id}.html.gz`), and only when its content changed, so its `ETag` (length and modification
//! time, as nginx computes it) stays stable while nothing changes. What changes by the second —
//! the server's time, the state, the units left — is not in the file: the page's script asks
//! `/api/time` and `/api/activities/{id}/status` for it.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use jiff::tz::TimeZone;
use minijinja::context;
use seckill_domain::activity::Activity;
use seckill_domain::catalog::{Brand, Category, Product};
use seckill_domain::ids::ActivityId;
use seckill_store::{Records, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{not_found_page, render, yuan};
use crate::error::AppError;
use crate::state::AppState;

/// How long browsers and shared caches may keep a detail page without asking again. Short:
/// an operator's change shows within a minute even through a CDN.
const PAGE_MAX_AGE: &str = "public, max-age=30";

/// Renders and keeps the detail pages.
#[derive(Debug)]
pub struct PageRenderer {
    dir: PathBuf,
    tz: TimeZone,
    /// The content hash each page was last written with (a std mutex: held for one lookup).
    written: Mutex<HashMap<ActivityId, [u8; 32]>>,
}

#[derive(Debug, Serialize)]
struct SkuData {
    sku_id: i64,
    name: String,
    spec: String,
    price: String,
    seckill_price: String,
    price_cents: i64,
    seckill_price_cents: i64,
    stock: u32,
}

impl PageRenderer {
    /// Pages under `pages_dir` (`<data_dir>/pages`), schedules described in zone `tz`.
    pub fn new(pages_dir: impl Into<PathBuf>, tz: TimeZone) -> Self {
        PageRenderer { dir: pages_dir.into(), tz, written: Mutex::new(HashMap::new()) }
    }

    /// The file of an activity's page.
    pub fn path(&self, id: ActivityId) -> PathBuf {
        self.dir.join("seckill").join(format!("{id}.html"))
    }

    /// The page's HTML.
    pub fn html(
        &self,
        activity: &Activity,
        product: &Product,
        brand: Option<&Brand>,
        category: Option<&Category>,
    ) -> Result<String, AppError> {
        let skus: Vec<SkuData> = activity
            .skus
            .iter()
            .map(|s| {
                let sku = product.sku(s.sku_id);
                let price = sku.map_or(s.seckill_price.cents(), |k| k.price.cents());
                SkuData {
                    sku_id: s.sku_id.get(),
                    name: sku.map(|k| k.name.clone()).unwrap_or_default(),
                    spec: sku.map(|k| k.spec.clone()).unwrap_or_default(),
                    price: yuan(price),
                    seckill_price: yuan(s.seckill_price.cents()),
                    price_cents: price,
                    seckill_price_cents: s.seckill_price.cents(),
                    stock: s.stock,
                }
            })
            .collect();
        let r = activity.rules;
        render(
            "seckill.html",
            context! {
                activity => context! {
                    id => activity.id.get(),
                    name => activity.name.clone(),
                    version => activity.version,
                    total_limit => r.total_limit,
                    single_limit => r.single_limit,
                    min_level => r.min_level,
                    reservation_required => r.reservation_required,
                    pay_minutes => r.pay_timeout_secs.div_ceil(60),
                    schedule => self.schedule(activity),
                },
                product => context! {
                    name => product.name.clone(),
                    description => product.description.clone(),
                    image_urls => product.image_urls.clone(),
                    initial => product.name.chars().next().map(String::from).unwrap_or_default(),
                    brand => brand.map(|b| b.name.clone()),
                    category => category.map(|c| c.name.clone()),
                },
                skus => &skus,
                data => context! { activity_id => activity.id.get(), skus => &skus },
            },
        )
    }

    /// "2026-11-11 10:00 — 11-13 22:00 · 每日 10:00–12:00、20:00–22:00"
    fn schedule(&self, a: &Activity) -> String {
        let local = |t: jiff::Timestamp| t.to_zoned(self.tz.clone());
        let from = local(a.starts_at).strftime("%Y-%m-%d %H:%M").to_string();
        let until = local(a.ends_at).strftime("%m-%d %H:%M").to_string();
        let slots: Vec<String> = a.slots.iter().filter(|s| s.enabled).map(|s| s.span.to_string()).collect();
        format!("{from} 至 {until} · 每日 {} 场", slots.join("、"))
    }

    /// Writes the page of `activity` if its content changed: `true` if written.
    pub async fn write(
        &self,
        activity: &Activity,
        product: &Product,
        brand: Option<&Brand>,
        category: Option<&Category>,
    ) -> Result<bool, AppError> {
        let html = self.html(activity, product, brand, category)?;
        let hash: [u8; 32] = Sha256::digest(html.as_bytes()).into();
        let path = self.path(activity.id);
        let unchanged = self.written.lock().unwrap_or_else(|p| p.into_inner()).get(&activity.id) == Some(&hash);
        if unchanged && path.exists() {
            return Ok(false);
        }
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&target, html.as_bytes()))
            .await
            .map_err(|e| AppError::Internal(format!("page writer task: {e}")))?
            .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", path.display())))?;
        self.written.lock().unwrap_or_else(|p| p.into_inner()).insert(activity.id, hash);
        tracing::debug!(activity_id = %activity.id, "detail page written");
        Ok(true)
    }

    /// Renders the page of `activity` from the records (its product, brand, category).
    pub async fn publish(&self, records: &Records, activity: &Activity) -> Result<bool, AppError> {
        let catalog = &records.catalog;
        let product = catalog.product(activity.product_id).await?;
        let (brand, category) = crate::api::activities::brand_and_category(&**catalog, &product).await?;
        self.write(activity, &product, brand.as_ref(), category.as_ref()).await
    }

    /// Forgets what was written, so the next publish rewrites every page (after a product,
    /// brand or category changed).
    pub fn forget(&self) {
        self.written.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// `path` and `path.gz`, each through a temp file and a rename: a reader sees the old page or
/// the new one, never half of one.
fn write_atomically(path: &Path, html: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut gz = GzEncoder::new(Vec::with_capacity(html.len() / 3), Compression::best());
    gz.write_all(html)?;
    let gz = gz.finish()?;
    let gz_path = path.with_extension("html.gz");
    for (target, bytes) in [(gz_path.as_path(), gz.as_slice()), (path, html)] {
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, target)?;
    }
    Ok(())
}

/// `"{mtime secs hex}-{length hex}"`, as nginx computes a static file's ETag.
fn etag(meta: &std::fs::Metadata) -> String {
    let mtime = meta.modified().ok().and_then(|m| m.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    format!("\"{mtime:x}-{:x}\"", meta.len())
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

/// `GET /seckill/{id}`: the page from disk (rendered now if it is missing), gzip when accepted,
/// `304` when the client's copy is current.
pub async fn serve(state: &AppState, id: ActivityId, headers: &HeaderMap) -> Response {
    let Some(pages) = &state.pages else { return not_found_page("页面未启用") };
    let path = pages.path(id);
    if !path.exists() {
        match state.records.catalog.activity(id).await {
            Ok(activity) => {
                if let Err(e) = pages.publish(&state.records, &activity).await {
                    return e.into_response();
                }
            }
            Err(StoreError::NotFound) => return not_found_page("没有这个秒杀活动"),
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    let gzip = accepts_gzip(headers);
    let file = if gzip { path.with_extension("html.gz") } else { path.clone() };
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<(Vec<u8>, String)> {
        let meta = std::fs::metadata(&file)?;
        Ok((std::fs::read(&file)?, etag(&meta)))
    })
    .await;
    let (body, tag) = match read {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return AppError::Internal(format!("cannot read the page of activity {id}: {e}")).into_response(),
        Err(e) => return AppError::Internal(format!("page reader task: {e}")).into_response(),
    };
    let tag_value = HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    let mut common = vec![
        (header::ETAG, tag_value),
        (header::CACHE_CONTROL, HeaderValue::from_static(PAGE_MAX_AGE)),
        (header::VARY, HeaderValue::from_static("Accept-Encoding")),
    ];
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(&tag)) {
        return (StatusCode::NOT_MODIFIED, axum::response::AppendHeaders(common)).into_response();
    }
    common.push((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")));
    if gzip {
        common.push((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
    }
    // Set, not appended: bytes as a body already say `application/octet-stream`.
    let mut response = (StatusCode::OK, body).into_response();
    let set = response.headers_mut();
    for (name, value) in common {
        set.insert(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_written_atomically_with_their_gzip_twin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seckill").join("7.html");
        write_atomically(&path, b"<html>hello</html>").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"<html>hello</html>");
        let gz = std::fs::read(path.with_extension("html.gz")).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut out).unwrap();
        assert_eq!(out, "<html>hello</html>");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
