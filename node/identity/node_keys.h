// The node's long-term keys, kept under data_dir/keys with mode 0600:
//   identity.key   Ed25519 signing key (signs events and the transport key)
//   transport.key  X25519 key for CurveZMQ, published signed by the identity
//   vapid.key      P-256 key of Web Push (services/notifications/webpush.h)
// Either can be rotated without the other (see spec/federation.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/common/encoding.h"  // Base64Url, the encoding of keys on the wire
#include "node/common/result.h"

namespace gc {

// An identity key the node used before a rotation (data_dir/keys/old/), kept
// to publish its public half and to sign the rotation to its successor.
struct OldIdentityKey {
  std::string key_id;
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 64 bytes
  int64_t retired_ms = 0;  // when it was replaced
};

struct NodeKeys {
  std::string identity_public;   // 32 bytes
  std::string identity_secret;   // 64 bytes (libsodium Ed25519 secret key)
  std::string transport_public;  // 32 bytes
  std::string transport_secret;  // 32 bytes
  std::string key_id;            // "ed25519:" + first 8 base64url chars of the public key
  std::vector<OldIdentityKey> old_keys;  // oldest first
};

// Loads the keys, creating missing ones. `*created` tells whether any was new.
Result<NodeKeys> LoadOrCreateNodeKeys(const std::string& data_dir, bool* created);

// Replaces the identity key with a new one; the old one moves to
// data_dir/keys/old/ (0600). Takes effect at the node's next start.
Result<NodeKeys> RotateIdentityKey(const std::string& data_dir);

// A secret of exactly `size` bytes from `path` (kNotFound if absent;
// kInvalid if its mode lets other users read it, or its size is wrong).
Result<std::string> ReadSecretFile(const std::string& path, size_t size);
// Writes `data` to `path` with mode 0600, atomically (a temporary file,
// fsync, rename).
Status WriteSecretFile(const std::string& path, const std::string& data);

// The bytes an old key signs to hand over to the new one (spec 11):
// canonical JSON of {name, old_key_id, key_id, public_key (base64url)}.
std::string RotationBytes(const std::string& name, const std::string& old_key_id, const std::string& key_id,
                          const std::string& public_key_b64);

}  // namespace gc
