// Byte encodings shared by the node's keys, the signed group log and the
// HTTP layer (ETags): unpadded URL-safe base64 and SHA-256 (libsodium).
#pragma once

#include <string>

#include "node/common/result.h"

namespace gc {

// Unpadded URL-safe base64 (used for keys, hashes and signatures on the wire).
std::string Base64Url(const std::string& raw);
// Base64url without padding, strict (kInvalid on anything else).
Result<std::string> DecodeBase64Url(const std::string& text);
// The 32-byte SHA-256 digest of `bytes`.
std::string Sha256(const std::string& bytes);

}  // namespace gc
