-- A local user's own membership change (leave, join, invite acceptance) that
-- the home has not sequenced yet, or that has not arrived back in the local
-- replica, makes the replica's view of that user stale: their next change or
-- message in the group waits for it (409 pending_change) instead of being
-- judged against the stale view (spec/federation.md 9.6).
ALTER TABLE fed_outbox ADD COLUMN group_id text;
ALTER TABLE fed_outbox ADD COLUMN own_membership boolean NOT NULL DEFAULT false;
CREATE INDEX fed_outbox_own_membership ON fed_outbox (sender, group_id) WHERE own_membership;
