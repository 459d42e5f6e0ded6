-- elena-run ledger, schema version 12 (SQLite): a version of the library's decided pictures, and each drop's last
-- look for lookalikes among them.
-- A run of a drop whose items wait for review compares them with every approved or published picture of the library
-- (one that looks like one of them is flagged near_duplicate). In a library of 100,000 decided pictures, reading their
-- structures (migration 11) still doubled a 500-item drop's no-op rerun. The database now counts every change to the
-- decided pictures; a run that finds the count, and its waiting items, as its drop's last look left them has what that
-- look found, and reads nothing more.

-- Counters kept by the database itself. `decided_pictures` changes whenever an item becomes approved or published,
-- stops being so, or changes (in its fingerprints, name or drop) while it is: whoever wrote it, in the same
-- transaction.
CREATE TABLE ledger_versions (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO ledger_versions (name, value) VALUES ('decided_pictures', 0);

CREATE TRIGGER items_decided_inserted AFTER INSERT ON items
WHEN NEW.status IN ('approved', 'published') AND NEW.fingerprint IS NOT NULL
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'decided_pictures';
END;

CREATE TRIGGER items_decided_updated AFTER UPDATE OF status, fingerprint, crop_fingerprint, original_name, drop_name ON items
WHEN ((OLD.status IN ('approved', 'published') AND OLD.fingerprint IS NOT NULL)
      OR (NEW.status IN ('approved', 'published') AND NEW.fingerprint IS NOT NULL))
     AND (OLD.status IS NOT NEW.status OR OLD.fingerprint IS NOT NEW.fingerprint
          OR OLD.crop_fingerprint IS NOT NEW.crop_fingerprint OR OLD.original_name IS NOT NEW.original_name
          OR OLD.drop_name IS NOT NEW.drop_name)
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'decided_pictures';
END;

CREATE TRIGGER items_decided_deleted AFTER DELETE ON items
WHEN OLD.status IN ('approved', 'published') AND OLD.fingerprint IS NOT NULL
BEGIN
    UPDATE ledger_versions SET value = value + 1 WHERE name = 'decided_pictures';
END;

-- A drop's last look: the version of the decided pictures it compared with, a digest of its waiting items and their
-- fingerprints, and what it found (JSON: [{"item", "other", "name", "drop", "status"}], the nearest decided picture
-- for each waiting item that looks like one). Replaced by each look that could not reuse it.
CREATE TABLE lookalike_checks (
    drop_name       TEXT PRIMARY KEY,
    decided_version INTEGER NOT NULL,
    waiting         TEXT NOT NULL,
    found           TEXT NOT NULL
);
