-- elena-run ledger, schema version 10 (SQLite): the items approved or published, found without reading
-- the others.
-- Every run of any drop reads their fingerprints (a picture waiting for review that looks like one of them is
-- flagged near_duplicate); in a library of 100,000 items mostly in review, a scan of the whole table cost a
-- 500-item drop more than the rest of its no-op rerun.

CREATE INDEX items_decided ON items (status) WHERE status IN ('approved', 'published');
