-- Plain `message` entries coalesced per (user, group) while unread
-- (services/notifications/notification_service.h, spec/notifications.md).
--
-- One inbox row per member and message was most of PostgreSQL's work at
-- level `all` (80% of its statement time and 3.7 of 5.2 KB of WAL per
-- message in bench/ingest_bench.sh ingest5). Now a plain message in a group
-- where the user already has an unread `message` entry updates that entry:
-- its latest message (last_event_id, last_seq, sender, preview, created_at)
-- and `count`, the messages it stands for. Mentions, replies and invites
-- stay one entry each.
--
-- The update is kept HOT (no index entry, the new row version on the same
-- page): no index holds a column it changes. `event_id` and `seq` stay the
-- entry's first message (notifications_by_event and notifications_unread
-- index them, immutably); the latest is in last_event_id/last_seq (NULL: the
-- same as the first, as in every row made before this migration). Pages are
-- left 30% free for the new versions.

ALTER TABLE notifications ADD COLUMN count integer NOT NULL DEFAULT 1 CHECK (count >= 1);
ALTER TABLE notifications ADD COLUMN last_event_id text;
ALTER TABLE notifications ADD COLUMN last_seq bigint;
ALTER TABLE notifications SET (fillfactor = 70);

-- Old rows: several unread plain entries of one (user, group) become one,
-- the newest, standing for all of them; the older ones are marked read (at
-- the newest one's time) and leave the unread counts.
WITH open AS (
  SELECT id, user_id, created_at,
         row_number() OVER (PARTITION BY user_id, group_id ORDER BY id DESC) AS rn,
         count(*) OVER (PARTITION BY user_id, group_id) AS k
  FROM notifications WHERE kind = 'message' AND read_at IS NULL
), folded AS (
  UPDATE notifications n SET read_at = o.created_at FROM open o WHERE n.id = o.id AND o.rn > 1
  RETURNING n.user_id
), dec AS (
  UPDATE notification_unread c SET unread = c.unread - d.k
  FROM (SELECT user_id, count(*) AS k FROM folded GROUP BY user_id) d WHERE c.user_id = d.user_id
)
UPDATE notifications n SET count = o.k FROM open o WHERE n.id = o.id AND o.rn = 1 AND o.k > 1;

-- At most one unread `message` entry per (user, group): the entry a new
-- plain message updates (kNotifMake's ON CONFLICT arbiter), and, by group,
-- the open entries a deleted message may be the latest of (kNotifWithdraw).
CREATE UNIQUE INDEX notifications_open_message ON notifications (group_id, user_id)
  WHERE kind = 'message' AND read_at IS NULL;
