-- Full-text search moves off the write path (services/messaging/search_index.h).
--
-- Before, `events.search` was a generated tsvector column with a GIN index
-- updated on every insert: about half of the database's cost of storing a
-- message (measured with pgbench: 43 µs of 500-row batches per row with it,
-- 22 µs without). The group log's writer paid it on every send and a replica
-- on every entry it catches up. Now a background indexer fills
-- `event_search` from the log in stream order, a batch at a time, and a
-- search first lets it catch up to the newest event, so a search still sees
-- every message sent before it.

DROP INDEX IF EXISTS events_search;
ALTER TABLE events DROP COLUMN IF EXISTS search;

-- One row per live (not deleted) message: the words of its current text.
CREATE TABLE event_search (
  stream_pos  bigint PRIMARY KEY REFERENCES events (stream_pos) ON DELETE CASCADE,
  group_id    bigint NOT NULL,
  search      tsvector NOT NULL
);
-- Filled in batches by one writer: GIN's pending list (fastupdate, the
-- default) makes each batch cheap; the merge it now and then costs is paid
-- by the indexer, not by senders.
CREATE INDEX event_search_words ON event_search USING gin (search);

-- How far the indexer got (a stream_pos): every event at or below it is
-- reflected in event_search.
CREATE TABLE search_cursor (
  one          boolean PRIMARY KEY DEFAULT true CHECK (one),
  indexed_pos  bigint NOT NULL
);

INSERT INTO event_search (stream_pos, group_id, search)
SELECT stream_pos, group_id, to_tsvector('simple', coalesce(edit_content ->> 'body', content ->> 'body', ''))
FROM events WHERE type = 'message' AND deleted_at IS NULL;
INSERT INTO search_cursor (indexed_pos) SELECT coalesce(max(stream_pos), 0) FROM events;
