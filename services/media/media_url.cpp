#include "services/media/media_url.h"

#include <sodium.h>

#include <algorithm>

#include "node/common/encoding.h"
#include "services/media/sigv4.h"

namespace gc {

namespace {

std::string Mac(const std::string& key, const std::string& media_id, const std::string& user, int64_t expires_s) {
  // Fields separated by a byte none of them may contain.
  std::string msg = "groupchat-media-url-v1\n" + media_id + "\n" + user + "\n" + std::to_string(expires_s);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return std::string(reinterpret_cast<char*>(mac), sizeof mac);
}

}  // namespace

MediaUrlSigner::MediaUrlSigner(std::string key) : key_(std::move(key)) {}

MediaUrlSigner MediaUrlSigner::FromNodeKey(const std::string& identity_secret) {
  static const std::string kLabel = "groupchat media url key v1";
  std::string key(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(),
                     reinterpret_cast<const unsigned char*>(identity_secret.data()),
                     std::min<size_t>(identity_secret.size(), crypto_generichash_KEYBYTES_MAX));
  return MediaUrlSigner(std::move(key));
}

std::string MediaUrlSigner::Sign(const std::string& media_id, const std::string& user, int64_t expires_s) const {
  return Base64Url(Mac(key_, media_id, user, expires_s));
}

bool MediaUrlSigner::Verify(const std::string& media_id, const std::string& user, int64_t expires_s,
                            std::string_view sig, int64_t now_s) const {
  if (expires_s < now_s || expires_s > now_s + kLifetimeS) return false;
  if (media_id.find('\n') != std::string::npos || user.find('\n') != std::string::npos) return false;
  auto raw = DecodeBase64Url(std::string(sig));
  if (!raw.ok() || raw->size() != crypto_auth_hmacsha256_BYTES) return false;
  std::string want = Mac(key_, media_id, user, expires_s);
  return sodium_memcmp(raw->data(), want.data(), want.size()) == 0;
}

std::string MediaUrlSigner::Path(const std::string& media_id, const std::string& user, int64_t expires_s) const {
  // The user id percent-encoded as RFC 3986 wants (SigV4 needs the same).
  return "/api/v1/media/" + media_id + "/signed?u=" + SigV4Encode(user, false) + "&exp=" + std::to_string(expires_s) +
         "&sig=" + Sign(media_id, user, expires_s);
}

}  // namespace gc
