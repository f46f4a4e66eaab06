// Web Push: the node sends notifications straight to a browser's push
// service, with no vendor relay in between.
//
// A browser subscribes with the node's VAPID public key (GET
// /api/v1/push/vapid-public-key) and registers the PushSubscription it got as
// a pusher {kind: "webpush", endpoint, keys: {p256dh, auth}}. PushSender
// queues and retries deliveries exactly as for webhooks
// (services/notifications/push_sender.h); for a webpush pusher it calls
// WebPushSender::Send, which
//   - encrypts the entry's JSON for the subscription (RFC 8291 aes128gcm: a
//     fresh ephemeral P-256 key and salt per message, one 4096-byte record,
//     padded to a multiple of 64 bytes; services/notifications/webpush_crypto.h;
//     an entry too long for it loses its names and preview, `truncated: true`);
//   - POSTs it to the endpoint with RFC 8030 headers: `TTL`
//     (notifications.webpush_ttl_s), `Urgency: high` for mention, reply and
//     invite and `normal` for message, and `Topic` = the first 32 characters
//     of base64url(SHA-256(group_id)), so that while the browser is offline
//     a newer notification of a group replaces an older one (and a
//     withdrawal replaces the entry it withdraws);
//   - authenticates with RFC 8292 VAPID: `Authorization: vapid t=JWT,
//     k=PUBLIC_KEY`, an ES256 JWT with aud = the endpoint's origin, exp 12 h
//     ahead (push services refuse more than 24 h), sub =
//     notifications.vapid_subject. A token is reused per origin until less
//     than an hour of it is left.
// The endpoint passes the same outbound policy as a webhook URL: https:// to
// a public address, resolved and pinned, no redirects, bounded time and
// answer (PostToPusher), unless notifications.allow_private_endpoints.
//
// The VAPID key pair is data_dir/keys/vapid.key (the 32-byte private scalar,
// mode 0600), created at first start and kept: browsers' subscriptions are
// bound to it, so replacing it silently ends every subscription.
//
// Thread-safety: WebPushSender is thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "node/common/result.h"
#include "services/notifications/push_sender.h"
#include "services/notifications/webpush_crypto.h"

namespace gc {

// A browser's PushSubscription as stored: the endpoint and the keys in
// unpadded base64url.
struct WebPushSubscription {
  std::string endpoint;
  std::string p256dh;
  std::string auth;
};

// Checks a subscription and returns it with its keys in canonical form
// (unpadded base64url): the endpoint under the pusher URL policy, p256dh a
// point on P-256 (65 bytes, uncompressed), auth 16 bytes. kInvalid saying
// which field is wrong and what would be right.
Result<WebPushSubscription> CheckSubscription(const std::string& endpoint, const std::string& p256dh,
                                              const std::string& auth, bool allow_private);

// Loads data_dir/keys/vapid.key, creating it (0600) if absent. `*created`
// tells whether it is new. kInvalid if the file is damaged or readable by
// other users.
Result<webpush::KeyPair> LoadOrCreateVapidKey(const std::string& data_dir, bool* created);

// The Topic header of a group's notifications (32 base64url characters).
std::string WebPushTopic(const std::string& group_id);
// The Urgency header of an entry of `kind`.
const char* WebPushUrgency(const std::string& kind);
// The origin (scheme://host[:port], default port left out) of an endpoint:
// the VAPID audience. kInvalid for a URL that has none.
Result<std::string> EndpointOrigin(const std::string& endpoint);

class WebPushSender {
 public:
  // `subject`: a mailto: or https: contact (the JWT's sub).
  WebPushSender(webpush::KeyPair vapid, std::string subject, int ttl_s, bool allow_private);

  // The VAPID public key, base64url: the browser's applicationServerKey.
  std::string public_key() const;

  // Encrypts `payload` (the entry's JSON) for `sub` and POSTs it with the
  // headers above. The outcome is classified by PushSender like a webhook's;
  // failures that sending again cannot mend (a payload too large, a stored
  // key that no longer parses) are `permanent`.
  WebhookOutcome Send(const WebPushSubscription& sub, const Notification& n, const std::string& payload);

 private:
  // A VAPID token for `audience`, from the cache while it has an hour left.
  Result<std::string> Token(const std::string& audience);

  const webpush::KeyPair vapid_;
  const std::string subject_;
  const int ttl_s_;
  const bool allow_private_;
  std::mutex mu_;
  std::map<std::string, std::pair<std::string, int64_t>> tokens_;  // GUARDED_BY(mu_): audience -> (jwt, exp s)
};

}  // namespace gc
