-- An entry is made once because the worker moves notification_cursor from
-- a range's start to its end first in the range's transaction (a second
-- worker on the same range finds the cursor moved and makes nothing), not
-- because of UNIQUE (user_id, event_id): that index, on two text columns,
-- was one more index entry per inbox entry, the widest of five, paid on
-- every message for every member notified. Four remain, each used: the
-- primary key (pushes, email), notifications_inbox (the inbox),
-- notifications_unread (marking read) and notifications_by_event
-- (withdrawing a deleted message's entries).
ALTER TABLE notifications DROP CONSTRAINT notifications_user_id_event_id_key;
