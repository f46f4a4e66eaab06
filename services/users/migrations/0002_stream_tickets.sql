-- One-time credentials for one WebSocket stream connection (spec/stream.md,
-- Connecting): a browser cannot put an Authorization header on a WebSocket,
-- and a token in the URL ends up in proxy logs. Only the hash is stored; a
-- ticket lives kStreamTicketTtlS (30 s) and is deleted when it is used.
CREATE TABLE stream_tickets (
  ticket_hash  bytea PRIMARY KEY,
  session_id   bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  expires_at   timestamptz NOT NULL
);

-- The idle sweep looks for active sessions unused for a long time.
CREATE INDEX sessions_active_by_last_use ON sessions (last_used_at) WHERE revoked_at IS NULL;
