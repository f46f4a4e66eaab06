#include "services/notifications/pusher_directory.h"

#include "node/db/pg.h"

namespace gc {

namespace {

#define GC_PUSHER_RECORD_COLUMNS \
  GC_PUSHER_COLUMNS ", p.user_id, (SELECT count(*) FROM push_queue q WHERE q.pusher_id = p.id)"

GC_SQL(kPusherDirList,
       "SELECT " GC_PUSHER_RECORD_COLUMNS ", count(*) OVER () FROM pushers p"
       " WHERE $1 = '' OR p.user_id = $1 ORDER BY p.id LIMIT $2 OFFSET $3");
GC_SQL(kPusherDirStats,
       "SELECT p.kind, count(*), count(*) FILTER (WHERE p.failures > 0),"
       " coalesce(sum((SELECT count(*) FROM push_queue q WHERE q.pusher_id = p.id)), 0)::bigint"
       " FROM pushers p GROUP BY p.kind ORDER BY p.kind");
GC_SQL(kPusherDirGet, "SELECT " GC_PUSHER_RECORD_COLUMNS " FROM pushers p WHERE p.id = $1 FOR UPDATE");
GC_SQL(kPusherDirRemove, "DELETE FROM pushers WHERE id = $1");

PusherRecord FromRow(const PgResult& r, int i) {
  PusherRecord p;
  static_cast<PusherStatus&>(p) = PusherFromRow(r, i);
  p.user_id = r.text(i, kPusherColumns);
  p.queued = r.int64(i, kPusherColumns + 1);
  return p;
}

}  // namespace

Result<std::vector<PusherRecord>> PusherDirectory::List(const std::string& user, int limit, int offset,
                                                        int64_t* total) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPusherDirList, {user, limit, offset}); });
  if (!r.ok()) return r.error();
  std::vector<PusherRecord> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(FromRow(*r, i));
  *total = r->rows() > 0 ? r->int64(0, 9) : 0;
  return out;
}

Result<std::vector<PusherKindStats>> PusherDirectory::Stats() {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPusherDirStats); });
  if (!r.ok()) return r.error();
  std::vector<PusherKindStats> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->text(i, 0), r->int64(i, 1), r->int64(i, 2), r->int64(i, 3)});
  }
  return out;
}

Result<PusherRecord> PusherDirectory::Remove(int64_t pusher_id) {
  return db_.Transaction([&](PgConn& c) -> Result<PusherRecord> {
    auto r = c.Exec(kPusherDirGet, {pusher_id});
    if (!r.ok()) return r.error();
    if (r->rows() == 0) return Error::NotFound("no such pusher");
    PusherRecord p = FromRow(*r, 0);
    auto d = c.Exec(kPusherDirRemove, {pusher_id});
    if (!d.ok()) return d.error();
    return p;
  });
}

}  // namespace gc
