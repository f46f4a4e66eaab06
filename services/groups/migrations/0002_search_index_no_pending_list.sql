-- With GIN's fast-update pending list, the insert that overflows the list
-- (gin_pending_list_limit, 4 MB) merges it into the index itself: under a
-- steady message load that stalled the group log's writer for 100-250 ms
-- every few seconds. Updating the index on every insert costs a little per
-- message and removes the stalls.
ALTER INDEX events_search SET (fastupdate = off);
