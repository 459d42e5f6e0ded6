-- elena-run ledger, schema version 13 (SQLite): a version of the item rows, and each drop's last comparison of them
-- with a run.
-- Every run brings its drop's item rows in line with its outcome (crop, status, flags, publish fields, fingerprints).
-- In a drop of 100,000 items, reading and comparing those rows was a fifth of a no-op rerun. The database now counts
-- every change to what a run compares; a run whose items project what they projected when the rows were last found in
-- line, while the count is the same, knows the rows are still in line, and reads none of them.

-- `item_rows` changes whenever an item row is added or removed, one of the columns a run compares changes, or an item
-- joins or leaves a drop: whoever wrote it, in the same transaction.
INSERT INTO ledger_versions (name, value) VALUES ('item_rows', 0);

CREATE TRIGGER items_rows_inserted AFTER INSERT ON items
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'item_rows';
END;

CREATE TRIGGER items_rows_updated AFTER UPDATE ON items
WHEN OLD.id IS NOT NEW.id OR OLD.cropped_name IS NOT NEW.cropped_name OR OLD.cropped_digest IS NOT NEW.cropped_digest
     OR OLD.flags IS NOT NEW.flags OR OLD.status IS NOT NEW.status OR OLD.vault IS NOT NEW.vault
     OR OLD.category IS NOT NEW.category OR OLD.tags IS NOT NEW.tags OR OLD.price_cents IS NOT NEW.price_cents
     OR OLD.description IS NOT NEW.description OR OLD.error IS NOT NEW.error OR OLD.fingerprint IS NOT NEW.fingerprint
     OR OLD.crop_fingerprint IS NOT NEW.crop_fingerprint
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'item_rows';
END;

CREATE TRIGGER items_rows_deleted AFTER DELETE ON items
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'item_rows';
END;

CREATE TRIGGER drop_items_rows_inserted AFTER INSERT ON drop_items
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'item_rows';
END;

CREATE TRIGGER drop_items_rows_updated AFTER UPDATE ON drop_items
WHEN OLD.drop_name IS NOT NEW.drop_name OR OLD.item_id IS NOT NEW.item_id
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'item_rows';
END;

CREATE TRIGGER drop_items_rows_deleted AFTER DELETE ON drop_items
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'item_rows';
END;

-- A drop's last comparison: the version of the item rows it was made at, and what it found (JSON: {"<digest of a part
-- of the drop's items and what the run projected onto them>": {"<item id>": [flags]}}, each part found in line, with
-- the flags of its items waiting for review whose rows hold other flags than the run gave them). Replaced by each run
-- that found every row in line and changed none.
CREATE TABLE item_row_checks (
    drop_name    TEXT PRIMARY KEY,
    rows_version INTEGER NOT NULL,
    parts        TEXT NOT NULL
);
