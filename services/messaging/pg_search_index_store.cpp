// PgSearchIndexStore: the search indexer's rounds as statements run by
// PostgreSQL over the events table (see pg_search_index_store.h).
//
// A round first moves the cursor from lo - 1 to hi (compare-and-set, which
// also serializes processes sharing the database: only the one that moved
// it indexes the range), so every message of the range is new to
// event_search and goes in with a plain INSERT: no speculative insertion and
// confirmation per row, as ON CONFLICT costs. Older messages edited in the
// range are upserted by a statement of their own (edits are few); backfilled
// history, which may be stored again, keeps the upsert for every row.
#include "services/messaging/pg_search_index_store.h"

#include "node/db/pg.h"

namespace gc {

namespace {

// The words of a message's current text (its latest edit, if any).
#define GC_SEARCH_WORDS "to_tsvector('simple', coalesce(t.edit_content ->> 'body', t.content ->> 'body', ''))"
// Messages in the range.
#define GC_SEARCH_NEW                                                                         \
  "SELECT t.stream_pos, t.group_id, " GC_SEARCH_WORDS " FROM events t "                     \
  "WHERE t.stream_pos BETWEEN $1 AND $2 AND t.type = 'message' AND t.deleted_at IS NULL"
// Older messages (outside the range) edited in the range.
#define GC_SEARCH_EDITED                                                                                         \
  "SELECT t.stream_pos, t.group_id, " GC_SEARCH_WORDS " FROM "                                                  \
  "(SELECT DISTINCT relates_to FROM events WHERE stream_pos BETWEEN $1 AND $2 AND type = 'message.edit') x "   \
  "JOIN events t ON t.event_id = x.relates_to "                                                                 \
  "WHERE t.type = 'message' AND t.deleted_at IS NULL AND t.stream_pos NOT BETWEEN $1 AND $2"

GC_SQL(kIndexUpsert, "INSERT INTO event_search (stream_pos, group_id, search) " GC_SEARCH_NEW " UNION ALL "
                     GC_SEARCH_EDITED " ON CONFLICT (stream_pos) DO UPDATE SET search = EXCLUDED.search");
GC_SQL(kIndexNew, "INSERT INTO event_search (stream_pos, group_id, search) " GC_SEARCH_NEW);
GC_SQL(kIndexEdited, "INSERT INTO event_search (stream_pos, group_id, search) " GC_SEARCH_EDITED
                     " ON CONFLICT (stream_pos) DO UPDATE SET search = EXCLUDED.search");
// Messages deleted in the range.
GC_SQL(kIndexDelete,
       "DELETE FROM event_search s USING events e, events t "
       "WHERE e.stream_pos BETWEEN $1 AND $2 AND e.type = 'message.delete' "
       "AND t.event_id = e.relates_to AND s.stream_pos = t.stream_pos");
GC_SQL(kReadCursor, "SELECT indexed_pos FROM search_cursor");
GC_SQL(kMoveCursor, "UPDATE search_cursor SET indexed_pos = $2 WHERE indexed_pos = $1::bigint - 1");

#undef GC_SEARCH_EDITED
#undef GC_SEARCH_NEW
#undef GC_SEARCH_WORDS

}  // namespace

Status IndexSearchRange(PgConn& c, int64_t lo, int64_t hi) {
  GC_TRY(StatusOf(c.Exec(kIndexUpsert, {lo, hi})));
  return StatusOf(c.Exec(kIndexDelete, {lo, hi}));
}

Result<int64_t> PgSearchIndexStore::Cursor() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kReadCursor); });
  if (!r.ok()) return r.error();
  return r->rows() > 0 ? r->int64(0, 0) : int64_t{0};
}

Result<int64_t> PgSearchIndexStore::IndexRound(int64_t lo, int64_t hi) {
  return db_.Transaction([&](PgConn& c) -> Result<int64_t> {
    GC_TRY(c.ExecScript("SET LOCAL synchronous_commit TO off"));
    auto other = ClaimRange(c, kMoveCursor, kReadCursor, lo, hi);
    if (!other.ok()) return other.error();
    if (*other) return **other;  // another process indexed from here: follow its cursor
    GC_TRY(StatusOf(c.Exec(kIndexNew, {lo, hi})));
    GC_TRY(StatusOf(c.Exec(kIndexEdited, {lo, hi})));
    GC_TRY(StatusOf(c.Exec(kIndexDelete, {lo, hi})));
    return hi;
  });
}

}  // namespace gc
