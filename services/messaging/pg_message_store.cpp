#include "services/messaging/pg_message_store.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "node/db/pg.h"
#include "node/db/pg_array.h"
#include "services/groups/projections.h"

namespace gc {

namespace {

GC_SQL(kByTxn, "SELECT " GC_EVENT_COLUMNS " FROM events e JOIN groups g ON g.id = e.group_id "
               "WHERE e.sender = $1 AND e.txn_id = $2");
GC_SQL(kTarget, "SELECT sender, type, deleted_at IS NOT NULL FROM events WHERE event_id = $1 AND group_id = $2");
GC_SQL(kHasReaction, "SELECT 1 FROM reactions WHERE target = $1 AND user_id = $2 AND key = $3");
GC_SQL(kHistoryLatest, "SELECT " GC_EVENT_COLUMNS " FROM events e JOIN groups g ON g.id = e.group_id "
                       "WHERE e.group_id = $1 ORDER BY e.seq DESC LIMIT $2");
GC_SQL(kHistoryBefore, "SELECT " GC_EVENT_COLUMNS " FROM events e JOIN groups g ON g.id = e.group_id "
                       "WHERE e.group_id = $1 AND e.seq < $3 ORDER BY e.seq DESC LIMIT $2");
GC_SQL(kHistoryAfter, "SELECT " GC_EVENT_COLUMNS " FROM events e JOIN groups g ON g.id = e.group_id "
                      "WHERE e.group_id = $1 AND e.seq > $3 ORDER BY e.seq ASC LIMIT $2");
GC_SQL(kReactionsOf,
       "SELECT target, key, array_to_json(array_agg(user_id ORDER BY stream_pos))::text FROM reactions "
       "WHERE target = ANY($1::text[]) GROUP BY target, key");
GC_SQL(kReplicaStart, "SELECT base_seq, server FROM groups WHERE id = $1");
GC_SQL(kMarkRead,
       "INSERT INTO read_markers (group_id, user_id, seq) VALUES ($1, $2, $3) "
       "ON CONFLICT (group_id, user_id) DO UPDATE SET seq = greatest(read_markers.seq, EXCLUDED.seq)");
GC_SQL(kMentions,
       "SELECT " GC_EVENT_COLUMNS " FROM mentions x JOIN events e ON e.stream_pos = x.stream_pos "
       "JOIN groups g ON g.id = e.group_id "
       "JOIN group_members m ON m.group_id = e.group_id AND m.user_id = x.user_id AND m.membership = 'join' "
       "WHERE x.user_id = $1 AND x.stream_pos < $2 AND g.deleted_at IS NULL "
       "ORDER BY x.stream_pos DESC LIMIT $3");
GC_SQL(kSearch,
       "SELECT " GC_EVENT_COLUMNS ", ts_rank(s.search, q) AS rank "
       "FROM event_search s JOIN events e ON e.stream_pos = s.stream_pos JOIN groups g ON g.id = s.group_id "
       "JOIN group_members m ON m.group_id = s.group_id AND m.user_id = $1 AND m.membership = 'join', "
       "plainto_tsquery('simple', $2) q "
       "WHERE s.search @@ q AND g.deleted_at IS NULL "
       "ORDER BY rank DESC, e.stream_pos DESC LIMIT $3 OFFSET $4");

GC_SQL(kEventsSince,
       "SELECT " GC_EVENT_COLUMNS " FROM events e JOIN groups g ON g.id = e.group_id "
       "WHERE e.stream_pos > $1 AND e.stream_pos <= $2 "
       "AND (e.group_id = ANY($3::bigint[]) OR (e.type = 'member' AND e.content ->> 'user_id' = $4)) "
       "ORDER BY e.stream_pos LIMIT $5");

GC_SQL(kMessagesToday,
       "SELECT count(*) FROM events WHERE type = 'message' "
       "AND origin_ts >= (extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC')) * 1000)::bigint");
GC_SQL(kMessagesPerHour,
       "SELECT (($1::bigint - origin_ts) / 3600000)::int AS ago, count(*) FROM events "
       "WHERE type = 'message' AND origin_ts > $1::bigint - 24 * 3600000 GROUP BY ago");

std::vector<GroupEvent> Events(const PgResult& r) {
  std::vector<GroupEvent> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) out.push_back(EventFromRow(r, i));
  return out;
}

}  // namespace

Result<std::optional<GroupEvent>> PgMessageStore::FindByTxn(const std::string& sender, const std::string& txn) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kByTxn, {sender, txn}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<GroupEvent>();
  return std::optional<GroupEvent>(EventFromRow(*r, 0));
}

Result<HistoryPage> PgMessageStore::Page(int64_t row, std::optional<int64_t> before, std::optional<int64_t> after,
                                         int limit) {
  HistoryPage page;
  auto st = db_.With([&](PgConn& c) -> Status {
    Result<PgResult> r = Error::Internal("unset");
    if (after) r = c.Exec(kHistoryAfter, {row, limit + 1, *after});
    else if (before) r = c.Exec(kHistoryBefore, {row, limit + 1, *before});
    else r = c.Exec(kHistoryLatest, {row, limit + 1});
    if (!r.ok()) return r.error();
    int n = r->rows();
    page.has_more = n > limit;
    for (int i = 0; i < std::min(n, limit); ++i) page.events.push_back(EventFromRow(*r, i));
    if (!after) std::reverse(page.events.begin(), page.events.end());
    PgArray ids;
    for (const auto& e : page.events) {
      if (e.type == "message" && !e.deleted_at) ids.Add(e.event_id);
    }
    if (!ids.empty()) {
      auto rx = c.Exec(kReactionsOf, {ids.str()});
      if (!rx.ok()) return rx.error();
      for (int i = 0; i < rx->rows(); ++i) {
        page.reactions[rx->text(i, 0)][rx->text(i, 1)] =
            nlohmann::json::parse(rx->view(i, 2)).get<std::vector<std::string>>();
      }
    }
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return page;
}

Result<std::optional<LogStart>> PgMessageStore::LogStartOf(int64_t row) {
  auto g = db_.With([&](PgConn& c) { return c.Exec(kReplicaStart, {row}); });
  if (!g.ok()) return g.error();
  if (g->rows() == 0) return std::optional<LogStart>();
  return std::optional<LogStart>(LogStart{g->int64(0, 0), g->text(0, 1)});
}

Status PgMessageStore::MarkRead(int64_t row, const std::string& user, int64_t seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kMarkRead, {row, user, seq}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::vector<GroupEvent>> PgMessageStore::Mentions(const std::string& user, int64_t before_pos, int limit) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kMentions, {user, before_pos, limit}); });
  if (!r.ok()) return r.error();
  return Events(*r);
}

Result<std::vector<SearchHit>> PgMessageStore::Search(const std::string& user, const std::string& query, int limit,
                                                      int offset) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kSearch, {user, query, limit, offset}); });
  if (!r.ok()) return r.error();
  std::vector<SearchHit> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back({EventFromRow(*r, i), r->float64(i, 14)});
  return out;
}

Result<MessageStats> PgMessageStore::Stats(int64_t now_ms) {
  MessageStats s;
  s.last_24h.assign(24, 0);
  auto st = db_.With([&](PgConn& c) -> Status {
    auto t = c.Exec(kMessagesToday);
    if (!t.ok()) return t.error();
    s.today = t->int64(0, 0);
    auto h = c.Exec(kMessagesPerHour, {now_ms});
    if (!h.ok()) return h.error();
    for (int i = 0; i < h->rows(); ++i) {
      int64_t ago = h->int64(i, 0);
      if (ago >= 0 && ago < 24) s.last_24h[23 - ago] = h->int64(i, 1);
    }
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return s;
}

Result<std::vector<GroupEvent>> PgMessageStore::EventsSince(const std::string& user,
                                                            const std::vector<int64_t>& groups, int64_t since,
                                                            int64_t upto, int limit) {
  std::string arr = PgArray::Of(groups);
  auto r = db_.With([&](PgConn& c) { return c.Exec(kEventsSince, {since, upto, arr, user, limit}); });
  if (!r.ok()) return r.error();
  return Events(*r);
}

Result<std::optional<MessageTarget>> PgMessageStore::Target(OpContext& ctx, const std::string& event_id,
                                                            int64_t group_row) {
  auto r = ctx.conn.Exec(kTarget, {event_id, group_row});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<MessageTarget>();
  return std::optional<MessageTarget>(MessageTarget{r->text(0, 0), r->text(0, 1), r->boolean(0, 2)});
}

Result<bool> PgMessageStore::HasReaction(OpContext& ctx, const std::string& event_id, const std::string& user,
                                         const std::string& key) {
  auto has = ctx.conn.Exec(kHasReaction, {event_id, user, key});
  if (!has.ok()) return has.error();
  return has->rows() > 0;
}

}  // namespace gc
