-- elena-run ledger, schema version 15 (PostgreSQL / Supabase): a version of the run cache, and a compact copy of the
-- steps each part of a drop's items last read from it.
-- A run reads the successful stage runs of its items a part at a time (1,500 items, about 3,000 rows). In a drop of
-- 100,000 items, finding and decoding those rows took a quarter of a no-op rerun's processor time. The database now
-- counts every change to the stage runs; a part read while the count is what it was when the part's steps were last
-- read from the rows takes them from one compact copy (`SQLRunStore.RunCachePart`), and reads none of the rows.

-- `stage_runs` changes whenever a stage run is recorded, changed or removed: whoever wrote it, in the same
-- transaction, and once per transaction however many rows it writes (as migration 13's counters: a first run records
-- 300,000 steps). A later migration that rewrites the table must count too.
INSERT INTO ledger_versions (name, value) VALUES ('stage_runs', 0);

CREATE FUNCTION elena_stage_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('elena.stage_runs_counted', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('elena.stage_runs_counted', 'yes', true);
        UPDATE ledger_versions SET value = value + 1 WHERE name = 'stage_runs';
    END IF;
    RETURN NULL;
END
$$;

-- Deferred, as migration 13's: the count is taken as the transaction commits.
CREATE CONSTRAINT TRIGGER stage_runs_inserted AFTER INSERT ON stage_runs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION elena_stage_runs_changed();

CREATE CONSTRAINT TRIGGER stage_runs_updated AFTER UPDATE ON stage_runs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION elena_stage_runs_changed();

CREATE CONSTRAINT TRIGGER stage_runs_deleted AFTER DELETE ON stage_runs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION elena_stage_runs_changed();

-- A part's steps as last read: the digest of the part's item ids (in the order asked for), the version of the stage
-- runs they were read at, and the steps in the store's compact form. Derived data: a copy whose version is not the
-- current one is never read, and is deleted by the next part written.
CREATE TABLE run_cache_parts (
    part         text PRIMARY KEY,
    runs_version bigint NOT NULL,
    steps        bytea NOT NULL
);

-- On Supabase, the API roles get nothing of this table (as for every other table of the ledger).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        ALTER TABLE run_cache_parts ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON run_cache_parts FROM anon, authenticated;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (15, '0015_run_cache_parts', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
