-- Fewer index pages in random places per order written (the twin of the embedded shape's
-- migration 0003). A stream consumer's batch is one transaction, and its cost grows with every
-- index keyed by user: each order lands on a random leaf of each, and after a checkpoint the
-- first change of every such page writes the whole page to the WAL.
--
-- Three indexes led by user and activity become one: `(user_id, activity_id,
-- idempotency_key)`, unique. It keeps the idempotency rule — PostgreSQL treats NULLs as
-- distinct in a unique index, so one key of a user in an activity makes one order and orders
-- without a key never collide, as the partial index did — and serves a user's orders (by its
-- first column; a user has few, sorted after the lookup) and a user's orders in an activity.
-- Built before the old ones go, in the migration's transaction: writers wait for it, readers
-- do not, and nothing is ever left without the rule.
CREATE UNIQUE INDEX orders_by_user_activity_key ON orders (user_id, activity_id, idempotency_key);
DROP INDEX orders_idempotency;
DROP INDEX orders_by_activity_user;
DROP INDEX orders_of_user;
