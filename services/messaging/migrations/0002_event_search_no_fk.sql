-- event_search.stream_pos no longer references events (issue 17, ingest).
--
-- The foreign key made PostgreSQL check every indexed message against its
-- events row, a SELECT ... FOR KEY SHARE per row run as a trigger, which also
-- locks the row (a WAL record each): with ON CONFLICT, the largest part of the
-- search indexer's cost per message (bench/RESULTS.md, perf20). Integrity
-- holds without it: the indexer only inserts rows it selects from events,
-- and the one thing the key did besides, ON DELETE CASCADE (an admin
-- deleting a group with its history, services/groups PurgeHistory), is this
-- statement-level trigger, which costs nothing on insert: the rows of the
-- deleted events go with them, in the same transaction.
ALTER TABLE event_search DROP CONSTRAINT IF EXISTS event_search_stream_pos_fkey;

CREATE FUNCTION event_search_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_search s USING gone g WHERE s.stream_pos = g.stream_pos;
  RETURN NULL;
END
$$;

CREATE TRIGGER events_forget_search AFTER DELETE ON events
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION event_search_forget();
