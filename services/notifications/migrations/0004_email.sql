-- Email for missed mentions and replies (services/notifications/email_notifier.h).

-- How far the email sender has looked at the inbox: every entry with an id
-- at or below it was either queued below or is not for email.
CREATE TABLE email_cursor (
  one              boolean PRIMARY KEY DEFAULT true CHECK (one),
  notification_id  bigint NOT NULL
);
INSERT INTO email_cursor (notification_id) SELECT coalesce(max(id), 0) FROM notifications;

-- Entries that may be mailed, from when they are due. A row leaves once its
-- mail was accepted by the SMTP server (or the entry was read meanwhile).
CREATE TABLE email_pending (
  notification_id  bigint PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
  user_id          text NOT NULL,
  due_at           bigint NOT NULL          -- ms since the epoch
);
CREATE INDEX email_pending_by_user ON email_pending (user_id, due_at);

-- Users whose last mail failed: not before next_at.
CREATE TABLE email_retry (
  user_id     text PRIMARY KEY,
  attempts    integer NOT NULL,
  next_at     bigint NOT NULL,
  last_error  text NOT NULL DEFAULT ''
);

-- A user's email switch. `epoch` moves at every change, which is what makes
-- an unsubscribe link single-use. No row: on, epoch 0. Messages at or
-- before changed_pos (the log's last position at the last switch) are not
-- mailed: nothing sent while a user was unsubscribed is mailed after they
-- subscribe again.
CREATE TABLE email_subscriptions (
  user_id      text PRIMARY KEY,
  enabled      boolean NOT NULL DEFAULT true,
  epoch        bigint NOT NULL DEFAULT 0,
  changed_at   bigint,                  -- ms since the epoch; NULL: never switched
  changed_pos  bigint                   -- events.stream_pos; NULL: never switched
);

-- The HMAC key of unsubscribe tokens, made once per node (all its processes).
CREATE TABLE email_key (
  one  boolean PRIMARY KEY DEFAULT true CHECK (one),
  key  bytea NOT NULL
);
