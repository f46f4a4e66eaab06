#include "services/notifications/webpush.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "node/common/encoding.h"
#include "node/identity/node_keys.h"

namespace gc {

namespace {

constexpr int64_t kTokenLifetimeS = 12 * 3600;  // RFC 8292 2: no more than 24 h
constexpr int64_t kTokenRenewS = 3600;          // a cached token is replaced with less than this left

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unpadded base64url of exactly `size` bytes; a browser's trailing '='
// padding is tolerated.
Result<std::string> DecodeKey(std::string text, size_t size, const char* field) {
  while (!text.empty() && text.back() == '=') text.pop_back();
  auto raw = DecodeBase64Url(text);
  if (!raw.ok()) return Error::Invalid(std::string(field) + " must be base64url");
  if (raw->size() != size) {
    return Error::Invalid(std::string(field) + " must be " + std::to_string(size) + " bytes, not " +
                          std::to_string(raw->size()));
  }
  return *raw;
}

}  // namespace

Result<WebPushSubscription> CheckSubscription(const std::string& endpoint, const std::string& p256dh,
                                              const std::string& auth, bool allow_private) {
  if (endpoint.empty()) return Error::Invalid("endpoint is required (the PushSubscription's endpoint)");
  if (Status st = CheckPusherUrl(endpoint, allow_private); !st.ok()) {
    return Error::Invalid("endpoint: " + st.error().message);
  }
  auto key = DecodeKey(p256dh, webpush::kPublicKeyBytes, "keys.p256dh");
  if (!key.ok()) return key.error();
  if (!webpush::IsValidPublicKey(*key)) {
    return Error::Invalid("keys.p256dh must be an uncompressed point on P-256 (0x04 || X || Y)");
  }
  auto secret = DecodeKey(auth, webpush::kAuthSecretBytes, "keys.auth");
  if (!secret.ok()) return secret.error();
  return WebPushSubscription{endpoint, Base64Url(*key), Base64Url(*secret)};
}

Result<webpush::KeyPair> LoadOrCreateVapidKey(const std::string& data_dir, bool* created) {
  *created = false;
  std::string dir = data_dir + "/keys";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error::Unavailable("cannot create " + dir + ": " + ec.message());
  chmod(dir.c_str(), 0700);
  std::string path = dir + "/vapid.key";
  auto d = ReadSecretFile(path, webpush::kPrivateKeyBytes);
  if (d.ok()) {
    auto kp = webpush::KeyPairFromPrivate(*d);
    if (!kp.ok()) return Error::Invalid(path + " is damaged: " + kp.error().message);
    return kp;
  }
  if (d.error().code != ErrorCode::kNotFound) return d.error();
  auto kp = webpush::GenerateKeyPair();
  if (!kp.ok()) return kp.error();
  GC_TRY(WriteSecretFile(path, kp->private_key));
  *created = true;
  return kp;
}

std::string WebPushTopic(const std::string& group_id) { return Base64Url(Sha256(group_id)).substr(0, 32); }

const char* WebPushUrgency(const std::string& kind) { return kind == "message" ? "normal" : "high"; }

Result<std::string> EndpointOrigin(const std::string& endpoint) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, endpoint.c_str(), 0) != CURLUE_OK) {
    return Error::Invalid("endpoint is not an absolute URL");
  }
  auto part = [&](CURLUPart what, unsigned flags) -> std::string {
    char* v = nullptr;
    if (curl_url_get(u.get(), what, &v, flags) != CURLUE_OK || !v) return "";
    std::string s(v);
    curl_free(v);
    return s;
  };
  std::string scheme = part(CURLUPART_SCHEME, 0), host = part(CURLUPART_HOST, 0);
  if (scheme.empty() || host.empty()) return Error::Invalid("endpoint has no origin");
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string port = part(CURLUPART_PORT, CURLU_NO_DEFAULT_PORT);
  return scheme + "://" + host + (port.empty() ? "" : ":" + port);
}

WebPushSender::WebPushSender(webpush::KeyPair vapid, std::string subject, int ttl_s, bool allow_private)
    : vapid_(std::move(vapid)), subject_(std::move(subject)), ttl_s_(ttl_s), allow_private_(allow_private) {}

std::string WebPushSender::public_key() const { return Base64Url(vapid_.public_key); }

Result<std::string> WebPushSender::Token(const std::string& audience) {
  int64_t now = NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(audience);
  if (it != tokens_.end() && it->second.second - now > kTokenRenewS) return it->second.first;
  auto jwt = webpush::VapidJwt(audience, now + kTokenLifetimeS, subject_, vapid_);
  if (!jwt.ok()) return jwt.error();
  // Push services are few (one origin per browser vendor); tests make more.
  if (tokens_.size() >= 256) tokens_.clear();
  tokens_[audience] = {*jwt, now + kTokenLifetimeS};
  return *jwt;
}

WebhookOutcome WebPushSender::Send(const WebPushSubscription& sub, const Notification& n, const std::string& payload) {
  WebhookOutcome out;
  auto fail = [&out](const std::string& why) {
    out.error = why;
    out.permanent = true;
    return out;
  };
  auto ua_public = DecodeBase64Url(sub.p256dh);
  auto auth = DecodeBase64Url(sub.auth);
  if (!ua_public.ok() || !auth.ok()) return fail("the stored subscription keys are damaged");
  // An entry fits unless its names are near their limits and full of
  // escapes; then the names and preview go (the client fetches the entry).
  std::string plaintext = payload;
  if (plaintext.size() > webpush::kMaxPlaintext) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_object()) {
      j["body_preview"] = j["group_title"] = j["sender_display_name"] = "";
      j["truncated"] = true;
      plaintext = j.dump();
    }
  }
  auto body = webpush::EncryptForSubscription(plaintext, *ua_public, *auth);
  if (!body.ok()) return fail("not encrypted: " + body.error().message);
  auto origin = EndpointOrigin(sub.endpoint);
  if (!origin.ok()) return fail(origin.error().message);
  auto jwt = Token(*origin);
  if (!jwt.ok()) return fail("no VAPID token: " + jwt.error().message);
  std::vector<std::string> headers = {
      "Content-Type: application/octet-stream",
      "Content-Encoding: aes128gcm",
      "TTL: " + std::to_string(ttl_s_),
      std::string("Urgency: ") + WebPushUrgency(n.kind),
      "Topic: " + WebPushTopic(n.group_id),
      "Authorization: " + webpush::VapidAuthorization(*jwt, vapid_),
  };
  return PostToPusher(sub.endpoint, *body, headers, allow_private_);
}

}  // namespace gc
