#include "services/notifications/email_notifier.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "node/common/barrier.h"
#include "node/common/encoding.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "node/db/pg.h"
#include "node/db/singleton_lock.h"
#include "services/groups/group_log.h"
#include "services/notifications/email_message.h"

namespace gc {

namespace {

constexpr int kMaxItems = 50;         // entries in one mail
constexpr int kMaxAttempts = 8;
constexpr int64_t kMaxBackoffMs = 300 * 1000;
constexpr int64_t kStaleMs = 86400 * 1000;           // due longer ago than this when collected: not mailed
constexpr int64_t kCollectBatch = 1000;
constexpr auto kIdlePoll = std::chrono::seconds(5);  // due rows without a wake-up

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

std::string LocalPart(const std::string& user) {
  size_t colon = user.find(':');
  return user.size() > 1 ? user.substr(1, colon == std::string::npos ? std::string::npos : colon - 1) : "";
}

// Percent-encodes everything but unreserved characters (as the web
// client's encodeURIComponent does for ids).
std::string UriEscape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

EmailNotifier::EmailNotifier(PgPool& db, EmailOptions options) : db_(db), options_(std::move(options)) {
  while (!options_.public_url.empty() && options_.public_url.back() == '/') options_.public_url.pop_back();
  options_.concurrency = std::max(1, options_.concurrency);
}

EmailNotifier::~EmailNotifier() { Stop(); }

Status EmailNotifier::Start() {
  std::string fresh(32, '\0');
  randombytes_buf(fresh.data(), fresh.size());
  auto key = db_.With([&](PgConn& c) -> Result<std::string> {
    auto ins = c.Exec(kEmailKeyInit, {PgParam::Bytes(fresh)});
    if (!ins.ok()) return ins.error();
    auto r = c.Exec(kEmailKeyGet);
    if (!r.ok()) return r.error();
    if (r->rows() != 1) return Error::Internal("email_key has no key");
    return r->bytes(0, 0);
  });
  if (!key.ok()) return key.error();
  key_ = *key;
  if (!configured()) return OkStatus();
  pool_ = std::make_unique<WorkerPool>(options_.concurrency, "gc-email");
  {
    std::lock_guard<std::mutex> lock(mu_);
    news_ = true;  // whatever was owed before a restart
  }
  thread_ = SpawnGuarded("gc-email-queue", [this] { Loop(); });
  return OkStatus();
}

void EmailNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Mails in flight finish within their timeout; the rest stay owed.
  if (pool_) pool_->Stop(/*drop_queued=*/true);
}

void EmailNotifier::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    news_ = true;
  }
  wake_.notify_one();
}

Status EmailNotifier::Collect(int64_t now) {
  int64_t delay_ms = int64_t{options_.delay_s} * 1000;
  for (int round = 0; round < 100; ++round) {  // bounded: 100,000 entries per wake-up
    auto r = db_.Transaction([&](PgConn& c) { return c.Exec(kEmailCollect, {delay_ms, now - delay_ms - kStaleMs}); });
    if (!r.ok()) return r.error();
    if (r->int64(0, 0) < kCollectBatch) break;
  }
  return OkStatus();
}

void EmailNotifier::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto wait = std::chrono::milliseconds(0);
  while (!stopping_) {
    if (wait.count() > 0) wake_.wait_for(lock, wait, [&] { return stopping_ || news_; });
    if (stopping_) return;
    news_ = false;
    wait = std::chrono::milliseconds(kIdlePoll);
    // Another process of this node does the mailing; this one is woken
    // (Wake) when it takes over.
    if (singleton_ && !singleton_->held()) continue;
    int free_slots = options_.concurrency - static_cast<int>(in_flight_.size());
    std::set<std::string> busy = in_flight_;
    lock.unlock();
    int64_t now = NowMs();
    std::vector<std::string> users;
    int64_t next_due = 0;
    Status st = Collect(now);
    if (st.ok()) {
      st = db_.With([&](PgConn& c) -> Status {
        if (free_slots > 0) {
          auto r = c.Exec(kEmailDue, {now, free_slots + static_cast<int>(busy.size())});
          if (!r.ok()) return r.error();
          for (int i = 0; i < r->rows() && static_cast<int>(users.size()) < free_slots; ++i) {
            if (!busy.count(r->text(i, 0))) users.push_back(r->text(i, 0));
          }
        }
        auto next = c.Exec(kEmailNextDue);
        if (!next.ok()) return next.error();
        next_due = next->is_null(0, 0) ? 0 : next->int64(0, 0);
        pending_ = next->int64(0, 1);
        return OkStatus();
      });
    }
    lock.lock();
    if (!st.ok()) {
      LogWarn("email queue unavailable", {{"error", st.error().message}});
      wait = std::chrono::milliseconds(1000);
      continue;
    }
    for (const auto& user : users) {
      in_flight_.insert(user);
      pool_->Post([this, user] { Send(user); });
    }
    // Sleep until the next mail is due, or a while. Mails due now are in
    // flight (or wait for a slot): each one ending wakes this loop.
    if (next_due > now) {
      wait = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(next_due - now), kIdlePoll);
    }
  }
}

void EmailNotifier::Send(const std::string& user) {
  int64_t now = NowMs();
  Mail mail;
  std::vector<int64_t> ids;  // every pending row looked at (mailed, or read meanwhile)
  int attempts = 0;
  bool deliver = false;
  Status st = db_.With([&](PgConn& c) -> Status {
    GC_TRY(c.Exec(kEmailEnsureSub, {user}));
    auto who = c.Exec(kEmailRecipient, {user, LocalPart(user)});
    if (!who.ok()) return who.error();
    if (who->rows() == 0) return Error::Internal("no subscription row");
    std::optional<std::string> email = who->opt_text(0, 0);
    bool enabled = who->boolean(0, 1);
    int64_t epoch = who->int64(0, 2);
    attempts = static_cast<int>(who->int64(0, 3));
    auto items = c.Exec(kEmailItems, {user, kMaxItems});
    if (!items.ok()) return items.error();
    for (int i = 0; i < items->rows(); ++i) {
      ids.push_back(items->int64(i, 0));
      if (!items->boolean(i, 8)) continue;  // read or withdrawn meanwhile: cancelled
      MailItem m;
      m.kind = items->text(i, 1);
      m.group_id = items->text(i, 2);
      m.sender = items->text(i, 4);
      m.sender_display_name = items->text(i, 5);
      m.group_title = items->text(i, 6);
      m.body_preview = items->text(i, 7);
      // The web client's link to a message (its service worker uses the same).
      m.link = options_.public_url + "/#/g/" + UriEscape(m.group_id) + "/e/" + UriEscape(items->text(i, 3));
      mail.items.push_back(std::move(m));
    }
    deliver = email && enabled && !mail.items.empty();
    if (deliver) {
      mail.from = options_.from;
      mail.to = *email;
      mail.node_name = options_.node_name;
      mail.unsubscribe_url = UnsubscribeUrl(user, epoch);
      mail.date_ms = now;
      mail.message_id = "gc-missed." + std::to_string(ids.front()) + "." + std::to_string(ids.back()) + "@" +
                        options_.node_name;
    }
    return OkStatus();
  });
  SmtpOutcome out;
  if (st.ok() && deliver) {
    out = SendSmtp(options_.smtp_url, EnvelopeAddress(options_.from), mail.to, ComposeMail(mail), options_.timeout_s);
  }
  if (st.ok()) {
    nlohmann::json list(ids);
    bool retry = deliver && !out.ok && !out.permanent && attempts + 1 < kMaxAttempts;
    st = db_.Transaction([&](PgConn& c) -> Status {
      if (retry) {
        static thread_local std::mt19937_64 rng(std::random_device{}());
        int64_t backoff = std::min<int64_t>(kMaxBackoffMs, int64_t{1000} << std::min(attempts, 20));
        backoff = backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1));
        GC_TRY(c.Exec(kEmailRetrySet, {user, now + backoff, out.error}));
        return OkStatus();
      }
      GC_TRY(c.Exec(kEmailDone, {user, list.dump()}));
      GC_TRY(c.Exec(kEmailRetryClear, {user}));
      return OkStatus();
    });
    if (deliver && out.ok) {
      ++sent;
      LogInfo("email sent", {{"user", user}, {"entries", static_cast<int64_t>(mail.items.size())}});
    } else if (!deliver) {
      LogInfo("email cancelled: read meanwhile, no address, or switched off",
              {{"user", user}, {"entries", static_cast<int64_t>(ids.size())}});
    } else if (deliver) {
      ++failed;
      if (!retry) ++dropped;
      else ++retried;
      LogWarn(retry ? "email not sent, will retry" : "email not sent, given up",
              {{"user", user}, {"attempts", attempts + 1}, {"error", out.error}});
    }
  }
  if (!st.ok()) LogWarn("email state not recorded", {{"user", user}, {"error", st.error().message}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(user);
    news_ = true;
  }
  wake_.notify_one();
}

std::string EmailNotifier::Token(const std::string& user, int64_t epoch) const {
  std::string msg = std::string("unsubscribe") + '\0' + user + '\0' + std::to_string(epoch);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return Base64Url(user) + "." + std::to_string(epoch) + "." +
         Base64Url(std::string(reinterpret_cast<const char*>(mac), sizeof mac));
}

std::string EmailNotifier::UnsubscribeUrl(const std::string& user, int64_t epoch) const {
  return options_.public_url + "/api/v1/email/unsubscribe?token=" + Token(user, epoch);
}

namespace {

struct TokenParts {
  std::string user;
  int64_t epoch = 0;
};

Result<TokenParts> SplitToken(const std::string& token) {
  Error bad = Error::Invalid("this unsubscribe link is not valid", "invalid_token");
  if (token.size() > 512) return bad;
  size_t a = token.find('.'), b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos) return bad;
  auto user = DecodeBase64Url(token.substr(0, a));
  std::string epoch = token.substr(a + 1, b - a - 1);
  if (!user.ok() || epoch.empty() || epoch.size() > 18 ||
      !std::all_of(epoch.begin(), epoch.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad;
  }
  return TokenParts{*user, std::stoll(epoch)};
}

}  // namespace

Result<std::string> EmailNotifier::CheckToken(const std::string& token) const {
  auto parts = SplitToken(token);
  if (!parts.ok()) return parts.error();
  std::string good = Token(parts->user, parts->epoch);
  if (good.size() != token.size() || sodium_memcmp(good.data(), token.data(), good.size()) != 0) {
    return Error::Invalid("this unsubscribe link is not valid", "invalid_token");
  }
  return parts->user;
}

Result<std::string> EmailNotifier::Unsubscribe(const std::string& token) {
  auto user = CheckToken(token);
  if (!user.ok()) return user.error();
  int64_t epoch = SplitToken(token)->epoch;
  auto r = db_.With([&](PgConn& c) { return c.Exec(kEmailUnsubscribe, {*user, epoch, NowMs()}); });
  if (!r.ok()) return r.error();
  if (r->affected() == 0) {
    return Error::Conflict("this unsubscribe link was already used (or email was switched since it was sent)",
                           "token_used");
  }
  LogInfo("email notifications turned off by an unsubscribe link", {{"user", *user}});
  return *user;
}

Result<int64_t> EmailNotifier::CountPending() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kEmailCountPending); });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Result<EmailPrefs> EmailNotifier::Prefs(const std::string& user) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kEmailPrefs, {user, LocalPart(user)}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return Error::NotFound("no such user");
  EmailPrefs p;
  p.configured = configured();
  p.email = r->opt_text(0, 0);
  p.enabled = r->boolean(0, 1);
  p.delay_s = options_.delay_s;
  return p;
}

Status EmailNotifier::SetEnabled(const std::string& user, bool enabled) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kEmailSetEnabled, {user, enabled, NowMs()}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace gc
