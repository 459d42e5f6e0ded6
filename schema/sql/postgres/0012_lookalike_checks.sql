-- elena-run ledger, schema version 12 (PostgreSQL / Supabase): a version of the library's decided pictures, and
-- each drop's last look for lookalikes among them.
-- A run of a drop whose items wait for review compares them with every approved or published picture of the library
-- (one that looks like one of them is flagged near_duplicate). In a library of 100,000 decided pictures, reading their
-- structures (migration 11) still doubled a 500-item drop's no-op rerun. The database now counts every change to the
-- decided pictures; a run that finds the count, and its waiting items, as its drop's last look left them has what that
-- look found, and reads nothing more.

-- Counters kept by the database itself. `decided_pictures` changes whenever an item becomes approved or published,
-- stops being so, or changes (in its fingerprints, name or drop) while it is: whoever wrote it, in the same
-- transaction.
CREATE TABLE ledger_versions (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO ledger_versions (name, value) VALUES ('decided_pictures', 0);

CREATE FUNCTION elena_decided_pictures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'decided_pictures';
    RETURN NULL;
END
$$;

-- Constraint triggers, deferred: the count is taken as the transaction commits, after every row it locks. Counted at
-- each row, two transactions changing the same decided items in another order could each hold what the other waits
-- for.
CREATE CONSTRAINT TRIGGER items_decided_inserted AFTER INSERT ON items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (NEW.status IN ('approved', 'published') AND NEW.fingerprint IS NOT NULL)
EXECUTE FUNCTION elena_decided_pictures_changed();

CREATE CONSTRAINT TRIGGER items_decided_updated AFTER UPDATE OF status, fingerprint, crop_fingerprint, original_name, drop_name
ON items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (((OLD.status IN ('approved', 'published') AND OLD.fingerprint IS NOT NULL)
       OR (NEW.status IN ('approved', 'published') AND NEW.fingerprint IS NOT NULL))
      AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.fingerprint IS DISTINCT FROM NEW.fingerprint
           OR OLD.crop_fingerprint IS DISTINCT FROM NEW.crop_fingerprint
           OR OLD.original_name IS DISTINCT FROM NEW.original_name OR OLD.drop_name IS DISTINCT FROM NEW.drop_name))
EXECUTE FUNCTION elena_decided_pictures_changed();

CREATE CONSTRAINT TRIGGER items_decided_deleted AFTER DELETE ON items
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.status IN ('approved', 'published') AND OLD.fingerprint IS NOT NULL)
EXECUTE FUNCTION elena_decided_pictures_changed();

-- A drop's last look: the version of the decided pictures it compared with, a digest of its waiting items and their
-- fingerprints, and what it found (JSON: [{"item", "other", "name", "drop", "status"}], the nearest decided picture
-- for each waiting item that looks like one). Replaced by each look that could not reuse it.
CREATE TABLE lookalike_checks (
    drop_name       text PRIMARY KEY,
    decided_version bigint NOT NULL,
    waiting         text NOT NULL,
    found           jsonb NOT NULL
);

-- On Supabase, the API roles get nothing of these tables (as for every other table of the ledger).
DO $$
DECLARE
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        FOREACH t IN ARRAY ARRAY['ledger_versions', 'lookalike_checks'] LOOP
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
            EXECUTE format('REVOKE ALL ON %I FROM anon, authenticated', t);
        END LOOP;
    END IF;
END;
$$;

-- Recorded here as well, so applying this file by hand (psql -f, Supabase's SQL editor) leaves the database
-- exactly as elena-run's own migration would.
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (12, '0012_lookalike_checks', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
ON CONFLICT (version) DO NOTHING;
