-- elena-run ledger, schema version 2 (SQLite): human cut-line overrides.
-- `elena-run recrop <item> --line <fraction>` records one; every later run crops the item there.

CREATE TABLE crop_overrides (
    item_id       TEXT PRIMARY KEY REFERENCES items (id),
    line_fraction REAL NOT NULL CHECK (line_fraction >= 0 AND line_fraction < 1),
    set_by        TEXT NOT NULL,
    set_at        TEXT NOT NULL,
    note          TEXT
);
