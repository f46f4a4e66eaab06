// Pushers and the push queue, PgNotificationStore's part: the users' own
// pushers, the queue the sender delivers, and the admin's directory.
#include "node/db/pg.h"
#include "services/notifications/pg_notification_store.h"

namespace gc {

namespace {

// What every pusher row query reads first, from `pushers` aliased `p`, and
// the one mapper from it (PusherFromRow): the user's own list and
// registration, and the admin's directory (which adds user and queue).
#define GC_PUSHER_COLUMNS "p.id, p.kind, p.url, p.created_at, p.last_success_at, p.last_error, p.failures"
constexpr int kPusherColumns = 7;  // how many GC_PUSHER_COLUMNS are

GC_SQL(kPushCount, "SELECT count(*), coalesce(bool_or(url = $2), false) FROM pushers WHERE user_id = $1");
GC_SQL(kPushUpsert,
       "INSERT INTO pushers AS p (user_id, kind, url, secret, created_at, p256dh, auth) VALUES ($1, $2, $3, $4, $5, $6, $7)"
       " ON CONFLICT (user_id, url) DO UPDATE SET secret = EXCLUDED.secret, kind = EXCLUDED.kind,"
       " p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth"
       " RETURNING " GC_PUSHER_COLUMNS ", p.secret");
GC_SQL(kPushList, "SELECT " GC_PUSHER_COLUMNS " FROM pushers p WHERE p.user_id = $1 ORDER BY p.id");
// A browser's endpoint registered by someone else before ($2: the user now).
GC_SQL(kPushTakeOver, "DELETE FROM pushers WHERE url = $1 AND kind = 'webpush' AND user_id <> $2");
GC_SQL(kPushRemove, "DELETE FROM pushers WHERE user_id = $1 AND id = $2");
// The oldest due row of each pusher. $1: now (ms); $2: how many.
// Columns 5..18 are an entry as EntryFromRow reads it (GC_NOTIFICATION_COLUMNS).
GC_SQL(kPushDue,
       "SELECT * FROM (SELECT DISTINCT ON (q.pusher_id) q.id AS queue_id, q.pusher_id, q.attempts, p.url, p.secret,"
       " n.id AS notification_id, n.user_id, n.kind, g.address, coalesce(n.last_event_id, n.event_id), n.sender,"
       " n.sender_display_name, n.group_title, n.body_preview, n.created_at, n.read_at IS NOT NULL,"
       " n.withdrawn_at IS NOT NULL, n.pushed, n.count,"
       " p.kind, coalesce(p.p256dh, ''), coalesce(p.auth, '')"
       " FROM push_queue q JOIN pushers p ON p.id = q.pusher_id JOIN notifications n ON n.id = q.notification_id"
       " JOIN groups g ON g.id = n.group_id WHERE q.next_at <= $1 ORDER BY q.pusher_id, q.id) d"
       " ORDER BY d.queue_id LIMIT $2");
GC_SQL(kPushNextDue,
       "SELECT min(q.next_at), count(*) FILTER (WHERE p.kind = 'webhook'), count(*) FILTER (WHERE p.kind = 'webpush')"
       " FROM push_queue q JOIN pushers p ON p.id = q.pusher_id");
GC_SQL(kPushDone, "DELETE FROM push_queue WHERE id = $1");
// A delivery, in one statement (no transaction round trips): $1 the queue
// row, $2 its pusher, $3 now.
GC_SQL(kPushDelivered,
       "WITH d AS (DELETE FROM push_queue WHERE id = $1)"
       " UPDATE pushers SET last_success_at = $3, last_error = NULL, failures = 0 WHERE id = $2");
GC_SQL(kPushGone, "DELETE FROM pushers WHERE id = $1");
GC_SQL(kPushRetry, "UPDATE push_queue SET attempts = attempts + 1, next_at = $2 WHERE id = $1");
GC_SQL(kPushFailed, "UPDATE pushers SET last_error = $2, failures = failures + 1 WHERE id = $1");

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

// Row `i` of `r`, whose first columns are GC_PUSHER_COLUMNS, into `p`
// (a PusherStatus, or a type built on it).
void PusherFromRow(const PgResult& r, int i, PusherStatus* p) {
  p->pusher_id = r.int64(i, 0);
  p->kind = r.text(i, 1);
  p->url = r.text(i, 2);
  p->created_at = r.int64(i, 3);
  p->last_success_at = r.opt_int64(i, 4);
  p->last_error = r.opt_text(i, 5);
  p->failures = static_cast<int>(r.int64(i, 6));
}

// GC_PUSHER_RECORD_COLUMNS: a pusher, then its user and queued pushes.
PusherRecord PusherRecordFromRow(const PgResult& r, int i) {
  PusherRecord p;
  PusherFromRow(r, i, &p);
  p.user_id = r.text(i, kPusherColumns);
  p.queued = r.int64(i, kPusherColumns + 1);
  return p;
}

}  // namespace

Result<Pusher> PgNotificationStore::AddPusher(const std::string& user, const std::string& kind,
                                              const std::string& url, const std::string& secret,
                                              const std::optional<std::string>& p256dh,
                                              const std::optional<std::string>& auth, int64_t now, int max_per_user) {
  return db_.Transaction([&](PgConn& c) -> Result<Pusher> {
    if (kind == "webpush") GC_TRY(c.Exec(kPushTakeOver, {url, user}));
    auto n = c.Exec(kPushCount, {user, url});
    if (!n.ok()) return n.error();
    if (n->int64(0, 0) >= max_per_user && !n->boolean(0, 1)) {
      return Error::Conflict("at most " + std::to_string(max_per_user) + " pushers per user: remove one first",
                             "too_many_pushers");
    }
    auto r = c.Exec(kPushUpsert, {user, kind, url, secret, now, p256dh, auth});
    if (!r.ok()) return r.error();
    Pusher p;
    PusherFromRow(*r, 0, &p);
    p.secret = r->text(0, kPusherColumns);
    return p;
  });
}

Result<std::vector<Pusher>> PgNotificationStore::Pushers(const std::string& user) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPushList, {user}); });
  if (!r.ok()) return r.error();
  std::vector<Pusher> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.emplace_back();
    PusherFromRow(*r, i, &out.back());
  }
  return out;
}

Result<bool> PgNotificationStore::RemovePusher(const std::string& user, int64_t pusher_id) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPushRemove, {user, pusher_id}); });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Result<std::pair<std::vector<DuePush>, NotificationStore::QueueState>> PgNotificationStore::DuePushes(
    int64_t now, int limit, const std::set<int64_t>& skip) {
  std::pair<std::vector<DuePush>, QueueState> out;
  Status st = db_.With([&](PgConn& c) -> Status {
    auto r = c.Exec(kPushDue, {now, limit + static_cast<int>(skip.size())});
    if (!r.ok()) return r.error();
    for (int i = 0; i < r->rows() && static_cast<int>(out.first.size()) < limit; ++i) {
      DuePush job;
      job.queue_id = r->int64(i, 0);
      job.pusher_id = r->int64(i, 1);
      if (skip.count(job.pusher_id)) continue;  // one at a time per pusher
      job.attempts = static_cast<int>(r->int64(i, 2));
      job.url = r->text(i, 3);
      job.secret = r->text(i, 4);
      job.entry = EntryFromRow(*r, i, 5);  // columns 5..18
      job.kind = r->text(i, 19);
      job.p256dh = r->text(i, 20);
      job.auth = r->text(i, 21);
      out.first.push_back(std::move(job));
    }
    auto next = c.Exec(kPushNextDue);
    if (!next.ok()) return next.error();
    out.second.next_due = next->is_null(0, 0) ? 0 : next->int64(0, 0);
    out.second.webhook = next->int64(0, 1);
    out.second.webpush = next->int64(0, 2);
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return out;
}

Status PgNotificationStore::PushDelivered(int64_t queue_id, int64_t pusher_id, int64_t now) {
  // One statement, no transaction round trips: nearly every push is one.
  return db_.With([&](PgConn& c) -> Status {
    GC_TRY(c.Exec(kPushDelivered, {queue_id, pusher_id, now}));
    return OkStatus();
  });
}

Status PgNotificationStore::PusherGone(int64_t pusher_id) {
  return db_.With([&](PgConn& c) -> Status {
    GC_TRY(c.Exec(kPushGone, {pusher_id}));
    return OkStatus();
  });
}

Status PgNotificationStore::PushFailed(int64_t queue_id, int64_t pusher_id, std::optional<int64_t> retry_at,
                                       const std::string& error) {
  return db_.Transaction([&](PgConn& c) -> Status {
    if (retry_at) {
      GC_TRY(c.Exec(kPushRetry, {queue_id, *retry_at}));
    } else {
      GC_TRY(c.Exec(kPushDone, {queue_id}));
    }
    GC_TRY(c.Exec(kPushFailed, {pusher_id, error}));
    return OkStatus();
  });
}

Result<std::pair<std::vector<PusherRecord>, int64_t>> PgNotificationStore::AllPushers(const std::string& user,
                                                                                      int limit, int offset) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPusherDirList, {user, limit, offset}); });
  if (!r.ok()) return r.error();
  std::pair<std::vector<PusherRecord>, int64_t> out;
  for (int i = 0; i < r->rows(); ++i) out.first.push_back(PusherRecordFromRow(*r, i));
  out.second = r->rows() > 0 ? r->int64(0, 9) : 0;
  return out;
}

Result<std::vector<PusherKindStats>> PgNotificationStore::PusherStats() {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPusherDirStats); });
  if (!r.ok()) return r.error();
  std::vector<PusherKindStats> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->text(i, 0), r->int64(i, 1), r->int64(i, 2), r->int64(i, 3)});
  }
  return out;
}

Result<std::optional<PusherRecord>> PgNotificationStore::RemoveAnyPusher(int64_t pusher_id) {
  return db_.Transaction([&](PgConn& c) -> Result<std::optional<PusherRecord>> {
    auto r = c.Exec(kPusherDirGet, {pusher_id});
    if (!r.ok()) return r.error();
    if (r->rows() == 0) return std::optional<PusherRecord>();
    PusherRecord p = PusherRecordFromRow(*r, 0);
    auto d = c.Exec(kPusherDirRemove, {pusher_id});
    if (!d.ok()) return d.error();
    return std::optional<PusherRecord>(std::move(p));
  });
}

}  // namespace gc

#undef GC_PUSHER_RECORD_COLUMNS
#undef GC_PUSHER_COLUMNS
