-- elena-run ledger, schema version 9 (PostgreSQL / Supabase): each item's perceptual fingerprints
-- (`<pHash, 16 hex digits>-<chroma grid, 64 hex digits>`): of its picture as generated, and of its crop. Two items
-- close in both show the same picture; review groups them, the guards refuse to send a fan the same picture twice,
-- `find` names a leaked copy.
-- Filled by the fingerprint step of every run (an item made before this version gets them on its drop's next run).

ALTER TABLE items ADD COLUMN fingerprint text;
ALTER TABLE items ADD COLUMN crop_fingerprint text;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (9, '0009_fingerprints', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
