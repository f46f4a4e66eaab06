// Email, PgNotificationStore's part: the unsubscribe key, the collect step
// (entries into email_pending), the users due a mail, their pending rows,
// retries and switches (migrations/0004_email.sql).
#include <nlohmann/json.hpp>

#include "node/db/pg.h"
#include "services/notifications/pg_notification_store.h"

namespace gc {

namespace {

GC_SQL(kEmailKeyInit, "INSERT INTO email_key (key) VALUES ($1) ON CONFLICT (one) DO NOTHING");
GC_SQL(kEmailKeyGet, "SELECT key FROM email_key");
// Queues the next entries after the cursor that may be mailed. $1: delay
// (ms); $2: oldest created_at still worth mailing (ms).
GC_SQL(kEmailCollect,
       "WITH c AS (SELECT notification_id AS cur FROM email_cursor FOR UPDATE),"
       " b AS (SELECT n.* FROM notifications n, c WHERE n.id > c.cur ORDER BY n.id LIMIT 1000),"
       " ins AS (INSERT INTO email_pending (notification_id, user_id, due_at)"
       "  SELECT b.id, b.user_id, b.created_at + $1::bigint FROM b"
       "  WHERE b.kind IN ('mention', 'reply') AND b.pushed AND b.read_at IS NULL AND b.withdrawn_at IS NULL"
       "  AND b.created_at >= $2::bigint"
       "  AND EXISTS (SELECT 1 FROM users u WHERE u.local_part = split_part(substr(b.user_id, 2), ':', 1)"
       "   AND u.email IS NOT NULL AND u.deactivated_at IS NULL)"
       "  AND NOT EXISTS (SELECT 1 FROM email_subscriptions s WHERE s.user_id = b.user_id AND NOT s.enabled)"
       "  ON CONFLICT (notification_id) DO NOTHING RETURNING 1),"
       " up AS (UPDATE email_cursor SET notification_id = (SELECT max(id) FROM b)"
       "  WHERE EXISTS (SELECT 1 FROM b) RETURNING 1)"
       " SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM ins), (SELECT count(*) FROM up)");
// Users with a due mail, oldest first. $1: now; $2: how many.
GC_SQL(kEmailDue,
       "SELECT p.user_id FROM email_pending p LEFT JOIN email_retry r ON r.user_id = p.user_id"
       " GROUP BY p.user_id, r.next_at HAVING min(p.due_at) <= $1 AND coalesce(r.next_at, 0) <= $1"
       " ORDER BY min(p.due_at) LIMIT $2");
GC_SQL(kEmailNextDue,
       "SELECT min(greatest(x.due, coalesce(r.next_at, 0))), (SELECT count(*) FROM email_pending)"
       " FROM (SELECT user_id, min(due_at) AS due FROM email_pending GROUP BY user_id) x"
       " LEFT JOIN email_retry r ON r.user_id = x.user_id");
GC_SQL(kEmailCountPending, "SELECT count(*) FROM email_pending");
GC_SQL(kEmailEnsureSub,
       "INSERT INTO email_subscriptions (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING");
// The recipient: $1 user id, $2 its local part.
GC_SQL(kEmailRecipient,
       "SELECT u.email, s.enabled, s.epoch, coalesce(r.attempts, 0) FROM email_subscriptions s"
       " LEFT JOIN users u ON u.local_part = $2 AND u.deactivated_at IS NULL"
       " LEFT JOIN email_retry r ON r.user_id = s.user_id WHERE s.user_id = $1");
GC_SQL(kEmailItems,
       "SELECT n.id, n.kind, g.address, n.event_id, n.sender, n.sender_display_name, n.group_title, n.body_preview,"
       " n.read_at IS NULL AND n.withdrawn_at IS NULL AND NOT EXISTS (SELECT 1 FROM read_markers rm"
       "  WHERE rm.group_id = n.group_id AND rm.user_id = n.user_id AND rm.seq >= n.seq)"
       " AND NOT EXISTS (SELECT 1 FROM email_subscriptions s JOIN events e ON e.event_id = n.event_id"
       "  WHERE s.user_id = n.user_id AND e.stream_pos <= s.changed_pos)"
       " FROM email_pending p JOIN notifications n ON n.id = p.notification_id JOIN groups g ON g.id = n.group_id"
       " WHERE p.user_id = $1 ORDER BY n.id LIMIT $2");
// $2: a JSON array of notification ids.
GC_SQL(kEmailDone,
       "DELETE FROM email_pending WHERE user_id = $1"
       " AND notification_id IN (SELECT (jsonb_array_elements_text($2::jsonb))::bigint)");
GC_SQL(kEmailRetryClear, "DELETE FROM email_retry WHERE user_id = $1");
GC_SQL(kEmailRetrySet,
       "INSERT INTO email_retry (user_id, attempts, next_at, last_error) VALUES ($1, 1, $2, $3)"
       " ON CONFLICT (user_id) DO UPDATE SET attempts = email_retry.attempts + 1, next_at = $2, last_error = $3");
GC_SQL(kEmailUnsubscribe,
       "UPDATE email_subscriptions SET enabled = false, epoch = epoch + 1, changed_at = $3,"
       " changed_pos = (SELECT coalesce(max(stream_pos), 0) FROM events)"
       " WHERE user_id = $1 AND epoch = $2 AND enabled");
GC_SQL(kEmailSetEnabled,
       "INSERT INTO email_subscriptions (user_id, enabled, epoch, changed_at, changed_pos)"
       " VALUES ($1, $2, 1, $3, (SELECT coalesce(max(stream_pos), 0) FROM events))"
       " ON CONFLICT (user_id) DO UPDATE SET enabled = $2, epoch = email_subscriptions.epoch + 1, changed_at = $3,"
       " changed_pos = EXCLUDED.changed_pos");
GC_SQL(kEmailPrefs,
       "SELECT u.email, coalesce((SELECT s.enabled FROM email_subscriptions s WHERE s.user_id = $1), true)"
       " FROM users u WHERE u.local_part = $2");

// A local user id's local part ("@bob:acme.test" -> "bob").
std::string EmailLocalPart(const std::string& user) {
  size_t colon = user.find(':');
  return user.size() > 1 ? user.substr(1, colon == std::string::npos ? std::string::npos : colon - 1) : "";
}

}  // namespace

Result<std::string> PgNotificationStore::EmailKey(const std::string& fresh) {
  return db_.With([&](PgConn& c) -> Result<std::string> {
    auto ins = c.Exec(kEmailKeyInit, {PgParam::Bytes(fresh)});
    if (!ins.ok()) return ins.error();
    auto r = c.Exec(kEmailKeyGet);
    if (!r.ok()) return r.error();
    if (r->rows() != 1) return Error::Internal("email_key has no key");
    return r->bytes(0, 0);
  });
}

Result<int64_t> PgNotificationStore::CollectEmail(int64_t delay_ms, int64_t oldest) {
  auto r = db_.Transaction([&](PgConn& c) { return c.Exec(kEmailCollect, {delay_ms, oldest}); });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Result<NotificationStore::MailQueue> PgNotificationStore::EmailQueue(int64_t now, int limit) {
  MailQueue q;
  Status st = db_.With([&](PgConn& c) -> Status {
    if (limit > 0) {
      auto r = c.Exec(kEmailDue, {now, limit});
      if (!r.ok()) return r.error();
      for (int i = 0; i < r->rows(); ++i) q.due_users.push_back(r->text(i, 0));
    }
    auto next = c.Exec(kEmailNextDue);
    if (!next.ok()) return next.error();
    q.next_due = next->is_null(0, 0) ? 0 : next->int64(0, 0);
    q.pending = next->int64(0, 1);
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return q;
}

Result<int64_t> PgNotificationStore::CountPendingEmail() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kEmailCountPending); });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Result<NotificationStore::Recipient> PgNotificationStore::MailFor(const std::string& user, int limit) {
  Recipient out;
  Status st = db_.With([&](PgConn& c) -> Status {
    GC_TRY(c.Exec(kEmailEnsureSub, {user}));
    auto who = c.Exec(kEmailRecipient, {user, EmailLocalPart(user)});
    if (!who.ok()) return who.error();
    if (who->rows() == 0) return Error::Internal("no subscription row");
    out.email = who->opt_text(0, 0);
    out.enabled = who->boolean(0, 1);
    out.epoch = who->int64(0, 2);
    out.attempts = static_cast<int>(who->int64(0, 3));
    auto items = c.Exec(kEmailItems, {user, limit});
    if (!items.ok()) return items.error();
    for (int i = 0; i < items->rows(); ++i) {
      PendingMailItem m;
      m.notification_id = items->int64(i, 0);
      m.kind = items->text(i, 1);
      m.group_id = items->text(i, 2);
      m.event_id = items->text(i, 3);
      m.sender = items->text(i, 4);
      m.sender_display_name = items->text(i, 5);
      m.group_title = items->text(i, 6);
      m.body_preview = items->text(i, 7);
      m.still_wanted = items->boolean(i, 8);
      out.items.push_back(std::move(m));
    }
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return out;
}

Status PgNotificationStore::MailDone(const std::string& user, const std::vector<int64_t>& ids,
                                     std::optional<int64_t> retry_at, const std::string& error) {
  nlohmann::json list(ids);
  return db_.Transaction([&](PgConn& c) -> Status {
    if (retry_at) {
      GC_TRY(c.Exec(kEmailRetrySet, {user, *retry_at, error}));
      return OkStatus();
    }
    GC_TRY(c.Exec(kEmailDone, {user, list.dump()}));
    GC_TRY(c.Exec(kEmailRetryClear, {user}));
    return OkStatus();
  });
}

Result<bool> PgNotificationStore::Unsubscribe(const std::string& user, int64_t epoch, int64_t now) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kEmailUnsubscribe, {user, epoch, now}); });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Status PgNotificationStore::SetEmailEnabled(const std::string& user, bool enabled, int64_t now) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kEmailSetEnabled, {user, enabled, now}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::optional<std::pair<std::optional<std::string>, bool>>> PgNotificationStore::EmailPrefs(
    const std::string& user) {
  using Prefs = std::optional<std::pair<std::optional<std::string>, bool>>;
  auto r = db_.With([&](PgConn& c) { return c.Exec(kEmailPrefs, {user, EmailLocalPart(user)}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return Prefs();
  return Prefs(std::make_pair(r->opt_text(0, 0), r->boolean(0, 1)));
}

}  // namespace gc
