-- Federated media (spec/media.md 8): rows for other nodes' media cached here
-- carry the time they were last read, so that the cache, bounded by
-- media.remote_cache_bytes, evicts the least recently used first. Local
-- uploads keep last_access NULL: they are never evicted.
ALTER TABLE media ADD COLUMN last_access timestamptz;
CREATE INDEX media_remote_lru ON media (last_access) WHERE last_access IS NOT NULL;
