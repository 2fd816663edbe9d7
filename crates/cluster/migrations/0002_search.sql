-- Shoppers' search (`GET /api/search`): a trigram index over each product's name and the
-- names of its brand and category — the PostgreSQL twin of the SQLite FTS5 trigram table.
--
-- pg_trgm (a trusted extension since PostgreSQL 13: the database's owner may create it) indexes
-- every run of three characters, so `ILIKE '%term%'` finds a term as a substring anywhere —
-- Chinese has no spaces between words ("手机" inside "华为Mate70 5G手机"), and Latin names match
-- inside words ("mate" in "Mate70"). ILIKE folds letter case. Terms shorter than a trigram
-- still match correctly (the index answers "every row" for them and the recheck decides).
--
-- One row per product, kept in step by the triggers below in the same transaction as every
-- write of products, brands and categories, whoever makes it: a rename is searchable at once
-- and a rolled-back change leaves no trace. `document` joins the three names with a newline:
-- a search term never holds whitespace (the store splits queries at it), so a term that
-- matches `document` matches inside one of the names, never across two — one index and one
-- condition per term instead of three.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE product_search (
    product_id BIGINT PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    brand      TEXT,
    category   TEXT,
    document   TEXT GENERATED ALWAYS AS
               (name || E'\n' || coalesce(brand, '') || E'\n' || coalesce(category, '')) STORED
);
CREATE INDEX product_search_trigrams ON product_search USING gin (document gin_trgm_ops);

-- A product's row, rebuilt from the product and the current names of its brand and category.
CREATE FUNCTION product_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO product_search (product_id, name, brand, category)
    VALUES (NEW.id, NEW.name,
            (SELECT b.name FROM brands b WHERE b.id = NEW.brand_id),
            (SELECT c.name FROM categories c WHERE c.id = NEW.category_id))
    ON CONFLICT (product_id) DO UPDATE
        SET name = EXCLUDED.name, brand = EXCLUDED.brand, category = EXCLUDED.category;
    RETURN NULL;
END;
$$;

CREATE TRIGGER product_search_product_added AFTER INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION product_search_refresh();
CREATE TRIGGER product_search_product_changed AFTER UPDATE OF name, brand_id, category_id ON products
    FOR EACH ROW EXECUTE FUNCTION product_search_refresh();
-- A deleted product's row goes with it (ON DELETE CASCADE).

-- Brands and categories referenced by a product cannot be deleted (foreign keys), so a rename
-- is the only change of theirs the index has to follow.
CREATE FUNCTION product_search_brand_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE product_search SET brand = NEW.name
    WHERE product_id IN (SELECT p.id FROM products p WHERE p.brand_id = NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER product_search_brand_renamed AFTER UPDATE OF name ON brands
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION product_search_brand_renamed();

CREATE FUNCTION product_search_category_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE product_search SET category = NEW.name
    WHERE product_id IN (SELECT p.id FROM products p WHERE p.category_id = NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER product_search_category_renamed AFTER UPDATE OF name ON categories
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION product_search_category_renamed();

-- The products stored before this migration.
INSERT INTO product_search (product_id, name, brand, category)
SELECT p.id, p.name, b.name, c.name
FROM products p
LEFT JOIN brands b ON b.id = p.brand_id
LEFT JOIN categories c ON c.id = p.category_id;
