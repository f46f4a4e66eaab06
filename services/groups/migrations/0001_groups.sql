-- Groups, their members, and the group event log.
--
-- Every change to a group is an immutable row in `events`: a per-group `seq`
-- (1, 2, 3, ... without gaps) and a node-wide `stream_pos` that grows in
-- commit order (one writer assigns both; see services/groups/group_log.h).
-- Columns origin, prev_hash and signatures are for federation: a replica
-- stores the home node's sequence, chain and signatures as they arrived.

CREATE TABLE groups (
  id             bigserial PRIMARY KEY,
  address        text NOT NULL,             -- "#eng:acme.test"
  server         text NOT NULL,             -- home node of the group
  title          text NOT NULL DEFAULT '',
  topic          text NOT NULL DEFAULT '',
  visibility     text NOT NULL CHECK (visibility IN ('public', 'private')),
  join_rule      text NOT NULL CHECK (join_rule IN ('open', 'invite')),
  created_by     text NOT NULL,
  created_at     bigint NOT NULL,           -- ms since the epoch
  last_seq       bigint NOT NULL DEFAULT 0,
  last_event_at  bigint NOT NULL DEFAULT 0, -- ms, orders the group list by activity
  deleted_at     bigint
);
-- A name is unique among live groups; a deleted group's name can be reused.
CREATE UNIQUE INDEX groups_live_address ON groups (address) WHERE deleted_at IS NULL;
CREATE INDEX groups_directory ON groups (visibility, last_event_at DESC) WHERE deleted_at IS NULL;

-- Current membership, a projection of the `member` events.
CREATE TABLE group_members (
  group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id     text NOT NULL,
  membership  text NOT NULL CHECK (membership IN ('join', 'invite', 'leave', 'ban')),
  role        text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
  since_seq   bigint NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id) WHERE membership = 'join';

CREATE TABLE events (
  stream_pos    bigint PRIMARY KEY,
  event_id      text NOT NULL UNIQUE,
  group_id      bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  seq           bigint NOT NULL,
  type          text NOT NULL,
  sender        text NOT NULL,
  origin        text NOT NULL,              -- server that created the event
  origin_ts     bigint NOT NULL,
  content       jsonb NOT NULL,             -- as sent; blanked when the message is deleted
  relates_to    text,                       -- target of an edit, delete, reaction or reply
  edit_content  jsonb,                      -- latest edit of a message (projection)
  edited_at     bigint,
  deleted_at    bigint,
  txn_id        text,                       -- client_txn_id, for idempotent sends
  prev_hash     text,
  signatures    jsonb,
  search        tsvector GENERATED ALWAYS AS (
                  CASE WHEN type = 'message' AND deleted_at IS NULL
                       THEN to_tsvector('simple', coalesce(edit_content ->> 'body', content ->> 'body', ''))
                  END) STORED,
  UNIQUE (group_id, seq)
);
CREATE UNIQUE INDEX events_txn ON events (sender, txn_id) WHERE txn_id IS NOT NULL;
CREATE INDEX events_relates ON events (relates_to) WHERE relates_to IS NOT NULL;
CREATE INDEX events_search ON events USING gin (search);

CREATE TABLE reactions (
  target      text NOT NULL,                -- event_id of the message
  user_id     text NOT NULL,
  key         text NOT NULL,
  group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  stream_pos  bigint NOT NULL,
  PRIMARY KEY (target, user_id, key)
);

CREATE TABLE mentions (
  user_id     text NOT NULL,
  stream_pos  bigint NOT NULL,
  group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  seq         bigint NOT NULL,
  PRIMARY KEY (user_id, stream_pos)
);
CREATE INDEX mentions_by_group ON mentions (group_id, user_id, seq);

CREATE TABLE read_markers (
  group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id   text NOT NULL,
  seq       bigint NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
