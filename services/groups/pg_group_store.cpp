#include "services/groups/pg_group_store.h"

#include "node/db/pg.h"
#include "services/groups/projections.h"

namespace gc {

namespace {

GC_SQL(kJoinedGroups,
       "SELECT m.group_id FROM group_members m JOIN groups g ON g.id = m.group_id "
       "WHERE m.user_id = $1 AND m.membership = 'join' AND g.deleted_at IS NULL");
GC_SQL(kMyGroups,
       "SELECT g.id, coalesce(r.seq, 0), "
       " CASE WHEN m.membership <> 'join' THEN 0 ELSE (SELECT count(*) FROM events e WHERE e.group_id = g.id "
       "   AND e.seq > coalesce(r.seq, 0) AND e.type = 'message' AND e.sender <> $1 AND e.deleted_at IS NULL) END, "
       " CASE WHEN m.membership <> 'join' THEN 0 ELSE (SELECT count(*) FROM mentions x WHERE x.group_id = g.id "
       "   AND x.user_id = $1 AND x.seq > coalesce(r.seq, 0)) END "
       "FROM group_members m JOIN groups g ON g.id = m.group_id "
       "LEFT JOIN read_markers r ON r.group_id = g.id AND r.user_id = $1 "
       "WHERE m.user_id = $1 AND m.membership IN ('join', 'invite') AND g.deleted_at IS NULL "
       "ORDER BY g.last_event_at DESC");
GC_SQL(kLastEvent, "SELECT " GC_EVENT_COLUMNS " FROM events e JOIN groups g ON g.id = e.group_id "
                   "WHERE e.group_id = $1 ORDER BY e.seq DESC LIMIT 1");
GC_SQL(kCountGroups, "SELECT count(*) FROM groups WHERE deleted_at IS NULL");
GC_SQL(kAdminSearch,
       "SELECT id, count(*) OVER () FROM groups WHERE deleted_at IS NULL "
       "AND ($1 = '' OR strpos(lower(title), lower($1)) > 0 OR strpos(split_part(address, ':', 1), lower($1)) > 0) "
       "ORDER BY last_event_at DESC, id LIMIT $2 OFFSET $3");
GC_SQL(kMessageCount, "SELECT count(*) FROM events WHERE group_id = $1 AND type = 'message' AND deleted_at IS NULL");
GC_SQL(kPurgeReactions, "DELETE FROM reactions WHERE group_id = $1");
GC_SQL(kPurgeMentions, "DELETE FROM mentions WHERE group_id = $1");
GC_SQL(kPurgeMarkers, "DELETE FROM read_markers WHERE group_id = $1");
GC_SQL(kPurgeEvents, "DELETE FROM events WHERE group_id = $1 AND type <> 'group.delete'");
GC_SQL(kDirectory,
       "SELECT id, count(*) OVER () FROM groups WHERE visibility = 'public' AND deleted_at IS NULL "
       "AND ($1 = '' OR strpos(lower(title), lower($1)) > 0 OR strpos(split_part(address, ':', 1), lower($1)) > 0 "
       "     OR strpos(lower(topic), lower($1)) > 0) "
       "ORDER BY last_event_at DESC, id LIMIT $2 OFFSET $3");

// The group rows of a search (id, count(*) OVER ()).
Result<std::vector<int64_t>> Rows(const Result<PgResult>& r, int64_t* total) {
  if (!r.ok()) return r.error();
  if (total) *total = r->rows() > 0 ? r->int64(0, 1) : 0;
  std::vector<int64_t> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->int64(i, 0));
  return out;
}

Result<int64_t> Count(const Result<PgResult>& r) {
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

}  // namespace

Result<std::vector<GroupStore::Membership>> PgGroupStore::MyGroups(const std::string& user) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kMyGroups, {user}); });
  if (!r.ok()) return r.error();
  std::vector<Membership> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back({r->int64(i, 0), r->int64(i, 1), r->int64(i, 2), r->int64(i, 3)});
  return out;
}

Result<std::vector<int64_t>> PgGroupStore::JoinedGroups(const std::string& user) {
  return Rows(db_.With([&](PgConn& c) { return c.Exec(kJoinedGroups, {user}); }), nullptr);
}

Result<std::optional<GroupEvent>> PgGroupStore::LastEvent(int64_t row) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLastEvent, {row}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<GroupEvent>();
  return std::optional<GroupEvent>(EventFromRow(*r, 0));
}

Result<std::vector<int64_t>> PgGroupStore::PublicDirectory(const std::string& q, int limit, int offset,
                                                           int64_t* total) {
  return Rows(db_.With([&](PgConn& c) { return c.Exec(kDirectory, {q, limit, offset}); }), total);
}

Result<std::vector<int64_t>> PgGroupStore::AdminSearch(const std::string& q, int limit, int offset, int64_t* total) {
  return Rows(db_.With([&](PgConn& c) { return c.Exec(kAdminSearch, {q, limit, offset}); }), total);
}

Result<int64_t> PgGroupStore::CountGroups() {
  return Count(db_.With([&](PgConn& c) { return c.Exec(kCountGroups); }));
}

Result<int64_t> PgGroupStore::MessageCount(int64_t row) {
  return Count(db_.With([&](PgConn& c) { return c.Exec(kMessageCount, {row}); }));
}

Result<int64_t> PgGroupStore::PurgeHistory(int64_t row) {
  return db_.Transaction([&](PgConn& c) -> Result<int64_t> {
    for (const auto* q : {&kPurgeReactions, &kPurgeMentions, &kPurgeMarkers}) {
      auto d = c.Exec(*q, {row});
      if (!d.ok()) return d.error();
    }
    auto e = c.Exec(kPurgeEvents, {row});
    if (!e.ok()) return e.error();
    return e->affected();
  });
}

}  // namespace gc
