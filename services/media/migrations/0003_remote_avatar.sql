-- Federated avatars (spec/media.md 8): a row of another node's media that
-- its origin served as one of its users' avatars. Any signed-in user of this
-- node may read such a row, as any signed-in user of the origin may read the
-- avatar there; other remote rows stay readable only through the groups that
-- carry them.
ALTER TABLE media ADD COLUMN remote_avatar boolean NOT NULL DEFAULT false;
