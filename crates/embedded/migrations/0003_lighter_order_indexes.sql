-- Fewer index pages in random places per order written: under a flood the group commit's cost
-- is the pages it writes to the WAL, and every index keyed by user scatters one page per order.
--
-- Three indexes led by user and activity become one: `(user_id, activity_id,
-- idempotency_key)`, unique. It keeps the idempotency rule — SQLite treats NULL keys as
-- distinct, so one key of a user in an activity makes one order and orders without a key
-- never collide — and serves a user's orders (by its first column; a user has few, sorted
-- after the lookup) and a user's orders in an activity.
CREATE UNIQUE INDEX orders_by_user_activity_key ON orders (user_id, activity_id, idempotency_key);
DROP INDEX orders_idempotency;
DROP INDEX orders_by_activity_user;
DROP INDEX orders_of_user;
