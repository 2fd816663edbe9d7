//! Paging of long lists.

use serde::Serialize;

/// Most items one page may hold.
pub const MAX_PER_PAGE: u32 = 200;

/// Which page of a list, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    page: u32,
    per_page: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page { page: 1, per_page: 50 }
    }
}

impl Page {
    /// A page, with out-of-range values clamped: `page >= 1`, `1 <= per_page <= 200`.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Self {
        let d = Page::default();
        Page { page: page.unwrap_or(d.page).max(1), per_page: per_page.unwrap_or(d.per_page).clamp(1, MAX_PER_PAGE) }
    }

    /// 1-based page number.
    pub fn number(self) -> u32 {
        self.page
    }

    /// Items per page.
    pub fn per_page(self) -> u32 {
        self.per_page
    }

    /// Items to skip.
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

/// One page of a list and the size of the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_clamped_into_range() {
        let p = Page::new(Some(0), Some(10_000));
        assert_eq!((p.number(), p.per_page(), p.offset()), (1, MAX_PER_PAGE, 0));
        let p = Page::new(Some(3), Some(20));
        assert_eq!(p.offset(), 40);
        assert_eq!(Page::new(None, Some(0)).per_page(), 1);
    }
}
