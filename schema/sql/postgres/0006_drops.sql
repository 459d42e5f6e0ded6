-- elena-run ledger, schema version 6 (PostgreSQL / Supabase): which manifest runs each drop. Two manifests with one
-- drop name would merge their items and decisions; a run refuses a drop name another manifest already runs.

CREATE TABLE drops (
    name          text PRIMARY KEY,
    manifest_path text NOT NULL,
    first_run_at  timestamptz NOT NULL,
    last_run_at   timestamptz NOT NULL
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        ALTER TABLE drops ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON drops FROM anon, authenticated;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (6, '0006_drops', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
