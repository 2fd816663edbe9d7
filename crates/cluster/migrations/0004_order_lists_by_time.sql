-- The operators' order lists, newest first, read in order instead of sorted (the twin of the
-- embedded shape's migration 0005).
--
-- An order list is `ORDER BY created_at DESC, id DESC` one page at a time. With only
-- `(activity_id, status)` to go by, every page of a sale's orders read and sorted all of them.
-- These indexes give the pages in order, so a page reads its own rows and stops: a sale's
-- orders by `(activity_id, created_at, id)`, a sale's orders in one status by
-- `(activity_id, status, created_at, id)` (which also serves everything the old
-- `(activity_id, status)` did), and the whole shop's by `(created_at, id)`.
--
-- Each new entry lands at the end of its range (orders are written in time), so a consumer's
-- batch dirties a page or two of each, not a page per order as an index led by shopper does.
-- Built in the migration's transaction, like 0003: writers wait for it, readers do not.
CREATE INDEX orders_by_activity_time ON orders (activity_id, created_at, id);
CREATE INDEX orders_by_time ON orders (created_at, id);
CREATE INDEX orders_by_activity_status_time ON orders (activity_id, status, created_at, id);
DROP INDEX orders_by_activity_status;
ALTER INDEX orders_by_activity_status_time RENAME TO orders_by_activity_status;
