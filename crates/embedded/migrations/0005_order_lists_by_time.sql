-- The operators' order lists, newest first, read in order instead of sorted.
--
-- An order list is `ORDER BY created_at DESC, id DESC` one page at a time. With only
-- `(activity_id, status)` to go by, SQLite read every matching order and sorted them all in a
-- temporary B-tree for every page: at 300k orders one page of a sale's orders took ~0.9 s.
-- These indexes give the pages in order, so a page reads its own rows and stops: a sale's
-- orders by `(activity_id, created_at)`, a sale's orders in one status by
-- `(activity_id, status, created_at)` (which also serves everything the old
-- `(activity_id, status)` did), and the whole shop's by `(created_at)`. The rowid ends every
-- index entry, so `id DESC` comes with it.
--
-- Each new entry lands at the end of its range (orders are written in time), so under a flood
-- a batch dirties a page or two of each, not a page per order as an index led by shopper does.
CREATE INDEX orders_by_activity_time ON orders (activity_id, created_at);
CREATE INDEX orders_by_time ON orders (created_at);
DROP INDEX orders_by_activity_status;
CREATE INDEX orders_by_activity_status ON orders (activity_id, status, created_at);
