-- Shoppers' search (`GET /api/search`): a full-text index over each product's name and the
-- names of its brand and category.
--
-- FTS5 with the trigram tokenizer: every run of three characters is a token, so a query term of
-- three or more characters matches as a substring anywhere — Chinese has no spaces between
-- words ("手机" inside "华为Mate70 5G手机"), and Latin names match inside words too ("mate" in
-- "Mate70"). `case_sensitive 0` folds letter case (Unicode-aware). Terms of one or two
-- characters are too short for trigrams; the store matches those with LIKE over the same
-- columns (see `records/search.rs`).
--
-- One row per product, `rowid` = `products.id`. The table keeps its own copy of the text, and
-- the triggers below keep that copy in step in the same transaction as every write of
-- products, brands and categories, whoever makes it: a rename is searchable at once and a
-- rolled-back change leaves no trace. The cluster shape's PostgreSQL schema is to keep the same
-- three columns the same way (trigger-maintained), indexed for substrings (pg_trgm, or a
-- tsvector where words suffice): the port promises substring matches, not one engine.

CREATE VIRTUAL TABLE product_search USING fts5(
    name,
    brand,
    category,
    tokenize = 'trigram case_sensitive 0'
);

CREATE TRIGGER product_search_product_added AFTER INSERT ON products
BEGIN
    INSERT INTO product_search (rowid, name, brand, category)
    VALUES (new.id, new.name,
            (SELECT name FROM brands WHERE id = new.brand_id),
            (SELECT name FROM categories WHERE id = new.category_id));
END;

CREATE TRIGGER product_search_product_changed AFTER UPDATE OF id, name, brand_id, category_id ON products
BEGIN
    DELETE FROM product_search WHERE rowid = old.id;
    INSERT INTO product_search (rowid, name, brand, category)
    VALUES (new.id, new.name,
            (SELECT name FROM brands WHERE id = new.brand_id),
            (SELECT name FROM categories WHERE id = new.category_id));
END;

CREATE TRIGGER product_search_product_removed AFTER DELETE ON products
BEGIN
    DELETE FROM product_search WHERE rowid = old.id;
END;

-- Brands and categories referenced by a product cannot be deleted (foreign keys), so a rename
-- is the only change of theirs the index has to follow.
CREATE TRIGGER product_search_brand_renamed AFTER UPDATE OF name ON brands
BEGIN
    UPDATE product_search SET brand = new.name
    WHERE rowid IN (SELECT id FROM products WHERE brand_id = new.id);
END;

CREATE TRIGGER product_search_category_renamed AFTER UPDATE OF name ON categories
BEGIN
    UPDATE product_search SET category = new.name
    WHERE rowid IN (SELECT id FROM products WHERE category_id = new.id);
END;

-- The products stored before this migration.
INSERT INTO product_search (rowid, name, brand, category)
SELECT p.id, p.name, b.name, c.name
FROM products p
LEFT JOIN brands b ON b.id = p.brand_id
LEFT JOIN categories c ON c.id = p.category_id;
