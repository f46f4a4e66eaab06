#include "services/notifications/push_sender.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "node/common/barrier.h"
#include "node/common/encoding.h"
#include "node/common/log.h"
#include "node/common/outbound_http.h"
#include "node/common/worker_pool.h"
#include "node/db/pg.h"
#include "node/db/singleton_lock.h"
#include "services/notifications/webpush.h"

namespace gc {

namespace {

constexpr int kMaxPushersPerUser = 10;
constexpr int kMaxAttempts = 8;
constexpr long kDeadlineMs = 10000;
constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxAnswer = 65536;
constexpr int64_t kMaxBackoffMs = 300 * 1000;
constexpr int64_t kMaxRetryAfterMs = 3600 * 1000;
constexpr auto kIdlePoll = std::chrono::milliseconds(5000);  // due retries without a wake-up
constexpr int kFetch = 256;  // due rows read from the queue at a time

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
GC_SQL(kPushDue,
       "SELECT * FROM (SELECT DISTINCT ON (q.pusher_id) q.id AS queue_id, q.pusher_id, q.attempts, p.url, p.secret,"
       " n.id AS notification_id, n.user_id, n.kind, g.address, n.event_id, n.sender, n.sender_display_name, n.group_title,"
       " n.body_preview, n.created_at, n.read_at IS NOT NULL, n.withdrawn_at IS NOT NULL, n.pushed,"
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

struct ParsedUrl {
  std::string scheme, host, port;
};

// Scheme, host and port of an absolute http(s) URL, without user info.
Result<ParsedUrl> ParseUrl(const std::string& url, bool allow_private) {
  if (url.size() > kMaxUrlBytes) return Error::Invalid("url is longer than 2048 bytes");
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return Error::Invalid("url is not an absolute URL");
  }
  auto part = [&](CURLUPart what, unsigned flags = 0) -> std::string {
    char* v = nullptr;
    if (curl_url_get(u.get(), what, &v, flags) != CURLUE_OK || !v) return "";
    std::string s(v);
    curl_free(v);
    return s;
  };
  ParsedUrl p{part(CURLUPART_SCHEME), part(CURLUPART_HOST), part(CURLUPART_PORT, CURLU_DEFAULT_PORT)};
  if (p.scheme != "https" && !(allow_private && p.scheme == "http")) {
    return Error::Invalid("url must be https://");
  }
  if (!part(CURLUPART_USER).empty()) return Error::Invalid("url must not carry user info");
  if (p.host.empty()) return Error::Invalid("url has no host");
  if (p.host.front() == '[' && p.host.back() == ']') p.host = p.host.substr(1, p.host.size() - 2);
  return p;
}

std::string AddressText(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, buf, sizeof buf);
    return buf;
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr, buf, sizeof buf);
  return std::string("[") + buf + "]";
}

struct Answer {
  std::string body;
  int retry_after_s = 0;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Answer*>(user);
  size_t len = size * n;
  if (a->body.size() + len > kMaxAnswer) return 0;  // ends the transfer: the answer is too big
  a->body.append(data, len);
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Answer*>(user);
  std::string line(data, size * n);
  constexpr const char kName[] = "retry-after:";
  if (line.size() > sizeof kName && strncasecmp(line.c_str(), kName, sizeof kName - 1) == 0) {
    std::string v = line.substr(sizeof kName - 1);
    v.erase(0, v.find_first_not_of(" \t"));
    if (!v.empty() && std::all_of(v.begin(), v.begin() + std::min<size_t>(v.find_first_of("\r\n"), v.size()),
                                  [](char c) { return c >= '0' && c <= '9'; })) {
      a->retry_after_s = static_cast<int>(std::min<long>(std::strtol(v.c_str(), nullptr, 10), 86400));
    }
  }
  return size * n;
}

}  // namespace

std::string WebhookSignature(const std::string& secret, const std::string& body) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string("sha256=") + hex;
}

Status CheckPusherUrl(const std::string& url, bool allow_private) {
  auto p = ParseUrl(url, allow_private);
  if (!p.ok()) return p.error();
  OutboundPolicy policy;
  policy.allow_private = allow_private;
  auto addrs = ResolveAllowed(p->host, p->port, policy);
  if (!addrs.ok() || addrs->empty()) {
    return Error::Invalid("url must resolve to public addresses only (not loopback, private, link-local or multicast)");
  }
  return OkStatus();
}

WebhookOutcome PostWebhook(const std::string& url, const std::string& body, const std::string& secret,
                           int64_t notification_id, bool allow_private) {
  return PostToPusher(url, body,
                      {"Content-Type: application/json", "X-GroupChat-Signature: " + WebhookSignature(secret, body),
                       "X-GroupChat-Notification-Id: " + std::to_string(notification_id)},
                      allow_private);
}

WebhookOutcome PostToPusher(const std::string& url, const std::string& body, const std::vector<std::string>& headers,
                            bool allow_private) {
  WebhookOutcome out;
  auto p = ParseUrl(url, allow_private);
  if (!p.ok()) {
    out.error = p.error().message;
    return out;
  }
  OutboundPolicy policy;
  policy.allow_private = allow_private;
  // Resolved and checked here, and pinned below: no second lookup that DNS
  // rebinding could point elsewhere.
  auto addrs = ResolveAllowed(p->host, p->port, policy);
  if (!addrs.ok() || addrs->empty()) {
    out.error = "refused: the host does not resolve to public addresses";
    return out;
  }
  // One handle per sending thread, reset before each use: a reset keeps its
  // live connections, so pushes to one push service (browsers use a handful)
  // reuse a connection instead of a TCP (and TLS) handshake each. A reused
  // connection goes to an address checked when it was made; the name is
  // checked again above at every send.
  static thread_local std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    out.error = "curl_easy_init failed";
    return out;
  }
  CURL* c = curl.get();
  curl_easy_reset(c);
  std::string pin = p->host + ":" + p->port + ":" + AddressText(addrs->front().first);
  curl_slist* resolve = curl_slist_append(nullptr, pin.c_str());
  curl_slist* list = curl_slist_append(nullptr, "User-Agent: GroupChat/" GC_VERSION);
  list = curl_slist_append(list, "Expect:");
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  Answer answer;
  char tls_error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, allow_private ? "http,https" : "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, kDeadlineMs);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  // https:// is verified (peer and host name) against the CAs every outbound
  // TLS of the node trusts: the system's, or SSL_CERT_FILE's.
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (const char* ca = TrustedCaFile()) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, tls_error);  // the reason, for the pusher's last_error
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &answer);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);  // tls_error ends with this call; the handle lives on
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(list);
  curl_slist_free_all(resolve);
  out.status = static_cast<int>(status);
  out.retry_after_s = answer.retry_after_s;
  if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) {
    out.status = 0;
    out.error = std::string("no answer: ") + (tls_error[0] ? tls_error : curl_easy_strerror(rc));
  } else if (status < 200 || status > 299) {
    out.error = "HTTP " + std::to_string(status);
  }
  return out;
}

struct PushSender::Job {
  int64_t queue_id = 0, pusher_id = 0;
  int attempts = 0;
  std::string url, secret;
  std::string kind, p256dh, auth;
  Notification entry;
};

PushSender::PushSender(PgPool& db, bool allow_private, int concurrency,
                       std::function<std::string(const Notification&)> render)
    : db_(db), allow_private_(allow_private), concurrency_(std::max(1, concurrency)), render_(std::move(render)) {}

PushSender::~PushSender() { Stop(); }

Status PushSender::Start() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  pool_ = std::make_unique<WorkerPool>(concurrency_, "gc-push");
  {
    std::lock_guard<std::mutex> lock(mu_);
    news_ = true;  // whatever was owed before a restart
  }
  thread_ = SpawnGuarded("gc-push-queue", [this] { Loop(); });
  return OkStatus();
}

void PushSender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // POSTs in flight finish within their deadline; queued ones stay owed in
  // the table for the next start.
  if (pool_) pool_->Stop(/*drop_queued=*/true);
}

void PushSender::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    news_ = true;
  }
  wake_.notify_one();
}

// Reads up to `limit` due rows (the oldest of each pusher) that are neither
// in flight nor waiting in ready_ (`skip`); sets `next_due` (0: the queue is
// empty) and each kind's `queued`.
Status PushSender::Fetch(int64_t now, int limit, const std::set<int64_t>& skip,
                         std::vector<std::shared_ptr<Job>>* jobs, int64_t* next_due) {
  return db_.With([&](PgConn& c) -> Status {
    auto r = c.Exec(kPushDue, {now, limit + static_cast<int>(skip.size())});
    if (!r.ok()) return r.error();
    for (int i = 0; i < r->rows() && static_cast<int>(jobs->size()) < limit; ++i) {
      auto job = std::make_shared<Job>();
      job->queue_id = r->int64(i, 0);
      job->pusher_id = r->int64(i, 1);
      if (skip.count(job->pusher_id)) continue;  // one at a time per pusher
      job->attempts = static_cast<int>(r->int64(i, 2));
      job->url = r->text(i, 3);
      job->secret = r->text(i, 4);
      Notification& n = job->entry;
      n.notification_id = r->int64(i, 5);
      n.user_id = r->text(i, 6);
      n.kind = r->text(i, 7);
      n.group_id = r->text(i, 8);
      n.event_id = r->text(i, 9);
      n.sender = r->text(i, 10);
      n.sender_display_name = r->text(i, 11);
      n.group_title = r->text(i, 12);
      n.body_preview = r->text(i, 13);
      n.created_at = r->int64(i, 14);
      n.read = r->boolean(i, 15);
      n.withdrawn = r->boolean(i, 16);
      n.pushed = r->boolean(i, 17);
      job->kind = r->text(i, 18);
      job->p256dh = r->text(i, 19);
      job->auth = r->text(i, 20);
      jobs->push_back(std::move(job));
    }
    auto next = c.Exec(kPushNextDue);
    if (!next.ok()) return next.error();
    *next_due = next->is_null(0, 0) ? 0 : next->int64(0, 0);
    webhook.queued = next->int64(0, 1);
    webpush.queued = next->int64(0, 2);
    return OkStatus();
  });
}

void PushSender::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto wait = std::chrono::milliseconds(0);
  while (!stopping_) {
    if (wait.count() > 0) wake_.wait_for(lock, wait, [&] { return stopping_ || news_; });
    if (stopping_) return;
    news_ = false;
    if (singleton_ && !singleton_->held()) {  // another process sends; Wake() when this one takes over
      ready_.clear();
      wait = std::chrono::milliseconds(kIdlePoll);
      continue;
    }
    // Rows fetched earlier go out first, as slots free up; the queue is read
    // again only once they are all out, kFetch rows at a time: scanning the
    // queue for every push made the scan (a sort of every due row) the cost
    // of a push when thousands were owed.
    int64_t now = NowMs();
    int64_t next_due = -1;  // -1: not read this round
    if (ready_.empty() && static_cast<int>(in_flight_.size()) < concurrency_) {
      std::set<int64_t> skip = in_flight_;
      lock.unlock();
      std::vector<std::shared_ptr<Job>> jobs;
      Status st = Fetch(now, kFetch, skip, &jobs, &next_due);
      lock.lock();
      if (!st.ok()) {
        LogWarn("push queue unavailable", {{"error", st.error().message}});
        wait = std::chrono::milliseconds(1000);
        continue;
      }
      for (auto& job : jobs) {
        if (!in_flight_.count(job->pusher_id)) ready_.push_back(std::move(job));
      }
    }
    while (!ready_.empty() && static_cast<int>(in_flight_.size()) < concurrency_) {
      auto job = std::move(ready_.front());
      ready_.pop_front();
      in_flight_.insert(job->pusher_id);
      pool_->Post([this, job] { Send(job); });
    }
    // A finished push wakes this loop (news_): with rows waiting, that is
    // all it needs. Otherwise sleep until the next retry is due, a wake-up,
    // or a while.
    if (!ready_.empty()) {
      wait = kIdlePoll;
    } else if (next_due > now) {
      wait = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(next_due - now), kIdlePoll);
    } else if (next_due > 0 && static_cast<int>(in_flight_.size()) < concurrency_) {
      wait = std::chrono::milliseconds(1);  // more were due than one read held
    } else {
      wait = kIdlePoll;
    }
  }
}

void PushSender::Send(std::shared_ptr<Job> job) {
  WebhookOutcome out;
  if (job->kind == "webpush") {
    if (webpush_) {
      out = webpush_->Send({job->url, job->p256dh, job->auth}, job->entry, render_(job->entry));
    } else {
      out.error = "Web Push is not set up on this node";
    }
  } else {
    out = PostWebhook(job->url, render_(job->entry), job->secret, job->entry.notification_id, allow_private_);
  }
  Finish(*job, out);
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(job->pusher_id);
    news_ = true;
  }
  wake_.notify_one();
}

void PushSender::Finish(const Job& job, const WebhookOutcome& out) {
  int64_t now = NowMs();
  bool ok = out.status >= 200 && out.status <= 299;
  bool retry = false;
  // A delivery (nearly every push) is one statement; the rest a transaction.
  auto record = [&](PgConn& c) -> Status {
    if (ok) {
      GC_TRY(c.Exec(kPushDelivered, {job.queue_id, job.pusher_id, now}));
      return OkStatus();
    }
    if (out.status == 404 || out.status == 410) {
      GC_TRY(c.Exec(kPushGone, {job.pusher_id}));
      return OkStatus();
    }
    bool retryable = !out.permanent && (out.status == 0 || out.status == 429 || out.status >= 500);
    retry = retryable && job.attempts + 1 < kMaxAttempts;
    if (retry) {
      static thread_local std::mt19937_64 rng(std::random_device{}());
      int64_t backoff = std::min<int64_t>(kMaxBackoffMs, int64_t{1000} << std::min(job.attempts, 20));
      backoff = backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1));
      int64_t after = std::min<int64_t>(int64_t{out.retry_after_s} * 1000, kMaxRetryAfterMs);
      GC_TRY(c.Exec(kPushRetry, {job.queue_id, now + std::max(backoff, after)}));
    } else {
      GC_TRY(c.Exec(kPushDone, {job.queue_id}));  // given up, or refused for good
    }
    GC_TRY(c.Exec(kPushFailed, {job.pusher_id, out.error}));
    return OkStatus();
  };
  Status st = ok ? db_.With(record) : db_.Transaction(record);
  Counts& counts = job.kind == "webpush" ? webpush : webhook;
  if (ok) {
    ++counts.delivered;
  } else if (out.status == 404 || out.status == 410) {
    ++counts.removed;
    LogInfo("pusher removed: the endpoint is gone", {{"pusher_id", job.pusher_id}, {"status", out.status}});
  } else {
    ++counts.failed;
    if (retry && st.ok()) ++counts.retried;
  }
  if (!st.ok()) LogWarn("push result not recorded", {{"pusher_id", job.pusher_id}, {"error", st.error().message}});
}

Result<Pusher> PushSender::Register(const std::string& user, const std::string& kind, const std::string& url,
                                   const WebPushSubscription* webpush) {
  if (kind != "webhook" && kind != "webpush") return Error::Invalid("kind must be webhook or webpush");
  if (kind == "webpush" && !webpush) return Error::Invalid("a webpush pusher needs endpoint and keys");
  std::string secret;
  if (kind == "webhook") {
    GC_TRY(CheckPusherUrl(url, allow_private_));
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    secret = Base64Url(std::string(reinterpret_cast<char*>(raw), sizeof raw));
  }
  std::optional<std::string> p256dh, auth;
  if (kind == "webpush") {
    auto sub = CheckSubscription(url, webpush->p256dh, webpush->auth, allow_private_);
    if (!sub.ok()) return sub.error();
    p256dh = sub->p256dh;
    auth = sub->auth;
  }
  return db_.Transaction([&](PgConn& c) -> Result<Pusher> {
    if (kind == "webpush") GC_TRY(c.Exec(kPushTakeOver, {url, user}));
    auto n = c.Exec(kPushCount, {user, url});
    if (!n.ok()) return n.error();
    if (n->int64(0, 0) >= kMaxPushersPerUser && !n->boolean(0, 1)) {
      return Error::Conflict("at most 10 pushers per user: remove one first", "too_many_pushers");
    }
    auto r = c.Exec(kPushUpsert, {user, kind, url, secret, NowMs(), p256dh, auth});
    if (!r.ok()) return r.error();
    Pusher p;
    static_cast<PusherStatus&>(p) = PusherFromRow(*r, 0);
    p.secret = r->text(0, kPusherColumns);
    return p;
  });
}

Result<std::vector<Pusher>> PushSender::List(const std::string& user) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPushList, {user}); });
  if (!r.ok()) return r.error();
  std::vector<Pusher> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.emplace_back();
    static_cast<PusherStatus&>(out.back()) = PusherFromRow(*r, i);
  }
  return out;
}

Status PushSender::Remove(const std::string& user, int64_t pusher_id) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPushRemove, {user, pusher_id}); });
  if (!r.ok()) return r.error();
  if (r->affected() == 0) return Error::NotFound("no such pusher");
  return OkStatus();
}

}  // namespace gc
