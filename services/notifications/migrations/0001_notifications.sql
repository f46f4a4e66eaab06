-- The notification service (services/notifications/notification_service.h).
--
-- The group log's `events` table is the transactional outbox: an event and
-- its stream_pos commit in the sender's transaction, and nothing more is done
-- on the send path. A worker follows the log after `notification_cursor`,
-- makes the inbox rows for one range of positions and advances the cursor in
-- the same transaction, so an acknowledged message is notified after any
-- crash, exactly once in the inbox (UNIQUE (user_id, event_id) makes a replay
-- harmless).

CREATE TABLE notifications (
  id                   bigserial PRIMARY KEY,   -- the notification_id, stable
  user_id              text NOT NULL,           -- the local recipient, "@bob:acme.test"
  kind                 text NOT NULL CHECK (kind IN ('message', 'mention', 'reply', 'invite')),
  group_id             bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  event_id             text NOT NULL,
  seq                  bigint NOT NULL,         -- the event's seq: a group read marker covers it
  sender               text NOT NULL,
  sender_display_name  text NOT NULL DEFAULT '',
  group_title          text NOT NULL DEFAULT '',
  body_preview         text NOT NULL DEFAULT '',
  created_at           bigint NOT NULL,         -- ms since the epoch
  read_at              bigint,
  withdrawn_at         bigint,                  -- the message was deleted
  pushed               boolean NOT NULL,        -- false: made during do-not-disturb, not pushed
  UNIQUE (user_id, event_id)
);
CREATE INDEX notifications_inbox ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id, group_id, seq) WHERE read_at IS NULL;
CREATE INDEX notifications_by_event ON notifications (event_id);

-- Per-user defaults; no row means level 'all' and no do-not-disturb.
CREATE TABLE notification_settings (
  user_id        text PRIMARY KEY,
  default_level  text NOT NULL DEFAULT 'all' CHECK (default_level IN ('all', 'mentions', 'none')),
  dnd_until      bigint                   -- ms since the epoch; NULL or past: off
);

-- Per-group levels that override the user's default.
CREATE TABLE notification_group_levels (
  user_id   text NOT NULL,
  group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  level     text NOT NULL CHECK (level IN ('all', 'mentions', 'none')),
  PRIMARY KEY (user_id, group_id)
);

-- How far the worker got: every event at or below it has its notifications.
-- It starts at the newest event, so history from before the service existed
-- (and backfilled history, which has negative positions) notifies nobody.
CREATE TABLE notification_cursor (
  one   boolean PRIMARY KEY DEFAULT true CHECK (one),
  pos   bigint NOT NULL
);
INSERT INTO notification_cursor (pos) SELECT coalesce(max(stream_pos), 0) FROM events;
