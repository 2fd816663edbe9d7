-- seckill records: the whole schema of DESIGN.md "Data", for PostgreSQL (the cluster shape).
--
-- The same tables, columns and rules as the SQLite schema of the embedded shape
-- (crates/embedded/migrations/0001_schema.sql), in PostgreSQL's types:
--   * times are BIGINT unix milliseconds, UTC — exactly what the SQLite schema stores, so both
--     backends round-trip the same instants and share one reading of every row;
--   * money is BIGINT cents (分), never floating point;
--   * booleans are BOOLEAN; every integer column is BIGINT (the driver decodes one width);
--   * ids are identities (`GENERATED ALWAYS AS IDENTITY`): a sequence never hands an id out
--     twice, so an id that once named a record never names another one;
--   * soft deletes keep the row (`deleted_at`, or a `deleted` flag) wherever history must still
--     show the record.
-- Rules that a CHECK or a UNIQUE index can hold are held here; the cross-record rules (no
-- overlapping enabled slots, one enabled activity per product at a time) are checked by the
-- store inside transactions serialised by an advisory lock (see src/records/mod.rs).

------------------------------------------------------------------------------------------
-- Accounts
------------------------------------------------------------------------------------------

-- Operators of the console (the seed documents' admin table).
-- `username_key` is the lower-cased name: usernames are unique regardless of case.
CREATE TABLE admins (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    username_key  TEXT   NOT NULL CONSTRAINT admins_username_key UNIQUE,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Shoppers (the seed documents' user/member table). `level` is the membership level an
-- activity's `min_level` is compared with.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    username_key  TEXT   NOT NULL CONSTRAINT users_username_key UNIQUE,
    password_hash TEXT   NOT NULL,
    level         BIGINT NOT NULL CHECK (level BETWEEN 0 AND 100),
    phone         TEXT,
    email         TEXT,
    nickname      TEXT,
    created_at    BIGINT NOT NULL
);

-- Shoppers' delivery addresses (the seed documents' address table).
-- Soft delete (`deleted`): a deleted address vanishes from the user's list; orders keep their
-- own snapshot of it anyway. At most one default per user (partial unique index below), and
-- never a deleted one.
CREATE TABLE addresses (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id),
    contact     TEXT    NOT NULL,
    phone       TEXT    NOT NULL,
    province    TEXT    NOT NULL,
    city        TEXT    NOT NULL,
    district    TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    deleted     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL,
    CHECK (NOT deleted OR NOT is_default)
);
CREATE INDEX addresses_of_user ON addresses (user_id) WHERE NOT deleted;
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default;

------------------------------------------------------------------------------------------
-- Catalog
------------------------------------------------------------------------------------------

-- Brands (seed: `tb_brand`). `letter` is the initial for A–Z lists.
CREATE TABLE brands (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT   NOT NULL CHECK (length(name) > 0),
    image_url  TEXT,
    letter     TEXT   CHECK (letter IS NULL OR length(letter) = 1),
    sort       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Product categories, a tree through `parent_id` (seed: `tb_category`). The store refuses a
-- parent that would make a cycle.
CREATE TABLE categories (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT   NOT NULL CHECK (length(name) > 0),
    parent_id  BIGINT REFERENCES categories (id),
    sort       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX categories_by_parent ON categories (parent_id);

-- Products, i.e. SPUs (seed: `tb_spu`). `image_urls` keeps the operator's order.
CREATE TABLE products (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT   NOT NULL CHECK (length(name) > 0),
    brand_id    BIGINT REFERENCES brands (id),
    category_id BIGINT REFERENCES categories (id),
    description TEXT   NOT NULL DEFAULT '',
    image_urls  TEXT[] NOT NULL DEFAULT '{}' CHECK (array_position(image_urls, NULL) IS NULL),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX products_by_brand ON products (brand_id);
CREATE INDEX products_by_category ON products (category_id);

-- SKUs, the buyable variants of a product (seed: `tb_sku`).
-- `price_cents` is the list price, `stock` the ordinary (non-seckill) stock. `seckill` is the
-- tag set while an activity on the SKU is preheated or live (the product page then shows the
-- seckill price). `position` keeps the operator's order. Soft delete: a SKU removed from its
-- product keeps its row so orders and finished activities still name it.
CREATE TABLE skus (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  BIGINT  NOT NULL REFERENCES products (id),
    name        TEXT    NOT NULL CHECK (length(name) > 0),
    spec        TEXT    NOT NULL DEFAULT '',
    price_cents BIGINT  NOT NULL CHECK (price_cents > 0),
    stock       BIGINT  NOT NULL CHECK (stock >= 0),
    seckill     BOOLEAN NOT NULL DEFAULT FALSE,
    position    BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX skus_of_product ON skus (product_id, position) WHERE deleted_at IS NULL;

------------------------------------------------------------------------------------------
-- Seckill: time slots and activities
------------------------------------------------------------------------------------------

-- Daily time slots, 场次 (seed: `tb_seckill_time`): local wall-clock minutes after midnight in
-- the shop's zone, half-open `[start, end)`, never across midnight (`end_minute = 1440` ends at
-- midnight). Enabled slots never overlap (checked by the store). Soft delete: a deleted slot
-- vanishes from lists, overlap checks and new activities, but the finished activities that
-- used it keep showing it.
CREATE TABLE time_slots (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL CHECK (length(name) > 0),
    start_minute BIGINT  NOT NULL CHECK (start_minute >= 0),
    end_minute   BIGINT  NOT NULL CHECK (end_minute <= 1440),
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    sort         BIGINT  NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    deleted_at   BIGINT,
    CHECK (end_minute > start_minute)
);

-- Seckill activities, 秒杀活动 (seed: `tb_activity`, `promotion_seckill_activity`): one product
-- sold at seckill prices during its slots every day of `[starts_at, ends_at)`, with its purchase
-- rules (限购). `version` moves on every change of the activity or of a slot it uses; the
-- in-memory snapshot and the static page are rebuilt when it does.
CREATE TABLE activities (
    id                   BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 TEXT    NOT NULL CHECK (length(name) > 0),
    product_id           BIGINT  NOT NULL REFERENCES products (id),
    starts_at            BIGINT  NOT NULL,
    ends_at              BIGINT  NOT NULL,
    total_limit          BIGINT  NOT NULL,
    single_limit         BIGINT  NOT NULL CHECK (single_limit >= 1),
    min_level            BIGINT  NOT NULL DEFAULT 0 CHECK (min_level BETWEEN 0 AND 100),
    reservation_required BOOLEAN NOT NULL DEFAULT FALSE,
    pay_timeout_secs     BIGINT  NOT NULL CHECK (pay_timeout_secs > 0),
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    version              BIGINT  NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (total_limit >= single_limit)
);
CREATE INDEX activities_by_start ON activities (starts_at, id);
CREATE INDEX activities_by_product ON activities (product_id, ends_at);

-- The slots an activity sells in, in the operator's order (seed: the activity ↔
-- `tb_seckill_time` relation, `promotion_seckill_*`).
CREATE TABLE activity_time_slots (
    activity_id BIGINT NOT NULL REFERENCES activities (id),
    slot_id     BIGINT NOT NULL REFERENCES time_slots (id),
    position    BIGINT NOT NULL,
    PRIMARY KEY (activity_id, slot_id)
);
CREATE INDEX activity_time_slots_by_slot ON activity_time_slots (slot_id);

-- The SKUs on sale in an activity (seed: `promotion_seckill_sku`, the seckill columns of
-- `tb_sku`): seckill price, units put on sale, and `sold`, the units in non-cancelled orders.
-- `sold` moves in the same transaction as the orders, and this CHECK is the last line against
-- overselling: never one unit more than `stock`.
CREATE TABLE activity_skus (
    activity_id         BIGINT NOT NULL REFERENCES activities (id),
    sku_id              BIGINT NOT NULL REFERENCES skus (id),
    position            BIGINT NOT NULL,
    seckill_price_cents BIGINT NOT NULL CHECK (seckill_price_cents > 0),
    stock               BIGINT NOT NULL CHECK (stock > 0),
    sold                BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT activity_skus_sold_within_stock CHECK (sold >= 0 AND sold <= stock),
    PRIMARY KEY (activity_id, sku_id)
);
CREATE INDEX activity_skus_by_sku ON activity_skus (sku_id);

-- Reservations, 预约 (seed: `promotion_seckill_*`): who may buy in an activity that requires
-- one. One per user and activity.
CREATE TABLE reservations (
    activity_id BIGINT NOT NULL REFERENCES activities (id),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (activity_id, user_id)
);

------------------------------------------------------------------------------------------
-- Orders, payments and the stock-return outbox
------------------------------------------------------------------------------------------

-- Orders (seed: `tb_order`, `promotion_seckill_order`).
-- `ticket` names the purchase attempt that won the stock (a UUIDv7): unique, so a redelivered
-- order message never makes a second order. One idempotency key of a user never makes two
-- orders in an activity (keys are scoped like the request they guard,
-- `POST /api/activities/{id}/orders`). The address is a snapshot: later edits of the user's
-- addresses never move an order. Every status move is a conditional update on the current
-- status (one winner per race).
CREATE TABLE orders (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket            UUID   NOT NULL CONSTRAINT orders_ticket_key UNIQUE,
    activity_id       BIGINT NOT NULL REFERENCES activities (id),
    sku_id            BIGINT NOT NULL REFERENCES skus (id),
    user_id           BIGINT NOT NULL REFERENCES users (id),
    quantity          BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_cents  BIGINT NOT NULL CHECK (unit_price_cents > 0),
    amount_cents      BIGINT NOT NULL,
    status            TEXT   NOT NULL DEFAULT 'pending_payment'
                      CHECK (status IN ('pending_payment', 'paid', 'shipped', 'completed', 'cancelled')),
    pay_type          TEXT   NOT NULL DEFAULT 'online' CHECK (pay_type IN ('online')),
    address_contact   TEXT   NOT NULL,
    address_phone     TEXT   NOT NULL,
    address_text      TEXT   NOT NULL,
    idempotency_key   TEXT   CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
    created_at        BIGINT NOT NULL,
    pay_deadline      BIGINT NOT NULL,
    paid_at           BIGINT,
    shipped_at        BIGINT,
    completed_at      BIGINT,
    closed_at         BIGINT,
    cancel_reason     TEXT   CHECK (cancel_reason IS NULL OR cancel_reason IN ('timeout', 'user', 'admin')),
    carrier           TEXT,
    tracking_no       TEXT,
    updated_at        BIGINT NOT NULL,
    CHECK (amount_cents = unit_price_cents * quantity),
    CHECK (pay_deadline > created_at),
    CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
    CHECK (status <> 'cancelled' OR closed_at IS NOT NULL),
    CHECK (status NOT IN ('paid', 'shipped', 'completed') OR paid_at IS NOT NULL),
    CHECK (status NOT IN ('shipped', 'completed') OR shipped_at IS NOT NULL),
    CHECK (status <> 'completed' OR completed_at IS NOT NULL)
);
CREATE UNIQUE INDEX orders_idempotency ON orders (activity_id, user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- A user's orders, newest first.
CREATE INDEX orders_of_user ON orders (user_id, created_at DESC, id DESC);
-- Live figures and admin lists per activity; a user's bought quantity at rebuild.
CREATE INDEX orders_by_activity_status ON orders (activity_id, status);
CREATE INDEX orders_by_activity_user ON orders (activity_id, user_id);
-- The timeout sweep: unpaid orders by deadline.
CREATE INDEX orders_unpaid_by_deadline ON orders (pay_deadline) WHERE status = 'pending_payment';

-- Payment attempts for orders (the seed documents' payment log). A notification for an
-- order cancelled meanwhile is recorded as `refund_needed`, never resurrects the order.
CREATE TABLE payments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     BIGINT NOT NULL REFERENCES orders (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    status       TEXT   NOT NULL DEFAULT 'created'
                 CHECK (status IN ('created', 'succeeded', 'failed', 'refund_needed', 'refunded')),
    provider     TEXT   NOT NULL,
    provider_ref TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    notified_at  BIGINT
);
CREATE INDEX payments_of_order ON payments (order_id);
CREATE UNIQUE INDEX payments_by_provider_ref ON payments (provider, provider_ref) WHERE provider_ref IS NOT NULL;

-- The stock-return outbox (seed: the `promotion_seckill_*` stock rollback): written in the
-- same transaction that cancels an order, applied to the hot state afterwards. One return per
-- order (UNIQUE), so a cancelled order gives its stock back exactly once; `applied_at` stays
-- NULL until the hot state has taken it.
CREATE TABLE stock_returns (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    activity_id BIGINT NOT NULL REFERENCES activities (id),
    sku_id      BIGINT NOT NULL REFERENCES skus (id),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    created_at  BIGINT NOT NULL,
    applied_at  BIGINT
);
CREATE INDEX stock_returns_pending ON stock_returns (id) WHERE applied_at IS NULL;
