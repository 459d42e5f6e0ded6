-- elena-run ledger, schema version 10 (PostgreSQL / Supabase): the items approved or published, found without
-- reading the others.
-- Every run of any drop reads their fingerprints (a picture waiting for review that looks like one of them is
-- flagged near_duplicate); in a library of 100,000 items mostly in review, a scan of the whole table cost a
-- 500-item drop more than the rest of its no-op rerun.

CREATE INDEX items_decided ON items (status) WHERE status IN ('approved', 'published');

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (10, '0010_decided_items', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
