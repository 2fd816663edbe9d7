-- no-transaction
-- The same rules for orders, written so that SQLite checks them without building tables.
--
-- SQLite evaluates `x IN ('a', 'b', 'c')` with three or more constants by building an
-- in-memory index of the list — a fresh B-tree, pager and page cache — every time the
-- statement runs. Three CHECK constraints of `orders` had such lists, so every order written
-- (and every status move) built two or three of them: about 4 µs per row, a sixth of the group
-- commit's cost per order under a flood. Written as comparisons joined by OR/AND, the same
-- constraints are checked in place. Each new CHECK accepts exactly the rows the old one did,
-- NULLs included (three-valued logic is the same for `IN` and a chain of `=`/`OR`).
--
-- SQLite cannot alter a constraint, so the table is rebuilt the documented way (ALTER TABLE,
-- "Making Other Kinds Of Table Schema Changes"): foreign keys off outside the transaction,
-- then in one transaction a new table, the rows copied with their ids, the old table dropped,
-- the new one renamed, its indexes made again. Payments and stock returns keep referring to
-- `orders` by name, so they point at the new table; ids keep their values and AUTOINCREMENT
-- its high-water mark. Existing files take a few seconds per million orders, once.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE orders_rebuilt (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket            TEXT    NOT NULL UNIQUE,
    activity_id       INTEGER NOT NULL REFERENCES activities (id),
    sku_id            INTEGER NOT NULL REFERENCES skus (id),
    user_id           INTEGER NOT NULL REFERENCES users (id),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents  INTEGER NOT NULL CHECK (unit_price_cents > 0),
    amount_cents      INTEGER NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'pending_payment'
                      CHECK (status = 'pending_payment' OR status = 'paid' OR status = 'shipped'
                             OR status = 'completed' OR status = 'cancelled'),
    pay_type          TEXT    NOT NULL DEFAULT 'online' CHECK (pay_type = 'online'),
    address_contact   TEXT    NOT NULL,
    address_phone     TEXT    NOT NULL,
    address_text      TEXT    NOT NULL,
    idempotency_key   TEXT    CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
    created_at        INTEGER NOT NULL,
    pay_deadline      INTEGER NOT NULL,
    paid_at           INTEGER,
    shipped_at        INTEGER,
    completed_at      INTEGER,
    closed_at         INTEGER,
    cancel_reason     TEXT    CHECK (cancel_reason IS NULL OR cancel_reason = 'timeout'
                                     OR cancel_reason = 'user' OR cancel_reason = 'admin'),
    carrier           TEXT,
    tracking_no       TEXT,
    updated_at        INTEGER NOT NULL,
    CHECK (amount_cents = unit_price_cents * quantity),
    CHECK (pay_deadline > created_at),
    CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
    CHECK (status <> 'cancelled' OR closed_at IS NOT NULL),
    CHECK ((status <> 'paid' AND status <> 'shipped' AND status <> 'completed') OR paid_at IS NOT NULL),
    CHECK ((status <> 'shipped' AND status <> 'completed') OR shipped_at IS NOT NULL),
    CHECK (status <> 'completed' OR completed_at IS NOT NULL)
);

INSERT INTO orders_rebuilt (
    id, ticket, activity_id, sku_id, user_id, quantity, unit_price_cents, amount_cents, status,
    pay_type, address_contact, address_phone, address_text, idempotency_key, created_at,
    pay_deadline, paid_at, shipped_at, completed_at, closed_at, cancel_reason, carrier,
    tracking_no, updated_at)
SELECT
    id, ticket, activity_id, sku_id, user_id, quantity, unit_price_cents, amount_cents, status,
    pay_type, address_contact, address_phone, address_text, idempotency_key, created_at,
    pay_deadline, paid_at, shipped_at, completed_at, closed_at, cancel_reason, carrier,
    tracking_no, updated_at
FROM orders ORDER BY id;

-- AUTOINCREMENT never hands out an id it handed out before: carry the old high-water mark
-- over (the copy alone would only know the largest id still present).
DELETE FROM sqlite_sequence WHERE name = 'orders_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'orders_rebuilt', max(seq) FROM (
    SELECT seq FROM sqlite_sequence WHERE name = 'orders'
    UNION ALL SELECT coalesce(max(id), 0) FROM orders_rebuilt
);

DROP TABLE orders;
ALTER TABLE orders_rebuilt RENAME TO orders;

-- The indexes `orders` had after 0003, unchanged.
CREATE UNIQUE INDEX orders_by_user_activity_key ON orders (user_id, activity_id, idempotency_key);
CREATE INDEX orders_by_activity_status ON orders (activity_id, status);
CREATE INDEX orders_unpaid_by_deadline ON orders (pay_deadline) WHERE status = 'pending_payment';

COMMIT;
PRAGMA foreign_keys = ON;
