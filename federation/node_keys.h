// The node's long-term keys, kept under data_dir/keys with mode 0600:
//   identity.key   Ed25519 signing key (signs events and the transport key)
//   transport.key  X25519 key for CurveZMQ, published signed by the identity
// Either can be rotated without the other (see spec/federation.md).
#pragma once

#include <string>

#include "node/common/result.h"

namespace gc {

struct NodeKeys {
  std::string identity_public;   // 32 bytes
  std::string identity_secret;   // 64 bytes (libsodium Ed25519 secret key)
  std::string transport_public;  // 32 bytes
  std::string transport_secret;  // 32 bytes
  std::string key_id;            // "ed25519:" + first 8 base64url chars of the public key
};

// Loads the keys, creating missing ones. `*created` tells whether any was new.
Result<NodeKeys> LoadOrCreateNodeKeys(const std::string& data_dir, bool* created);

// Unpadded URL-safe base64 (used for keys, hashes and signatures on the wire).
std::string Base64Url(const std::string& raw);

}  // namespace gc
