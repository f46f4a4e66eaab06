-- Identity keys a peer used before it rotated (spec/federation.md 11): kept
-- to verify what it signed with them (old entries, verify-group).
CREATE TABLE fed_peer_keys (
  name        text NOT NULL,
  key_id      text NOT NULL,
  key         text NOT NULL,               -- base64url Ed25519 public key
  retired_at  bigint NOT NULL,
  PRIMARY KEY (name, key_id)
);
