-- Joins of remote groups this node's users asked for and whose result has
-- not shown in a replica yet (spec/federation.md 8.4). A snapshot may say a
-- local user joined only if that user is here; the record outlives a crash,
-- so the snapshot that follows a join answered before the crash is still
-- accepted. Removed once the replica shows the user joined, when the home
-- refuses the join, or after a day.
CREATE TABLE fed_pending_joins (
  group_id    text NOT NULL,                -- the group's address ("#eng:acme.test")
  user_id     text NOT NULL,                -- the local user who asked
  created_at  bigint NOT NULL,
  PRIMARY KEY (group_id, user_id)
);

