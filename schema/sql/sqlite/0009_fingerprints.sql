-- elena-run ledger, schema version 9 (SQLite): each item's perceptual fingerprints
-- (`<pHash, 16 hex digits>-<chroma grid, 64 hex digits>`): of its picture as generated, and of its crop. Two items
-- close in both show the same picture; review groups them, the guards refuse to send a fan the same picture twice,
-- `find` names a leaked copy.
-- Filled by the fingerprint step of every run (an item made before this version gets them on its drop's next run).

ALTER TABLE items ADD COLUMN fingerprint TEXT;
ALTER TABLE items ADD COLUMN crop_fingerprint TEXT;
