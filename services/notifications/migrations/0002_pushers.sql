-- Webhook pushers and their durable delivery queue
-- (services/notifications/push_sender.h).
--
-- The notification worker queues one row per (pusher, entry) in the same
-- transaction that makes the entry, so a push is owed as durably as the
-- entry itself; the sender deletes the row once the receiver answered 2xx
-- (at least once: a crash after the POST and before the delete sends again,
-- with the same notification_id).

CREATE TABLE pushers (
  id               bigserial PRIMARY KEY,
  user_id          text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('webhook')),
  url              text NOT NULL,
  secret           text NOT NULL,           -- HMAC key of X-GroupChat-Signature
  created_at       bigint NOT NULL,         -- ms since the epoch
  last_success_at  bigint,
  last_error       text,
  failures         integer NOT NULL DEFAULT 0,  -- consecutive failed attempts
  UNIQUE (user_id, url)
);

CREATE TABLE push_queue (
  id               bigserial PRIMARY KEY,
  pusher_id        bigint NOT NULL REFERENCES pushers (id) ON DELETE CASCADE,
  notification_id  bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  attempts         integer NOT NULL DEFAULT 0,
  next_at          bigint NOT NULL          -- ms since the epoch: not before
);
CREATE INDEX push_queue_due ON push_queue (next_at, id);
