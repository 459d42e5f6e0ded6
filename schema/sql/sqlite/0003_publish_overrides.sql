-- elena-run ledger, schema version 3 (SQLite): per-item vault, price and tags set in review.
-- They win over the manifest when the item is published.

CREATE TABLE publish_overrides (
    item_id     TEXT PRIMARY KEY REFERENCES items (id),
    vault       TEXT,
    price_cents INTEGER CHECK (price_cents IS NULL OR price_cents >= 300),
    tags        TEXT,
    set_by      TEXT NOT NULL,
    set_at      TEXT NOT NULL
);
