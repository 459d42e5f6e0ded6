-- elena-run ledger, schema version 11 (SQLite): each fingerprint's structure (its pHash, the 16 hex digits
-- before the dash) as a 64-bit integer, worked out by the database from the text it already keeps.
-- Every run of a drop whose items wait for review looks for near-duplicates among the library's approved and
-- published pictures: it reads these two integers of each (and only the few whose structure is close, whole). Reading
-- every decided picture's texts cost a 500-item drop 0.28 s of its 0.47 s no-op rerun in a library of 100,000.
-- Virtual, so right for every row old or new; kept in the index below, which is what a run reads (working them out
-- from the texts on each read cost 1.5 s for 100,000). NULL when there is no fingerprint, or its structure is not 16
-- lowercase hex digits (the only form elena-run reads as one).

ALTER TABLE items ADD COLUMN structure INTEGER GENERATED ALWAYS AS (
  CASE WHEN fingerprint GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-*' THEN
    ((instr('0123456789abcdef', substr(fingerprint, 1, 1)) - 1) << 60) | ((instr('0123456789abcdef', substr(fingerprint, 2, 1)) - 1) << 56) |
    ((instr('0123456789abcdef', substr(fingerprint, 3, 1)) - 1) << 52) | ((instr('0123456789abcdef', substr(fingerprint, 4, 1)) - 1) << 48) |
    ((instr('0123456789abcdef', substr(fingerprint, 5, 1)) - 1) << 44) | ((instr('0123456789abcdef', substr(fingerprint, 6, 1)) - 1) << 40) |
    ((instr('0123456789abcdef', substr(fingerprint, 7, 1)) - 1) << 36) | ((instr('0123456789abcdef', substr(fingerprint, 8, 1)) - 1) << 32) |
    ((instr('0123456789abcdef', substr(fingerprint, 9, 1)) - 1) << 28) | ((instr('0123456789abcdef', substr(fingerprint, 10, 1)) - 1) << 24) |
    ((instr('0123456789abcdef', substr(fingerprint, 11, 1)) - 1) << 20) | ((instr('0123456789abcdef', substr(fingerprint, 12, 1)) - 1) << 16) |
    ((instr('0123456789abcdef', substr(fingerprint, 13, 1)) - 1) << 12) | ((instr('0123456789abcdef', substr(fingerprint, 14, 1)) - 1) << 8) |
    ((instr('0123456789abcdef', substr(fingerprint, 15, 1)) - 1) << 4) | ((instr('0123456789abcdef', substr(fingerprint, 16, 1)) - 1) << 0)
  END) VIRTUAL;
ALTER TABLE items ADD COLUMN crop_structure INTEGER GENERATED ALWAYS AS (
  CASE WHEN crop_fingerprint GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-*' THEN
    ((instr('0123456789abcdef', substr(crop_fingerprint, 1, 1)) - 1) << 60) | ((instr('0123456789abcdef', substr(crop_fingerprint, 2, 1)) - 1) << 56) |
    ((instr('0123456789abcdef', substr(crop_fingerprint, 3, 1)) - 1) << 52) | ((instr('0123456789abcdef', substr(crop_fingerprint, 4, 1)) - 1) << 48) |
    ((instr('0123456789abcdef', substr(crop_fingerprint, 5, 1)) - 1) << 44) | ((instr('0123456789abcdef', substr(crop_fingerprint, 6, 1)) - 1) << 40) |
    ((instr('0123456789abcdef', substr(crop_fingerprint, 7, 1)) - 1) << 36) | ((instr('0123456789abcdef', substr(crop_fingerprint, 8, 1)) - 1) << 32) |
    ((instr('0123456789abcdef', substr(crop_fingerprint, 9, 1)) - 1) << 28) | ((instr('0123456789abcdef', substr(crop_fingerprint, 10, 1)) - 1) << 24) |
    ((instr('0123456789abcdef', substr(crop_fingerprint, 11, 1)) - 1) << 20) | ((instr('0123456789abcdef', substr(crop_fingerprint, 12, 1)) - 1) << 16) |
    ((instr('0123456789abcdef', substr(crop_fingerprint, 13, 1)) - 1) << 12) | ((instr('0123456789abcdef', substr(crop_fingerprint, 14, 1)) - 1) << 8) |
    ((instr('0123456789abcdef', substr(crop_fingerprint, 15, 1)) - 1) << 4) | ((instr('0123456789abcdef', substr(crop_fingerprint, 16, 1)) - 1) << 0)
  END) VIRTUAL;

-- The decided items' structures and ids, read from the index alone (about 85 bytes an item). It takes the place of
-- items_decided (migration 10), whose rows it holds.
CREATE INDEX items_decided_structures ON items (status, structure, crop_structure, id)
  WHERE status IN ('approved', 'published') AND fingerprint IS NOT NULL;
DROP INDEX items_decided;
