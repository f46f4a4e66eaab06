#include "services/notifications/email_notifier.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <random>
#include <vector>

#include "node/common/encoding.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "node/db/singleton_lock.h"
#include "services/groups/group_log.h"  // NowMs
#include "services/notifications/email_message.h"
#include "services/notifications/notification_store.h"

namespace gc {

namespace {

constexpr int kEmailMaxItems = 50;         // entries in one mail
constexpr int kEmailMaxAttempts = 8;
constexpr int64_t kEmailMaxBackoffMs = 300 * 1000;
constexpr int64_t kStaleMs = 86400 * 1000;           // due longer ago than this when collected: not mailed
constexpr int64_t kCollectBatch = 1000;
constexpr auto kEmailIdlePoll = std::chrono::seconds(5);  // due rows without a wake-up

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

EmailNotifier::EmailNotifier(NotificationStore& store, EmailOptions options) : store_(store), options_(std::move(options)) {
  while (!options_.public_url.empty() && options_.public_url.back() == '/') options_.public_url.pop_back();
  options_.concurrency = std::max(1, options_.concurrency);
}

EmailNotifier::~EmailNotifier() { Stop(); }

Status EmailNotifier::Start() {
  std::string fresh(32, '\0');
  randombytes_buf(fresh.data(), fresh.size());
  auto key = store_.EmailKey(fresh);
  if (!key.ok()) return key.error();
  key_ = *key;
  if (!configured()) return OkStatus();
  pool_ = std::make_unique<WorkerPool>(options_.concurrency, "gc-email");
  // The first round mails whatever was owed before a restart.
  loop_.Start("gc-email-queue", [this] { return Round(); });
  return OkStatus();
}

void EmailNotifier::Stop() {
  loop_.Stop();
  // Mails in flight finish within their timeout; the rest stay owed.
  if (pool_) pool_->Stop(/*drop_queued=*/true);
}

void EmailNotifier::Wake() { loop_.Wake(); }

Status EmailNotifier::Collect(int64_t now) {
  int64_t delay_ms = int64_t{options_.delay_s} * 1000;
  for (int round = 0; round < 100; ++round) {  // bounded: 100,000 entries per wake-up
    auto seen = store_.CollectEmail(delay_ms, now - delay_ms - kStaleMs);
    if (!seen.ok()) return seen.error();
    if (*seen < kCollectBatch) break;
  }
  return OkStatus();
}

std::optional<std::chrono::milliseconds> EmailNotifier::Round() {
  std::unique_lock<std::mutex> lock(mu_);
  // Another process of this node does the mailing; this one is woken
  // (Wake) when it takes over.
  if (singleton_ && !singleton_->held()) return kEmailIdlePoll;
  int free_slots = options_.concurrency - static_cast<int>(in_flight_.size());
  std::set<std::string> busy = in_flight_;
  lock.unlock();
  int64_t now = NowMs();
  std::vector<std::string> users;
  int64_t next_due = 0;
  Status st = Collect(now);
  if (st.ok()) {
    // Asks for as many more as are in flight, which it skips.
    auto queue = store_.EmailQueue(now, free_slots > 0 ? free_slots + static_cast<int>(busy.size()) : 0);
    if (queue.ok()) {
      for (const auto& user : queue->due_users) {
        if (static_cast<int>(users.size()) < free_slots && !busy.count(user)) users.push_back(user);
      }
      next_due = queue->next_due;
      pending_ = queue->pending;
    } else {
      st = queue.error();
    }
  }
  lock.lock();
  if (!st.ok()) {
    LogWarn("email queue unavailable", {{"error", st.error().message}});
    return std::chrono::milliseconds(1000);
  }
  for (const auto& user : users) {
    in_flight_.insert(user);
    pool_->Post([this, user] { Send(user); });
  }
  // Wait until the next mail is due, or a while. Mails due now are in
  // flight (or wait for a slot): each one ending wakes this loop.
  if (next_due > now) {
    return std::min<std::chrono::milliseconds>(std::chrono::milliseconds(next_due - now), kEmailIdlePoll);
  }
  return kEmailIdlePoll;
}

void EmailNotifier::Send(const std::string& user) {
  int64_t now = NowMs();
  Mail mail;
  std::vector<int64_t> ids;  // every pending row looked at (mailed, or read meanwhile)
  int attempts = 0;
  bool deliver = false;
  Status st = OkStatus();
  auto who = store_.MailFor(user, kEmailMaxItems);
  if (!who.ok()) {
    st = who.error();
  } else {
    attempts = who->attempts;
    for (const PendingMailItem& item : who->items) {
      ids.push_back(item.notification_id);
      if (!item.still_wanted) continue;  // read or withdrawn meanwhile: cancelled
      MailItem m;
      m.kind = item.kind;
      m.group_id = item.group_id;
      m.sender = item.sender;
      m.sender_display_name = item.sender_display_name;
      m.group_title = item.group_title;
      m.body_preview = item.body_preview;
      // The web client's link to a message (its service worker uses the same).
      m.link = options_.public_url + "/#/g/" + UriEscape(m.group_id) + "/e/" + UriEscape(item.event_id);
      mail.items.push_back(std::move(m));
    }
    deliver = who->email && who->enabled && !mail.items.empty();
    if (deliver) {
      mail.from = options_.from;
      mail.to = *who->email;
      mail.node_name = options_.node_name;
      mail.unsubscribe_url = UnsubscribeUrl(user, who->epoch);
      mail.date_ms = now;
      mail.message_id = "gc-missed." + std::to_string(ids.front()) + "." + std::to_string(ids.back()) + "@" +
                        options_.node_name;
    }
  }
  SmtpOutcome out;
  if (st.ok() && deliver) {
    out = SendSmtp(options_.smtp_url, EnvelopeAddress(options_.from), mail.to, ComposeMail(mail), options_.timeout_s);
  }
  if (st.ok()) {
    bool retry = deliver && !out.ok && !out.permanent && attempts + 1 < kEmailMaxAttempts;
    std::optional<int64_t> retry_at;
    if (retry) {
      static thread_local std::mt19937_64 rng(std::random_device{}());
      int64_t backoff = std::min<int64_t>(kEmailMaxBackoffMs, int64_t{1000} << std::min(attempts, 20));
      backoff = backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1));
      retry_at = now + backoff;
    }
    st = store_.MailDone(user, ids, retry_at, out.error);
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
  }
  loop_.Wake();
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
  auto r = store_.Unsubscribe(*user, epoch, NowMs());
  if (!r.ok()) return r.error();
  if (!*r) {
    return Error::Conflict("this unsubscribe link was already used (or email was switched since it was sent)",
                           "token_used");
  }
  LogInfo("email notifications turned off by an unsubscribe link", {{"user", *user}});
  return *user;
}

Result<int64_t> EmailNotifier::CountPending() { return store_.CountPendingEmail(); }

Result<EmailPrefs> EmailNotifier::Prefs(const std::string& user) {
  auto r = store_.EmailPrefs(user);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such user");
  EmailPrefs p;
  p.configured = configured();
  p.email = (*r)->first;
  p.enabled = (*r)->second;
  p.delay_s = options_.delay_s;
  return p;
}

Status EmailNotifier::SetEnabled(const std::string& user, bool enabled) {
  return store_.SetEmailEnabled(user, enabled, NowMs());
}

}  // namespace gc
