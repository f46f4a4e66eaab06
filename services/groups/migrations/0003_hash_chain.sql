-- The hash chain of every group log (spec/federation.md section 6).
--
-- Each event is an origin event (hashed to its event_id) wrapped in a home
-- entry {group_id, seq, prev, event_id, home_ts} that the group's home node
-- signs; the SHA-256 of the entry's canonical JSON is `entry_hash`, and the
-- next entry's `prev_hash`. The origin event hashes `content_hash` rather than
-- the content, so deleting a message blanks its text without breaking the
-- chain. Rows written before this migration have no chain (NULL entry_hash);
-- verify-group reports them as unchained.
ALTER TABLE events
  ADD COLUMN nonce text,
  ADD COLUMN content_hash text,
  ADD COLUMN home_ts bigint,
  ADD COLUMN entry_hash text,
  ADD COLUMN origin_signatures jsonb;   -- the origin's signature of the origin event (remote origins)

ALTER TABLE groups
  ADD COLUMN head_hash text NOT NULL DEFAULT '',   -- entry_hash of the last event
  ADD COLUMN base_seq bigint NOT NULL DEFAULT 1;   -- first seq held (a replica may start later)
