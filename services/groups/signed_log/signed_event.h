// Content addressing and signatures of group log events, local or federated (spec/federation.md
// sections 4 and 5).
//
// An origin event is a JSON object; the bytes it is hashed and signed over are
// the canonical JSON of the object without its "signatures" and "unsigned"
// members. Its event id is "$" + base64url(SHA-256(those bytes)), so the
// origin knows the id before the home node sequences it, and a replay of the
// same event has the same id. Signatures live in
// "signatures": {server: {key_id: base64url(Ed25519 signature)}}.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "node/common/encoding.h"  // Base64Url, DecodeBase64Url, Sha256: the encodings used here
#include "node/common/result.h"

namespace gc {

struct SigningKey {
  std::string server;      // "acme.test"
  std::string key_id;      // "ed25519:abcdefgh"
  std::string secret_key;  // 64 bytes (libsodium Ed25519)
  std::string public_key;  // 32 bytes
};

// The canonical bytes that are hashed and signed.
Result<std::string> SigningBytes(const nlohmann::json& object);
// "$" + base64url(SHA-256(SigningBytes(event))).
Result<std::string> ContentId(const nlohmann::json& event);
// Adds (or replaces) signatures[key.server][key.key_id].
Status Sign(nlohmann::json& object, const SigningKey& key);
// kUnauthorized unless signatures[server][key_id] is a valid signature by
// `public_key` over SigningBytes(object).
Status Verify(const nlohmann::json& object, const std::string& server, const std::string& key_id,
              const std::string& public_key);

}  // namespace gc
