// The worker's and the inbox's half of PgNotificationStore: the statement
// that makes a range of the group log into entries (every rule of
// notification_service.h in one INSERT ... SELECT ... ON CONFLICT, which
// coalesces plain messages per user and group), withdrawals, the inbox,
// read marks, levels and do-not-disturb.
#include <climits>

#include "node/db/pg.h"
#include "services/notifications/pg_notification_store.h"

namespace gc {

namespace {

// The columns of an entry, as every query below returns them (n: the
// notifications row, g: its group).
// A coalesced entry's event is its latest message (migration 0008).
#define GC_NOTIFICATION_COLUMNS                                                                              \
  "n.id, n.user_id, n.kind, g.address, coalesce(n.last_event_id, n.event_id), n.sender, n.sender_display_name, " \
  "n.group_title, n.body_preview, n.created_at, n.read_at IS NOT NULL, n.withdrawn_at IS NOT NULL, n.pushed, n.count"

// Whether an address ("@bob:acme.test") is of this node ($3): a string test
// on the member row, no lookup per member.
#define GC_NOTIF_LOCAL(col) "right(" col ", -position(':' in " col ")) = $3::text"
// A local address's local part.
#define GC_NOTIF_LOCAL_PART(col) "split_part(substr(" col ", 2), ':', 1)"

// Every rule of the header, applied to the events in ($1, $2] by PostgreSQL
// in one statement, which also owes a push of each entry made or added to
// outside do-not-disturb to every pusher of its user and adds the new
// entries to their users' unread counts. A user's plain messages of one
// group in the range are one row, upserted into their unread `message`
// entry of the group (ON CONFLICT on notifications_open_message; `fresh`
// tells a new row from an updated one). It answers the entries that are
// announced (every kind but `message`; see the header) with their user's
// unread count after them, and in every row the number of entries made and
// of messages added to an entry instead (recipients notified = the sum);
// one row of NULLs and those numbers when none is announced. $3: this node's name; $4: now (ms). Do-not-disturb is
// judged at the event's origin_ts, so a backlog after a restart does not
// push what arrived while the user was away from it (with the user's current
// dnd_until: a DND ended early before the worker got there does push).
//
// Its cost is per member of each event's group, so that part is kept to a
// string test and two hash probes: a member is local by its address's
// suffix, not a join to users (deactivated users are the few rows of a
// hashed subplan, users_deactivated); levels come from two small sets read
// once per statement (the overrides in the range's groups, the settings
// that differ from the defaults) instead of two index lookups per member;
// whatever depends on the event alone (its group's title, the sender's
// name, the sender of the message it answers) is looked up once per event.
// The statement runs with a generic plan, made once per connection with the
// statistics of the moment: on a new node, while `events` is small, and it
// lives until autovacuum next analyzes the table. So every read of `events`
// and `group_members` has one way in whatever the statistics say, bounded
// by the range: the range's events are read by stream_pos alone (r,
// materialized; joined to `groups` as a whole, the plan could read the whole
// group's log through (group_id, seq) and intersect it with the range), the
// answered message by its event_id alone (the group compared after: with the
// group in its WHERE, the plan scanned the group's log per event, ~90% of
// PostgreSQL's time at ingest5), and the local joined members once per group
// of the range (mem), not once per event (bench/RESULTS.md, perf20).
// At a fixed 100 msg/s to 500 members, the per-member lookups and the
// statement's custom plan (MakeRange runs it with a generic one) cost
// ~12 ms of PostgreSQL per statement of ~5 events (bench/RESULTS.md).
GC_SQL(kNotifMake,
       "WITH r AS MATERIALIZED ("
       "  SELECT e.stream_pos, e.event_id, e.group_id, e.seq, e.type, e.sender, e.content, e.origin_ts FROM events e"
       "  WHERE e.stream_pos > $1::bigint AND e.stream_pos <= $2::bigint AND e.deleted_at IS NULL"
       "  AND (e.type = 'message' OR (e.type = 'member' AND e.content ->> 'membership' = 'invite'))"
       "), ev AS ("
       "  SELECT r.*, g.title, coalesce(su.display_name, '') AS sender_name, r.content -> 'mentions' AS mentions,"
       "   (SELECT CASE WHEN t.group_id = r.group_id THEN t.sender END FROM events t"
       "    WHERE t.event_id = r.content ->> 'reply_to') AS reply_to_sender FROM r"
       "  JOIN groups g ON g.id = r.group_id AND g.deleted_at IS NULL"
       "  LEFT JOIN users su ON " GC_NOTIF_LOCAL("r.sender") " AND su.local_part = " GC_NOTIF_LOCAL_PART("r.sender")
       "), mem AS MATERIALIZED ("
       "  SELECT m.group_id, m.user_id, m.since_seq FROM group_members m"
       "  WHERE m.group_id IN (SELECT group_id FROM r) AND m.membership = 'join' AND " GC_NOTIF_LOCAL("m.user_id")
       "), lv AS MATERIALIZED ("
       "  SELECT user_id, group_id, level FROM notification_group_levels WHERE group_id IN (SELECT group_id FROM ev)"
       "), st AS MATERIALIZED ("
       "  SELECT user_id, default_level, dnd_until FROM notification_settings"
       "  WHERE default_level <> 'all' OR dnd_until IS NOT NULL"
       // From here on a row per (event, recipient) carries the event's
       // position and what the rules need, not the event itself (its content,
       // sender, title): at 50 members the copies of those wide rows through
       // the CTEs, the hash and the sort were most of the statement. The few
       // entries made join their events back (e: the entry's, f: the first of
       // a coalesced entry) at the end.
       "), cand AS ("
       "  SELECT ev.stream_pos, ev.group_id, ev.origin_ts, m.user_id AS recipient,"
       "   CASE WHEN coalesce(ev.mentions ? m.user_id, false) THEN 'mention'"
       "        WHEN ev.reply_to_sender = m.user_id THEN 'reply' ELSE 'message' END AS kind"
       "  FROM ev JOIN mem m ON m.group_id = ev.group_id AND m.since_seq <= ev.seq"
       "  WHERE ev.type = 'message' AND m.user_id <> ev.sender"
       "  UNION ALL"
       "  SELECT ev.stream_pos, ev.group_id, ev.origin_ts, ev.content ->> 'user_id', 'invite' FROM ev"
       "  WHERE ev.type = 'member' AND ev.content ->> 'user_id' <> ev.sender AND " GC_NOTIF_LOCAL("(ev.content ->> 'user_id')")
       "), ruled AS ("
       "  SELECT c.*, coalesce(gl.level, s.default_level, 'all') AS level,"
       "   (s.dnd_until IS NULL OR s.dnd_until <= c.origin_ts) AS push FROM cand c"
       "  LEFT JOIN lv gl ON gl.user_id = c.recipient AND gl.group_id = c.group_id"
       "  LEFT JOIN st s ON s.user_id = c.recipient"
       "  WHERE " GC_NOTIF_LOCAL_PART("c.recipient") " NOT IN (SELECT local_part FROM users WHERE deactivated_at IS NOT NULL)"
       "), keep AS ("
       "  SELECT r.* FROM ruled r"
       "  WHERE r.level = 'all' OR (r.level = 'mentions' AND r.kind IN ('mention', 'reply'))"
       "   OR (r.kind = 'invite' AND r.level <> 'none')"
       // The plain messages of one (user, group) in the range, as one row:
       // the latest (joined back by its position), with the first one and
       // how many there are (positions follow seq within a group). (A window
       // with last_value over the whole partition was quadratic in the
       // messages of a range: once the worker fell behind, its ranges grew
       // and it fell further behind.)
       "), agg AS ("
       "  SELECT k.recipient, count(*) AS n_msgs, max(k.stream_pos) AS last_pos, min(k.stream_pos) AS first_pos"
       "  FROM keep k WHERE k.kind = 'message' GROUP BY k.recipient, k.group_id"
       "), ent AS ("
       "  SELECT k.stream_pos, k.recipient, k.kind, k.push, 1::bigint AS n_msgs, k.stream_pos AS first_pos,"
       "   false AS coalesced FROM keep k WHERE k.kind <> 'message'"
       "  UNION ALL"
       "  SELECT a.last_pos, a.recipient, 'message', k.push, a.n_msgs, a.first_pos, true FROM agg a"
       "  JOIN keep k ON k.recipient = a.recipient AND k.stream_pos = a.last_pos"
       // A plain message where the user has an unread `message` entry of the
       // group updates it (HOT: no indexed column changes); other kinds
       // never meet the arbiter's predicate and are always new rows.
       "), n AS ("
       "  INSERT INTO notifications AS x (user_id, kind, group_id, event_id, seq, sender, sender_display_name,"
       "   group_title, body_preview, created_at, pushed, count, last_event_id, last_seq)"
       "  SELECT r.recipient, r.kind, e.group_id, f.event_id, f.seq, e.sender, e.sender_name, e.title,"
       "   CASE WHEN r.kind = 'invite' THEN '' ELSE left(coalesce(e.content ->> 'body', ''), 140) END,"
       "   $4::bigint, r.push, r.n_msgs, CASE WHEN r.coalesced THEN e.event_id END,"
       "   CASE WHEN r.coalesced THEN e.seq END"
       "  FROM ent r JOIN ev e ON e.stream_pos = r.stream_pos JOIN ev f ON f.stream_pos = r.first_pos"
       "  ORDER BY r.stream_pos, r.recipient"
       "  ON CONFLICT (group_id, user_id) WHERE kind = 'message' AND read_at IS NULL DO UPDATE SET"
       "   count = x.count + EXCLUDED.count, last_event_id = EXCLUDED.last_event_id, last_seq = EXCLUDED.last_seq,"
       "   sender = EXCLUDED.sender, sender_display_name = EXCLUDED.sender_display_name,"
       "   group_title = EXCLUDED.group_title, body_preview = EXCLUDED.body_preview,"
       "   created_at = EXCLUDED.created_at, pushed = EXCLUDED.pushed"
       "  RETURNING x.*, x.xmax = 0 AS fresh"
       "), q AS ("
       "  INSERT INTO push_queue (pusher_id, notification_id, next_at)"
       "  SELECT p.id, n.id, $4::bigint FROM n JOIN pushers p ON p.user_id = n.user_id WHERE n.pushed ORDER BY n.id, p.id"
       "), u AS ("
       "  INSERT INTO notification_unread (user_id, unread)"
       "  SELECT n.user_id, count(*) FROM n WHERE n.fresh GROUP BY n.user_id"
       "  ON CONFLICT (user_id) DO UPDATE SET unread = notification_unread.unread + EXCLUDED.unread"
       "  RETURNING user_id, unread"
       "), k AS (SELECT count(*) FILTER (WHERE n.fresh) AS made,"
       "  (SELECT count(*) FROM keep) - count(*) FILTER (WHERE n.fresh) AS merged FROM n"
       ") SELECT " GC_NOTIFICATION_COLUMNS ", u.unread, k.made, k.merged FROM k LEFT JOIN (n JOIN groups g"
       " ON g.id = n.group_id JOIN u ON u.user_id = n.user_id) ON n.kind <> 'message' ORDER BY n.id");
// Messages deleted in ($1, $2] (at now, $3; $4: this node's name), by the
// entries they touch:
// - an entry of the message itself (its own event, or a coalesced entry's
//   first message): withdrawn (read, preview blanked: the unread counts lose
//   the ones that were not), or, for a coalesced entry that stands for more
//   messages, one message fewer;
// - an unread coalesced entry whose latest message it was: pointed back at
//   the newest message left of the entry (one fewer), or withdrawn if none
//   is left. A read coalesced entry keeps its row; the inbox shows it
//   withdrawn when its latest message is deleted (kNotifInbox).
// One action per entry and range (a withdrawal first). The rows are locked
// first so that `was_unread` is what this statement changes, whatever a
// concurrent read did. Each withdrawn or re-pointed entry is pushed again
// where it was pushed. Answers every entry changed, with its user's unread
// count and the action.
GC_SQL(kNotifWithdraw,
       "WITH d AS ("
       "  SELECT e.group_id, e.content ->> 'event_id' AS gone FROM events e"
       "  WHERE e.stream_pos > $1::bigint AND e.stream_pos <= $2::bigint AND e.type = 'message.delete'"
       "), own AS ("
       "  SELECT x.id, x.read_at IS NULL AS was_unread, x.kind = 'message' AND x.count > 1 AS shrink"
       "  FROM d JOIN notifications x ON x.event_id = d.gone AND x.group_id = d.group_id"
       "  WHERE x.withdrawn_at IS NULL ORDER BY x.id FOR UPDATE OF x"
       "), latest AS ("
       "  SELECT x.id, x.user_id, x.group_id, x.seq, x.last_seq FROM d JOIN notifications x"
       "   ON x.group_id = d.group_id AND x.kind = 'message' AND x.read_at IS NULL AND x.last_event_id = d.gone"
       "  WHERE x.event_id <> d.gone AND x.withdrawn_at IS NULL ORDER BY x.id FOR UPDATE OF x"
       "), prev AS ("
       "  SELECT l.id, p.event_id, p.seq, p.sender, p.content, coalesce(su.display_name, '') AS name FROM latest l"
       "  LEFT JOIN LATERAL (SELECT e.event_id, e.seq, e.sender, e.content FROM events e"
       "   WHERE e.group_id = l.group_id AND e.seq >= l.seq AND e.seq < l.last_seq AND e.type = 'message'"
       "   AND e.deleted_at IS NULL AND e.sender <> l.user_id"
       "   AND NOT coalesce(e.content -> 'mentions' ? l.user_id, false)"
       "   ORDER BY e.seq DESC LIMIT 1) p ON true"
       "  LEFT JOIN users su ON right(p.sender, -position(':' in p.sender)) = $4::text"
       "   AND su.local_part = split_part(substr(p.sender, 2), ':', 1)"
       "), plan AS ("
       "  SELECT DISTINCT ON (id) * FROM ("
       "   SELECT id, was_unread, CASE WHEN shrink THEN 'shrink' ELSE 'withdraw' END AS act, NULL::text AS ev,"
       "    NULL::bigint AS sq, NULL::text AS snd, NULL::text AS nm, NULL::jsonb AS body FROM own"
       "   UNION ALL"
       "   SELECT id, true, CASE WHEN event_id IS NULL THEN 'withdraw' ELSE 'repoint' END, event_id, seq, sender,"
       "    name, content FROM prev) a"
       "  ORDER BY id, act DESC"
       "), n AS ("
       "  UPDATE notifications x SET"
       "   withdrawn_at = CASE WHEN p.act = 'withdraw' THEN $3::bigint END,"
       "   read_at = CASE WHEN p.act = 'withdraw' THEN coalesce(x.read_at, $3::bigint) ELSE x.read_at END,"
       "   body_preview = CASE p.act WHEN 'withdraw' THEN '' WHEN 'repoint'"
       "    THEN left(coalesce(p.body ->> 'body', ''), 140) ELSE x.body_preview END,"
       "   count = CASE WHEN p.act = 'withdraw' THEN x.count ELSE greatest(x.count - 1, 1) END,"
       "   last_event_id = CASE WHEN p.act = 'repoint' THEN p.ev ELSE x.last_event_id END,"
       "   last_seq = CASE WHEN p.act = 'repoint' THEN p.sq ELSE x.last_seq END,"
       "   sender = CASE WHEN p.act = 'repoint' THEN p.snd ELSE x.sender END,"
       "   sender_display_name = CASE WHEN p.act = 'repoint' THEN p.nm ELSE x.sender_display_name END"
       "  FROM plan p WHERE x.id = p.id"
       "  RETURNING x.*, p.act, p.was_unread"
       "), q AS ("
       "  INSERT INTO push_queue (pusher_id, notification_id, next_at)"
       "  SELECT p.id, n.id, $3::bigint FROM n JOIN pushers p ON p.user_id = n.user_id"
       "  WHERE n.pushed AND n.act <> 'shrink' ORDER BY n.id, p.id"
       "), u AS ("
       "  UPDATE notification_unread c SET unread = c.unread - d.k FROM"
       "   (SELECT user_id, count(*) AS k FROM n WHERE n.act = 'withdraw' AND n.was_unread GROUP BY user_id) d"
       "  WHERE c.user_id = d.user_id RETURNING c.user_id, c.unread"
       ") SELECT " GC_NOTIFICATION_COLUMNS ", coalesce(u.unread, (SELECT unread FROM notification_unread"
       "  WHERE user_id = n.user_id), 0), n.act FROM n JOIN groups g ON g.id = n.group_id"
       " LEFT JOIN u ON u.user_id = n.user_id ORDER BY n.id");
GC_SQL(kNotifReadCursor, "SELECT pos FROM notification_cursor");
// The worker's statements are planned once per connection: a custom plan of
// kNotifMake took as long as running it on a one-event range.
GC_SQL(kNotifGenericPlans, "SET LOCAL plan_cache_mode = force_generic_plan");
// Moves the cursor from $1 to $2, first in the range's transaction: a
// second worker on the same range (a process that lost the singleton lock
// and has not noticed yet) waits for the row and then finds it moved, and
// makes nothing. This is what keeps an entry from being made twice (there is
// no unique index on (user_id, event_id) to pay for on every entry).
GC_SQL(kNotifMoveCursor, "UPDATE notification_cursor SET pos = $2 WHERE pos = $1");
// A read coalesced entry is not changed when its latest message is deleted
// (kNotifWithdraw): it is shown withdrawn here.
GC_SQL(kNotifInbox,
       "SELECT " GC_NOTIFICATION_COLUMNS " FROM (SELECT i.id, i.user_id, i.kind, i.group_id, i.event_id,"
       "  i.last_event_id, i.sender, i.sender_display_name, i.group_title,"
       "  CASE WHEN le.deleted_at IS NULL THEN i.body_preview ELSE '' END AS body_preview, i.created_at, i.read_at,"
       "  coalesce(i.withdrawn_at, le.deleted_at) AS withdrawn_at, i.pushed, i.count FROM notifications i"
       "  LEFT JOIN events le ON i.kind = 'message' AND i.count > 1 AND i.read_at IS NOT NULL"
       "   AND i.withdrawn_at IS NULL AND le.event_id = i.last_event_id AND le.deleted_at IS NOT NULL"
       "  WHERE i.user_id = $1 AND i.id < $2 AND (NOT $3::boolean OR i.read_at IS NULL)"
       "  ORDER BY i.id DESC LIMIT $4) n JOIN groups g ON g.id = n.group_id ORDER BY n.id DESC");
GC_SQL(kNotifUnread, "SELECT coalesce((SELECT unread FROM notification_unread WHERE user_id = $1), 0)");
// Marking read takes the user's count row first (kNotifLockUnread), then
// the entries, skipping those the worker holds: a coalesced entry it is
// adding a message to stays unread (the user has not seen that message),
// and one it withdraws is read anyway. NO KEY UPDATE, not UPDATE: a row
// that another transaction only refers to (an email_pending or push_queue
// row being inserted takes FOR KEY SHARE on it, by its foreign key) is
// read, not skipped; with FOR UPDATE such an entry stayed unread, and was
// mailed, although the read was answered 200. So a read never waits for the worker
// while holding entries the worker waits for (which could deadlock: the
// worker's transaction takes entries, then counts, then entries again).
// Then the count, by as many as changed. Answers (unread after it, entries
// changed).
GC_SQL(kNotifLockUnread, "SELECT 1 FROM notification_unread WHERE user_id = $1 FOR UPDATE");
#define GC_NOTIF_MARK(where)                                                                                  \
  "WITH l AS (SELECT id FROM notifications WHERE user_id = $1 AND read_at IS NULL AND " where                 \
  " FOR NO KEY UPDATE SKIP LOCKED), x AS (UPDATE notifications n SET read_at = $3 FROM l WHERE n.id = l.id"   \
  " RETURNING 1), u AS (UPDATE notification_unread SET unread = unread - (SELECT count(*) FROM x)"            \
  " WHERE user_id = $1 RETURNING unread) SELECT coalesce((SELECT unread FROM u), 0), (SELECT count(*) FROM x)"
GC_SQL(kNotifMarkRead, GC_NOTIF_MARK("id <= $2"));
// $2: the group's address, $4: its seq. A coalesced entry is read when the
// marker covers its latest message (its first one's seq is indexed).
GC_SQL(kNotifMarkGroupRead,
       GC_NOTIF_MARK("seq <= $4 AND coalesce(last_seq, seq) <= $4"
                     " AND group_id IN (SELECT id FROM groups WHERE address = $2)"));
GC_SQL(kNotifSettings, "SELECT default_level, dnd_until FROM notification_settings WHERE user_id = $1");
GC_SQL(kNotifGroupLevels,
       "SELECT g.address, l.level FROM notification_group_levels l JOIN groups g ON g.id = l.group_id"
       " WHERE l.user_id = $1 AND g.deleted_at IS NULL ORDER BY g.address");
GC_SQL(kNotifUpdateSettings,
       "INSERT INTO notification_settings (user_id, default_level, dnd_until) VALUES ($1, coalesce($2, 'all'), $3)"
       " ON CONFLICT (user_id) DO UPDATE SET default_level = coalesce($2, notification_settings.default_level),"
       " dnd_until = CASE WHEN $4::boolean THEN $3::bigint ELSE notification_settings.dnd_until END");
GC_SQL(kNotifGroupLevel, "SELECT level FROM notification_group_levels WHERE user_id = $1 AND group_id = $2");
GC_SQL(kNotifSetGroupLevel,
       "INSERT INTO notification_group_levels (user_id, group_id, level) VALUES ($1, $2, $3)"
       " ON CONFLICT (user_id, group_id) DO UPDATE SET level = EXCLUDED.level");
GC_SQL(kNotifClearGroupLevel, "DELETE FROM notification_group_levels WHERE user_id = $1 AND group_id = $2");

constexpr int kNotifUnreadColumn = 14;  // after GC_NOTIFICATION_COLUMNS in kNotifMake and kNotifWithdraw
constexpr int kNotifMadeColumn = 15;    // kNotifMake: entries made; then messages added to an entry
constexpr int kNotifActColumn = 15;     // kNotifWithdraw: withdraw | shrink | repoint

}  // namespace

Notification PgNotificationStore::EntryFromRow(const PgResult& r, int row, int col) {
  Notification n;
  n.notification_id = r.int64(row, col + 0);
  n.user_id = r.text(row, col + 1);
  n.kind = r.text(row, col + 2);
  n.group_id = r.text(row, col + 3);
  n.event_id = r.text(row, col + 4);
  n.sender = r.text(row, col + 5);
  n.sender_display_name = r.text(row, col + 6);
  n.group_title = r.text(row, col + 7);
  n.body_preview = r.text(row, col + 8);
  n.created_at = r.int64(row, col + 9);
  n.read = r.boolean(row, col + 10);
  n.withdrawn = r.boolean(row, col + 11);
  n.pushed = r.boolean(row, col + 12);
  n.count = r.int64(row, col + 13);
  return n;
}

Result<int64_t> PgNotificationStore::Cursor() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kNotifReadCursor); });
  if (!r.ok()) return r.error();
  return r->rows() > 0 ? r->int64(0, 0) : 0;
}

Result<NotificationStore::RangeMade> PgNotificationStore::MakeRange(int64_t lo, int64_t hi,
                                                                     const std::string& node_name, int64_t now) {
  return db_.Transaction([&](PgConn& c) -> Result<RangeMade> {
    RangeMade out;
    auto other = ClaimRange(c, kNotifMoveCursor, kNotifReadCursor, lo, hi);
    if (!other.ok()) return other.error();
    if (*other) {  // another process made this range: follow the cursor
      out.cursor = **other;
      return out;
    }
    out.cursor = hi;
    auto plans = c.Exec(kNotifGenericPlans);
    if (!plans.ok()) return plans.error();
    // Withdrawals first, then what the range makes: an entry withdrawn
    // here is read, and a new message of its group starts a new one.
    auto gone = c.Exec(kNotifWithdraw, {lo, hi, now, node_name});
    if (!gone.ok()) return gone.error();
    auto made = c.Exec(kNotifMake, {lo, hi, node_name, now});
    if (!made.ok()) return made.error();
    for (int i = 0; i < gone->rows(); ++i) {
      if (gone->text(i, kNotifActColumn) != "withdraw") {
        ++out.changed;  // one message fewer: pushed again, not announced
        continue;
      }
      ++out.withdrawn;
      out.announced.push_back(EntryFromRow(*gone, i));
      out.unread[out.announced.back().user_id] = gone->int64(i, kNotifUnreadColumn);
    }
    for (int i = 0; i < made->rows(); ++i) {
      if (made->is_null(i, 0)) continue;  // kNotifMake announcing nothing
      out.announced.push_back(EntryFromRow(*made, i));
      out.unread[out.announced.back().user_id] = made->int64(i, kNotifUnreadColumn);
    }
    if (made->rows() > 0) {
      out.made = made->int64(0, kNotifMadeColumn);
      out.merged = made->int64(0, kNotifMadeColumn + 1);
    }
    if (out.made == 0 && out.merged == 0 && out.withdrawn == 0 && out.changed == 0 && out.announced.empty()) {
      // Only the cursor moved: nothing was announced or queued, so losing
      // this commit in a crash only makes the range again (from the
      // durable log), with the same outcome. Do not wait for its flush:
      // at a low rate that flush competed with the senders' own commits.
      GC_TRY(c.ExecScript("SET LOCAL synchronous_commit TO off"));
    }
    return out;
  });
}

Result<int64_t> PgNotificationStore::Unread(const std::string& user) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kNotifUnread, {user}); });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Result<std::vector<Notification>> PgNotificationStore::Inbox(const std::string& user, int64_t before, int limit,
                                                             bool unread_only) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kNotifInbox, {user, before, unread_only, limit}); });
  if (!r.ok()) return r.error();
  std::vector<Notification> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(EntryFromRow(*r, i));
  return out;
}

Result<std::pair<int64_t, int64_t>> PgNotificationStore::MarkRead(const std::string& user, int64_t up_to,
                                                                  int64_t now) {
  auto r = db_.Transaction([&](PgConn& c) -> Result<PgResult> {
    GC_TRY(c.Exec(kNotifLockUnread, {user}));
    return c.Exec(kNotifMarkRead, {user, up_to, now});
  });
  if (!r.ok()) return r.error();
  return std::make_pair(r->int64(0, 0), r->int64(0, 1));
}

Result<std::pair<int64_t, int64_t>> PgNotificationStore::MarkGroupRead(const std::string& user,
                                                                       const std::string& group_id, int64_t seq,
                                                                       int64_t now) {
  auto r = db_.Transaction([&](PgConn& c) -> Result<PgResult> {
    GC_TRY(c.Exec(kNotifLockUnread, {user}));
    return c.Exec(kNotifMarkGroupRead, {user, group_id, now, seq});
  });
  if (!r.ok()) return r.error();
  return std::make_pair(r->int64(0, 0), r->int64(0, 1));
}

Result<NotificationSettings> PgNotificationStore::Settings(const std::string& user) {
  NotificationSettings s;
  auto st = db_.With([&](PgConn& c) -> Status {
    auto r = c.Exec(kNotifSettings, {user});
    if (!r.ok()) return r.error();
    if (r->rows() > 0) {
      s.default_level = r->text(0, 0);
      s.dnd_until = r->opt_int64(0, 1);
    }
    auto g = c.Exec(kNotifGroupLevels, {user});
    if (!g.ok()) return g.error();
    for (int i = 0; i < g->rows(); ++i) s.groups.emplace_back(g->text(i, 0), g->text(i, 1));
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return s;
}

Status PgNotificationStore::UpdateSettings(const std::string& user, const std::optional<std::string>& default_level,
                                           std::optional<int64_t> dnd, bool set_dnd) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kNotifUpdateSettings, {user, default_level, dnd, set_dnd}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::optional<std::string>> PgNotificationStore::GroupLevel(const std::string& user, int64_t row) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kNotifGroupLevel, {user, row}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r->text(0, 0));
}

Status PgNotificationStore::SetGroupLevel(const std::string& user, int64_t row,
                                          const std::optional<std::string>& level) {
  auto r = db_.With([&](PgConn& c) {
    return level ? c.Exec(kNotifSetGroupLevel, {user, row, *level}) : c.Exec(kNotifClearGroupLevel, {user, row});
  });
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace gc

#undef GC_NOTIFICATION_COLUMNS
#undef GC_NOTIF_LOCAL
#undef GC_NOTIF_LOCAL_PART
#undef GC_NOTIF_MARK
