#include "services/notifications/push_sender.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "node/common/encoding.h"
#include "node/common/log.h"
#include "node/common/outbound_http.h"
#include "node/common/worker_pool.h"
#include "node/db/singleton_lock.h"
#include "services/notifications/webpush.h"

namespace gc {

namespace {

constexpr int kMaxPushersPerUser = 10;
constexpr int kPushMaxAttempts = 8;
constexpr long kDeadlineMs = 10000;
constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxAnswer = 65536;
constexpr int64_t kPushMaxBackoffMs = 300 * 1000;
constexpr int64_t kMaxRetryAfterMs = 3600 * 1000;
constexpr auto kPushIdlePoll = std::chrono::milliseconds(5000);  // due retries without a wake-up
constexpr int kFetch = 256;  // due rows read from the queue at a time

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

PushSender::PushSender(NotificationStore& store, bool allow_private, int concurrency,
                       std::function<std::string(const Notification&)> render)
    : store_(store), allow_private_(allow_private), concurrency_(std::max(1, concurrency)), render_(std::move(render)) {}

PushSender::~PushSender() { Stop(); }

Status PushSender::Start() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  pool_ = std::make_unique<WorkerPool>(concurrency_, "gc-push");
  // The first round sends whatever was owed before a restart.
  loop_.Start("gc-push-queue", [this] { return Round(); });
  return OkStatus();
}

void PushSender::Stop() {
  loop_.Stop();
  // POSTs in flight finish within their deadline; queued ones stay owed in
  // the table for the next start.
  if (pool_) pool_->Stop(/*drop_queued=*/true);
}

void PushSender::Wake() { loop_.Wake(); }

std::optional<std::chrono::milliseconds> PushSender::Round() {
  std::unique_lock<std::mutex> lock(mu_);
  if (singleton_ && !singleton_->held()) {  // another process sends; Wake() when this one takes over
    ready_.clear();
    return kPushIdlePoll;
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
    auto due = store_.DuePushes(now, kFetch, skip);
    lock.lock();
    if (!due.ok()) {
      LogWarn("push queue unavailable", {{"error", due.error().message}});
      return std::chrono::milliseconds(1000);
    }
    next_due = due->second.next_due;
    webhook.queued = due->second.webhook;
    webpush.queued = due->second.webpush;
    for (auto& job : due->first) {
      if (!in_flight_.count(job.pusher_id)) ready_.push_back(std::make_shared<Job>(std::move(job)));
    }
  }
  while (!ready_.empty() && static_cast<int>(in_flight_.size()) < concurrency_) {
    auto job = std::move(ready_.front());
    ready_.pop_front();
    in_flight_.insert(job->pusher_id);
    pool_->Post([this, job] { Send(job); });
  }
  // A finished push wakes this loop: with rows waiting, that is all it
  // needs. Otherwise wait until the next retry is due, a wake-up, or a while.
  if (!ready_.empty()) return kPushIdlePoll;
  if (next_due > now) {
    return std::min<std::chrono::milliseconds>(std::chrono::milliseconds(next_due - now), kPushIdlePoll);
  }
  if (next_due > 0 && static_cast<int>(in_flight_.size()) < concurrency_) {
    return std::chrono::milliseconds(1);  // more were due than one read held
  }
  return kPushIdlePoll;
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
  }
  loop_.Wake();
}

void PushSender::Finish(const Job& job, const WebhookOutcome& out) {
  int64_t now = NowMs();
  bool ok = out.status >= 200 && out.status <= 299;
  bool retry = false;
  Status st = OkStatus();
  if (ok) {
    st = store_.PushDelivered(job.queue_id, job.pusher_id, now);
  } else if (out.status == 404 || out.status == 410) {
    st = store_.PusherGone(job.pusher_id);
  } else {
    bool retryable = !out.permanent && (out.status == 0 || out.status == 429 || out.status >= 500);
    retry = retryable && job.attempts + 1 < kPushMaxAttempts;
    std::optional<int64_t> retry_at;  // nullopt: given up, or refused for good
    if (retry) {
      static thread_local std::mt19937_64 rng(std::random_device{}());
      int64_t backoff = std::min<int64_t>(kPushMaxBackoffMs, int64_t{1000} << std::min(job.attempts, 20));
      backoff = backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1));
      int64_t after = std::min<int64_t>(int64_t{out.retry_after_s} * 1000, kMaxRetryAfterMs);
      retry_at = now + std::max(backoff, after);
    }
    st = store_.PushFailed(job.queue_id, job.pusher_id, retry_at, out.error);
  }
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
  return store_.AddPusher(user, kind, url, secret, p256dh, auth, NowMs(), kMaxPushersPerUser);
}

Result<std::vector<Pusher>> PushSender::List(const std::string& user) { return store_.Pushers(user); }

Status PushSender::Remove(const std::string& user, int64_t pusher_id) {
  auto removed = store_.RemovePusher(user, pusher_id);
  if (!removed.ok()) return removed.error();
  if (!*removed) return Error::NotFound("no such pusher");
  return OkStatus();
}

}  // namespace gc
