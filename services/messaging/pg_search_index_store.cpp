#include "services/messaging/pg_search_index_store.h"

#include "node/db/pg.h"

namespace gc {

namespace {

// The words of a message's current text (its latest edit, if any).
#define GC_SEARCH_WORDS "to_tsvector('simple', coalesce(t.edit_content ->> 'body', t.content ->> 'body', ''))"

// Messages in the range, and older messages edited in the range.
GC_SQL(kIndexUpsert,
       "INSERT INTO event_search (stream_pos, group_id, search) "
       "SELECT t.stream_pos, t.group_id, " GC_SEARCH_WORDS " FROM events t "
       "WHERE t.stream_pos BETWEEN $1 AND $2 AND t.type = 'message' AND t.deleted_at IS NULL "
       "UNION ALL "
       "SELECT t.stream_pos, t.group_id, " GC_SEARCH_WORDS " FROM "
       "(SELECT DISTINCT relates_to FROM events WHERE stream_pos BETWEEN $1 AND $2 AND type = 'message.edit') x "
       "JOIN events t ON t.event_id = x.relates_to "
       "WHERE t.type = 'message' AND t.deleted_at IS NULL AND t.stream_pos NOT BETWEEN $1 AND $2 "
       "ON CONFLICT (stream_pos) DO UPDATE SET search = EXCLUDED.search");
// Messages deleted in the range.
GC_SQL(kIndexDelete,
       "DELETE FROM event_search s USING events e, events t "
       "WHERE e.stream_pos BETWEEN $1 AND $2 AND e.type = 'message.delete' "
       "AND t.event_id = e.relates_to AND s.stream_pos = t.stream_pos");
GC_SQL(kReadCursor, "SELECT indexed_pos FROM search_cursor");
GC_SQL(kSetCursor, "UPDATE search_cursor SET indexed_pos = $1");

}  // namespace

Status IndexSearchRange(PgConn& c, int64_t lo, int64_t hi) {
  auto up = c.Exec(kIndexUpsert, {lo, hi});
  if (!up.ok()) return up.error();
  auto del = c.Exec(kIndexDelete, {lo, hi});
  if (!del.ok()) return del.error();
  return OkStatus();
}

Result<int64_t> PgSearchIndexStore::Cursor() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kReadCursor); });
  if (!r.ok()) return r.error();
  return r->rows() > 0 ? r->int64(0, 0) : int64_t{0};
}

Status PgSearchIndexStore::IndexRound(int64_t lo, int64_t hi) {
  return db_.Transaction([&](PgConn& c) -> Status {
    GC_TRY(c.ExecScript("SET LOCAL synchronous_commit TO off"));
    GC_TRY(IndexSearchRange(c, lo, hi));
    auto r = c.Exec(kSetCursor, {hi});
    if (!r.ok()) return r.error();
    return OkStatus();
  });
}

}  // namespace gc
