-- elena-run ledger, schema version 15 (SQLite): a version of the run cache, and a compact copy of the steps each part of
-- a drop's items last read from it.
-- A run reads the successful stage runs of its items a part at a time (1,500 items, about 3,000 rows). In a drop of
-- 100,000 items, finding and decoding those rows took a quarter of a no-op rerun's processor time, most of it looking
-- each item up in an index ordered by digests (no two of a part's items near one another). The database now counts
-- every change to the stage runs; a part read while the count is what it was when the part's steps were last read
-- from the rows takes them from one compact copy (`SQLRunStore.RunCachePart`), and reads none of the rows.

-- `stage_runs` changes whenever a stage run is recorded, changed or removed: whoever wrote it, in the same
-- transaction. (A later migration that rewrites the table must count too.)
INSERT INTO ledger_versions (name, value) VALUES ('stage_runs', 0);

CREATE TRIGGER stage_runs_inserted AFTER INSERT ON stage_runs
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'stage_runs';
END;

CREATE TRIGGER stage_runs_updated AFTER UPDATE ON stage_runs
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'stage_runs';
END;

CREATE TRIGGER stage_runs_deleted AFTER DELETE ON stage_runs
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'stage_runs';
END;

-- A part's steps as last read: the digest of the part's item ids (in the order asked for), the version of the stage
-- runs they were read at, and the steps in the store's compact form. Derived data: a copy whose version is not the
-- current one is never read, and is deleted by the next part written.
CREATE TABLE run_cache_parts (
    part         TEXT PRIMARY KEY,
    runs_version INTEGER NOT NULL,
    steps        BLOB NOT NULL
);
