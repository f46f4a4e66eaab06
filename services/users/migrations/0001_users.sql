-- Local users, their login sessions, registration invites and node-wide
-- settings that admins change at run time.

CREATE TABLE users (
  id              bigserial PRIMARY KEY,
  local_part      text NOT NULL UNIQUE CHECK (local_part ~ '^[a-z0-9._-]{1,64}$'),
  display_name    text NOT NULL DEFAULT '',
  password_hash   text NOT NULL,
  is_admin        boolean NOT NULL DEFAULT false,
  avatar_media_id text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  deactivated_at  timestamptz,
  last_seen_at    timestamptz
);

-- Access tokens are never stored: only their BLAKE2b hash.
CREATE TABLE sessions (
  id            bigserial PRIMARY KEY,
  user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash    bytea NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  ip            text NOT NULL DEFAULT '',
  user_agent    text NOT NULL DEFAULT '',
  revoked_at    timestamptz
);
CREATE INDEX sessions_active_by_user ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE registration_invites (
  token         text PRIMARY KEY,
  uses_allowed  integer CHECK (uses_allowed IS NULL OR uses_allowed > 0),  -- NULL: unlimited
  uses          integer NOT NULL DEFAULT 0,
  expires_at    timestamptz,
  created_by    bigint REFERENCES users (id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);

-- Which invite each user registered with (for the admin console).
ALTER TABLE users ADD COLUMN invite_token text REFERENCES registration_invites (token) ON DELETE SET NULL;

CREATE TABLE node_settings (
  key         text PRIMARY KEY,
  value       text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
