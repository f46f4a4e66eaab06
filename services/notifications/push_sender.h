// PushSender: webhook and Web Push pushers and the bounded sender that
// delivers the push queue to them.
//
// A pusher is `{kind: "webhook", url}` registered by a user (the answer to
// the registration carries a random `secret`, shown once), or a browser's
// subscription `{kind: "webpush", endpoint, keys}`, sent by WebPushSender
// (services/notifications/webpush.h) under the same queue and rules. The notification
// worker queues (pusher, entry) rows in push_queue in the transaction that
// makes the entry (services/notifications/migrations/0002_pushers.sql). This
// sender reads due rows, oldest first, up to 256 at a time, and sends them
// at most one in flight per pusher and `concurrency` in all, and POSTs the entry as JSON with
// `X-GroupChat-Signature: sha256=HEX` (HMAC-SHA256 of the body with the
// secret) on a small pool of its own threads (libcurl, blocking, bounded):
//   - 2xx: delivered (row deleted, last_success_at set, failures reset);
//   - 404 or 410: the endpoint is gone, the pusher is removed;
//   - 429, 5xx, or no answer: retried after min(2^attempts s, 5 min) with
//     jitter (x0.5..1), or after Retry-After if that is later (at most 1 h),
//     up to 8 attempts, then dropped; last_error and failures show it;
//   - other answers, or a failure sending again cannot mend: dropped at
//     once (the receiver refuses this body).
// Delivery is at least once (a crash between the answer and the delete sends
// again); receivers drop repeats by notification_id.
//
// No SSRF: a URL must be https:// and every address its host resolves to
// must be public (node/common/outbound_http.h, IsPublicAddress), checked when
// the pusher is registered and again at every send, which connects to
// exactly the address it checked (CURLOPT_RESOLVE); no redirects are
// followed; 10 s for the whole exchange; the answer body is read up to
// 64 KiB. `allow_private` (notifications.allow_private_endpoints, tests)
// also admits http:// and private addresses.
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/common/result.h"
#include "node/common/wakeable_loop.h"
#include "services/notifications/notification_service.h"

namespace gc {

class SingletonLock;
class WorkerPool;

struct WebPushSubscription;
class WebPushSender;

// What one POST came to.
struct WebhookOutcome {
  int status = 0;           // HTTP status; 0: no answer (refused address, network, timeout)
  int retry_after_s = 0;    // from Retry-After (seconds form), 0 if none
  std::string error;        // for last_error, when not 2xx
  bool permanent = false;   // failed before sending, for good: not retried
};

// Checks a webhook URL against the policy above (resolving its host).
// kInvalid saying what is wrong.
Status CheckPusherUrl(const std::string& url, bool allow_private);

// POSTs `body` to `url` under the policy above, signed with `secret`.
WebhookOutcome PostWebhook(const std::string& url, const std::string& body, const std::string& secret,
                           int64_t notification_id, bool allow_private);

// POSTs `body` with `headers` ("Name: value") to `url` under the policy
// above: the transport of webhooks and Web Push.
WebhookOutcome PostToPusher(const std::string& url, const std::string& body, const std::vector<std::string>& headers,
                            bool allow_private);

// "sha256=" + lowercase hex HMAC-SHA256(secret, body).
std::string WebhookSignature(const std::string& secret, const std::string& body);

class PushSender {
 public:
  // `render` turns an entry into the JSON body that is POSTed.
  PushSender(NotificationStore& store, bool allow_private, int concurrency,
             std::function<std::string(const Notification&)> render);
  ~PushSender();  // Stop()

  // Sends only while `lock` is held (nullptr: always). Before Start.
  void set_singleton(const SingletonLock* lock) { singleton_ = lock; }
  Status Start();
  void Stop();
  // Something new may be due (called after the worker queued pushes).
  void Wake();
  // Sends webpush pushers' deliveries (before Start; outlives this sender).
  void set_webpush(WebPushSender* webpush) { webpush_ = webpush; }

  // At most 10 pushers per user (kConflict past it); kInvalid for a bad URL
  // or kind. Registering the same URL again gives the existing pusher a new
  // secret. A webpush pusher (`webpush` given, as the browser sent it: checked
  // here with CheckSubscription) replaces its keys on a repeat, and takes the endpoint
  // from any other user who registered it: a browser's subscription belongs
  // to whoever signed in on it last.
  Result<Pusher> Register(const std::string& user, const std::string& kind, const std::string& url,
                          const WebPushSubscription* webpush = nullptr);
  Result<std::vector<Pusher>> List(const std::string& user);
  // kNotFound unless the pusher is the user's.
  Status Remove(const std::string& user, int64_t pusher_id);

  // Metrics, per kind of pusher (and their sums).
  struct Counts {
    std::atomic<uint64_t> delivered{0};
    std::atomic<uint64_t> failed{0};   // attempts that did not deliver
    std::atomic<uint64_t> retried{0};  // of those, the ones that will be tried again
    std::atomic<uint64_t> removed{0};  // pushers removed after 404/410
    std::atomic<int64_t> queued{0};    // pushes owed, as of the sender's last look at the queue
  };
  Counts webhook, webpush;
  uint64_t delivered() const { return webhook.delivered.load() + webpush.delivered.load(); }
  uint64_t failed() const { return webhook.failed.load() + webpush.failed.load(); }
  uint64_t removed() const { return webhook.removed.load() + webpush.removed.load(); }
  int64_t queued() const { return webhook.queued.load() + webpush.queued.load(); }

 private:
  using Job = DuePush;
  // One round of the queue's loop (loop_): reads due rows, hands them to
  // free slots; returns how long to wait for a Wake() at most.
  std::optional<std::chrono::milliseconds> Round();
  void Send(std::shared_ptr<Job> job);
  void Finish(const Job& job, const WebhookOutcome& out);

  NotificationStore& store_;
  bool allow_private_;
  int concurrency_;
  std::function<std::string(const Notification&)> render_;
  const SingletonLock* singleton_ = nullptr;
  WebPushSender* webpush_ = nullptr;
  std::unique_ptr<WorkerPool> pool_;
  std::mutex mu_;
  std::set<int64_t> in_flight_;      // GUARDED_BY(mu_): pusher ids
  std::deque<std::shared_ptr<Job>> ready_;  // GUARDED_BY(mu_): due rows read, waiting for a slot; one per pusher
  WakeableLoop loop_;  // last: stopped (joined) first
};

}  // namespace gc
