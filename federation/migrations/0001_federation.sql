-- Federation: known peers, per-peer delivery positions, and the outbox of
-- events this node's users sent to groups homed elsewhere.

-- A peer node, pinned on first contact (spec/federation.md section 2).
CREATE TABLE fed_peers (
  name           text PRIMARY KEY,
  identity_key   text NOT NULL,             -- base64url Ed25519 public key, pinned
  key_id         text NOT NULL,
  transport_key  text NOT NULL,             -- base64url X25519 public key
  endpoint       text NOT NULL,
  first_seen     bigint NOT NULL,
  last_seen      bigint NOT NULL,
  -- 'blocked' (an admin refused it), 'allowed' (an admin admitted it under
  -- policy allowlist), or '' (the config's policy decides).
  admin_state    text NOT NULL DEFAULT '' CHECK (admin_state IN ('', 'allowed', 'blocked')),
  key_conflict   text,                      -- a different key the peer presented later (refused)
  last_error     text
);

-- For every group this node is home of: which peers hold a replica and how
-- far they have acknowledged it. The event log itself is the durable queue:
-- the pusher sends seq > acked_seq. until_seq: the peer lost its last member
-- at that seq and gets nothing after it.
CREATE TABLE fed_group_peers (
  group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  peer        text NOT NULL,
  acked_seq   bigint NOT NULL DEFAULT 0,    -- -1: the peer has no replica yet (send a snapshot)
  until_seq   bigint,
  PRIMARY KEY (group_id, peer)
);

-- Origin events of local users for remote groups, sent until the home node
-- acknowledges (done) or refuses them; finished rows are kept a day so that
-- a client retrying with the same client_txn_id gets the same event.
CREATE TABLE fed_outbox (
  id          bigserial PRIMARY KEY,
  peer        text NOT NULL,                -- the group's home node
  event_id    text NOT NULL UNIQUE,
  sender      text NOT NULL,
  txn_id      text,
  body        text NOT NULL,                -- the submit frame body (canonical JSON)
  created_at  bigint NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  next_at     bigint NOT NULL DEFAULT 0,
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'refused')),
  seq         bigint,                       -- the seq the home gave it (state done)
  last_error  text
);
CREATE INDEX fed_outbox_pending ON fed_outbox (peer, id) WHERE state = 'pending';
CREATE UNIQUE INDEX fed_outbox_txn ON fed_outbox (sender, txn_id) WHERE txn_id IS NOT NULL;
