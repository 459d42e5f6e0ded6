-- elena-run ledger, schema version 11 (PostgreSQL / Supabase): each fingerprint's structure (its pHash, the 16
-- hex digits before the dash) as a 64-bit integer, worked out by the database from the text it already keeps.
-- Every run of a drop whose items wait for review looks for near-duplicates among the library's approved and
-- published pictures: it reads these two integers of each (and only the few whose structure is close, whole). Reading
-- every decided picture's texts cost a 500-item drop 0.28 s of its 0.47 s no-op rerun in a library of 100,000.
-- Stored, and kept by the database whenever a fingerprint changes. NULL when there is no fingerprint, or its
-- structure is not 16 lowercase hex digits (the only form elena-run reads as one).

ALTER TABLE items ADD COLUMN structure bigint GENERATED ALWAYS AS (
    CASE WHEN fingerprint ~ '^[0-9a-f]{16}-' THEN ('x' || substr(fingerprint, 1, 16))::bit(64)::bigint END) STORED;
ALTER TABLE items ADD COLUMN crop_structure bigint GENERATED ALWAYS AS (
    CASE WHEN crop_fingerprint ~ '^[0-9a-f]{16}-' THEN ('x' || substr(crop_fingerprint, 1, 16))::bit(64)::bigint END) STORED;

-- The decided items' structures and ids, read from the index alone. It takes the place of items_decided (migration
-- 10), whose rows it holds.
CREATE INDEX items_decided_structures ON items (status, structure, crop_structure, id)
    WHERE status IN ('approved', 'published') AND fingerprint IS NOT NULL;
DROP INDEX items_decided;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (11, '0011_picture_structures', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
