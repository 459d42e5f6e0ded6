-- elena-run ledger, schema version 13 (PostgreSQL / Supabase): a version of the item rows, and each drop's last
-- comparison of them with a run.
-- Every run brings its drop's item rows in line with its outcome (crop, status, flags, publish fields, fingerprints).
-- In a drop of 100,000 items, reading and comparing those rows was a fifth of a no-op rerun. The database now counts
-- every change to what a run compares; a run whose items project what they projected when the rows were last found in
-- line, while the count is the same, knows the rows are still in line, and reads none of them.

-- `item_rows` changes whenever an item row is added or removed, one of the columns a run compares changes, or an item
-- joins or leaves a drop: whoever wrote it, in the same transaction.
INSERT INTO ledger_versions (name, value) VALUES ('item_rows', 0);

-- A transaction changes a counter once, however many rows it changes: every change of the counter's row within one
-- transaction is a version of that row the next change walks past, so counting each of 20,000 changed rows took 24 s
-- at commit (the same transaction's changes counted once: 0.09 s). The first trigger to fire in a transaction marks
-- it (a setting local to the transaction) and counts; the others see the mark. Migration 12's count of the decided
-- pictures is counted the same way from now on (approving 20,000 pictures at once took 7.5 s at commit).
CREATE FUNCTION elena_item_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('elena.item_rows_counted', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('elena.item_rows_counted', 'yes', true);
        UPDATE ledger_versions SET value = value + 1 WHERE name = 'item_rows';
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION elena_decided_pictures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('elena.decided_pictures_counted', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('elena.decided_pictures_counted', 'yes', true);
        UPDATE ledger_versions SET value = value + 1 WHERE name = 'decided_pictures';
    END IF;
    RETURN NULL;
END
$$;

-- Constraint triggers, deferred, as those of migration 12: the count is taken as the transaction commits, after every
-- row it locks.
CREATE CONSTRAINT TRIGGER items_rows_inserted AFTER INSERT ON items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION elena_item_rows_changed();

CREATE CONSTRAINT TRIGGER items_rows_updated AFTER UPDATE ON items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.cropped_name IS DISTINCT FROM NEW.cropped_name
      OR OLD.cropped_digest IS DISTINCT FROM NEW.cropped_digest OR OLD.flags IS DISTINCT FROM NEW.flags
      OR OLD.status IS DISTINCT FROM NEW.status OR OLD.vault IS DISTINCT FROM NEW.vault
      OR OLD.category IS DISTINCT FROM NEW.category OR OLD.tags IS DISTINCT FROM NEW.tags
      OR OLD.price_cents IS DISTINCT FROM NEW.price_cents OR OLD.description IS DISTINCT FROM NEW.description
      OR OLD.error IS DISTINCT FROM NEW.error OR OLD.fingerprint IS DISTINCT FROM NEW.fingerprint
      OR OLD.crop_fingerprint IS DISTINCT FROM NEW.crop_fingerprint)
EXECUTE FUNCTION elena_item_rows_changed();

CREATE CONSTRAINT TRIGGER items_rows_deleted AFTER DELETE ON items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION elena_item_rows_changed();

CREATE CONSTRAINT TRIGGER drop_items_rows_inserted AFTER INSERT ON drop_items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION elena_item_rows_changed();

CREATE CONSTRAINT TRIGGER drop_items_rows_updated AFTER UPDATE ON drop_items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.drop_name IS DISTINCT FROM NEW.drop_name OR OLD.item_id IS DISTINCT FROM NEW.item_id)
EXECUTE FUNCTION elena_item_rows_changed();

CREATE CONSTRAINT TRIGGER drop_items_rows_deleted AFTER DELETE ON drop_items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION elena_item_rows_changed();

-- A drop's last comparison: the version of the item rows it was made at, and what it found (JSON: {"<digest of a part
-- of the drop's items and what the run projected onto them>": {"<item id>": [flags]}}, each part found in line, with
-- the flags of its items waiting for review whose rows hold other flags than the run gave them). Replaced by each run
-- that found every row in line and changed none.
CREATE TABLE item_row_checks (
    drop_name    text PRIMARY KEY,
    rows_version bigint NOT NULL,
    parts        jsonb NOT NULL
);

-- On Supabase, the API roles get nothing of this table (as for every other table of the ledger).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        ALTER TABLE item_row_checks ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON item_row_checks FROM anon, authenticated;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (13, '0013_item_row_checks', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
