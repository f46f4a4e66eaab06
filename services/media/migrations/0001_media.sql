-- Media: uploads and the content-addressed blobs that hold their bytes
-- (services/media/media_service.h).

-- One row per stored blob, named by the SHA-256 of its bytes. `refs` counts
-- the media and thumbnail rows that point at it, plus uploads in progress
-- that have stored it and not yet committed their rows. A blob with refs = 0
-- is deleted from the store by the sweep, under this row's lock.
CREATE TABLE media_blobs (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size        bigint NOT NULL CHECK (size >= 0),
  refs        integer NOT NULL CHECK (refs >= 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_blobs_unreferenced ON media_blobs (sha256) WHERE refs = 0;

-- One row per upload (or, later, per cached remote item: origin <> this node).
CREATE TABLE media (
  media_id        text PRIMARY KEY,           -- "acme.test/OPAQUE"
  origin          text NOT NULL,              -- the node that owns the id
  uploader        text NOT NULL,              -- "@alice:acme.test"
  sha256          text NOT NULL REFERENCES media_blobs (sha256),
  size            bigint NOT NULL,
  content_type    text NOT NULL,
  filename        text NOT NULL DEFAULT '',
  width           integer,
  height          integer,
  created_at      timestamptz NOT NULL DEFAULT now(),
  quarantined_at  timestamptz,
  quarantined_by  text
);
CREATE INDEX media_by_uploader ON media (uploader, created_at DESC);
CREATE INDEX media_by_created ON media (created_at DESC, media_id DESC);

-- Thumbnails made at upload, one per fixed size smaller than the image.
CREATE TABLE media_thumbnails (
  media_id      text NOT NULL REFERENCES media (media_id) ON DELETE CASCADE,
  size          integer NOT NULL,
  sha256        text NOT NULL REFERENCES media_blobs (sha256),
  content_type  text NOT NULL,
  width         integer NOT NULL,
  height        integer NOT NULL,
  PRIMARY KEY (media_id, size)
);

-- Which messages carry a media_id: read (never written) by the access check
-- and the sweep. The events table belongs to the group log; this index is
-- the media service's question to it.
CREATE INDEX events_media_id ON events ((content ->> 'media_id')) WHERE (content ->> 'media_id') IS NOT NULL;
