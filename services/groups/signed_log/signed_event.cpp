#include "services/groups/signed_log/signed_event.h"

#include <sodium.h>

#include "node/common/encoding.h"
#include "services/groups/signed_log/canonical_json.h"

namespace gc {

using nlohmann::json;

Result<std::string> SigningBytes(const json& object) {
  if (!object.is_object()) return Error::Invalid("expected a JSON object");
  json copy = object;
  copy.erase("signatures");
  copy.erase("unsigned");
  return CanonicalJson(copy);
}

Result<std::string> ContentId(const json& event) {
  auto bytes = SigningBytes(event);
  if (!bytes.ok()) return bytes.error();
  return "$" + Base64Url(Sha256(*bytes));
}

Status Sign(json& object, const SigningKey& key) {
  auto bytes = SigningBytes(object);
  if (!bytes.ok()) return bytes.error();
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(),
                       reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  object["signatures"][key.server][key.key_id] = Base64Url(std::string(reinterpret_cast<char*>(sig), sizeof sig));
  return OkStatus();
}

Status Verify(const json& object, const std::string& server, const std::string& key_id,
              const std::string& public_key) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) return Error::Invalid("bad public key");
  auto sigs = object.find("signatures");
  if (sigs == object.end() || !sigs->is_object()) return Error::Unauthorized("no signatures");
  auto by_server = sigs->find(server);
  if (by_server == sigs->end() || !by_server->is_object()) return Error::Unauthorized("no signature by " + server);
  auto sig = by_server->find(key_id);
  if (sig == by_server->end() || !sig->is_string()) return Error::Unauthorized("no signature with key " + key_id);
  auto raw = DecodeBase64Url(sig->get<std::string>());
  if (!raw.ok() || raw->size() != crypto_sign_BYTES) return Error::Unauthorized("malformed signature");
  auto bytes = SigningBytes(object);
  if (!bytes.ok()) return bytes.error();
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(raw->data()),
                                  reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(),
                                  reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return Error::Unauthorized("signature by " + server + " does not verify");
  }
  return OkStatus();
}

}  // namespace gc
