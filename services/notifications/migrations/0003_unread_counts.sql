-- The unread count of each user's inbox, kept beside the entries
-- (services/notifications/notification_service.h).
--
-- Counting a user's unread entries on every new one costs as many index
-- entries as they have unread, and a user who never opens the bell has ever
-- more: at 1,000 messages/s to ten readers the counts took half the worker's
-- time and doubled the p99 of delivery. Every statement that makes an entry
-- unread or read changes this row in the same transaction, by the number of
-- rows it changed, so the count equals count(*) WHERE read_at IS NULL.

CREATE TABLE notification_unread (
  user_id  text PRIMARY KEY,
  unread   bigint NOT NULL CHECK (unread >= 0)
);
INSERT INTO notification_unread (user_id, unread)
  SELECT user_id, count(*) FROM notifications WHERE read_at IS NULL GROUP BY user_id;
