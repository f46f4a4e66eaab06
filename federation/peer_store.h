// PeerStore: where PeerDirectory (peers.h) keeps the peers it pinned, their
// retired keys, the admins' decisions about them and their last contact.
// PgPeerStore (pg_peer_store.h) keeps it in PostgreSQL (fed_peers,
// fed_peer_keys; federation/migrations/). The directory holds the rules
// (admission, key hand-over checks) and a copy in memory; the store only
// stores.
//
// Keys are raw bytes here (32-byte Ed25519/X25519 keys); how they are
// encoded in storage is the store's business. Every call may block on the
// database and is thread-safe. Errors are kUnavailable/kInternal from the
// database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.h"

namespace gc {

struct PeerInfo {
  std::string name;
  std::string identity_key;   // 32 raw bytes
  std::string key_id;
  std::string transport_key;  // 32 raw bytes
  std::string endpoint;       // tcp://host:port
  int64_t first_seen = 0, last_seen = 0;
  std::string admin_state;    // "", "allowed", "blocked"
  std::optional<std::string> key_conflict;
  std::optional<std::string> last_error;
  // From a fetched document: the hand-over from the previous key, if any.
  std::string rotation_old_key_id, rotation_signature;
};

// A key a peer used before a rotation.
struct RetiredPeerKey {
  std::string name, key_id, key;  // key: raw bytes
};

class PeerStore {
 public:
  virtual ~PeerStore() = default;

  // Every stored peer (also those an admin blocked or allowed before first
  // contact: identity_key empty). A stored key that does not decode reads
  // as empty.
  virtual Result<std::vector<PeerInfo>> LoadPeers() = 0;
  // Every retired key (skipping any that does not decode).
  virtual Result<std::vector<RetiredPeerKey>> LoadRetiredKeys() = 0;

  // Pins `p` (name, identity key, key id, transport key, endpoint) at `now`
  // when no key is pinned for it yet or the same key is: stores the
  // transport key and endpoint, sets last_seen and clears a key conflict.
  // False, changing nothing, when a different key is pinned.
  virtual Result<bool> Pin(const PeerInfo& p, int64_t now) = 0;
  // The pinned identity key of `name` with its key id; nullopt if none is
  // stored (or it does not decode).
  struct PinnedKey {
    std::string key, key_id;
  };
  virtual Result<std::optional<PinnedKey>> Pinned(const std::string& name) = 0;
  // After a hand-over the caller verified: keeps `old` as a retired key and
  // pins `p` in its place at `now` (only if `old` is still the pinned key).
  virtual Status Rotate(const PeerInfo& p, const PinnedKey& old, int64_t now) = 0;
  // Records that `name` presented identity key `key` (raw) that is not the
  // pinned one.
  virtual Status MarkKeyConflict(const std::string& name, const std::string& key) = 0;
  // Accepting a changed key forgets the pinned one: the key the peer
  // presents on its next contact is pinned. False if `name` has no key
  // conflict.
  virtual Result<bool> AcceptNewKey(const std::string& name) = 0;

  // An admin's "allowed" or "blocked" (or "") for `name`, creating its row
  // (first_seen `now`, no key) if it has none.
  virtual Status SetAdminState(const std::string& name, const std::string& state, int64_t now) = 0;
  virtual Status Touch(const std::string& name, int64_t last_seen) = 0;
  virtual Status RecordError(const std::string& name, const std::string& error) = 0;
};

}  // namespace gc
