-- The admin audit log: every administrative action, who did it, to what,
-- when and from where. Rows are only ever inserted; the admin API has no
-- route that changes or removes them.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,             -- user id of the admin (or "cli" for the command line)
  action      text NOT NULL,             -- e.g. user.deactivate, invite.create
  target      text NOT NULL DEFAULT '',  -- what it acted on
  ip          text NOT NULL DEFAULT '',
  request_id  text NOT NULL DEFAULT '',
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_by_target ON audit_log (target);
