// PgPeerStore: the PeerStore in PostgreSQL (fed_peers, fed_peer_keys; keys
// stored as base64url text).
#pragma once

#include "federation/peer_store.h"

namespace gc {

class PgPool;

class PgPeerStore : public PeerStore {
 public:
  explicit PgPeerStore(PgPool& db) : db_(db) {}

  Result<std::vector<PeerInfo>> LoadPeers() override;
  Result<std::vector<RetiredPeerKey>> LoadRetiredKeys() override;
  Result<bool> Pin(const PeerInfo& p, int64_t now) override;
  Result<std::optional<PinnedKey>> Pinned(const std::string& name) override;
  Status Rotate(const PeerInfo& p, const PinnedKey& old, int64_t now) override;
  Status MarkKeyConflict(const std::string& name, const std::string& key) override;
  Result<bool> AcceptNewKey(const std::string& name) override;
  Status SetAdminState(const std::string& name, const std::string& state, int64_t now) override;
  Status Touch(const std::string& name, int64_t last_seen) override;
  Status RecordError(const std::string& name, const std::string& error) override;

 private:
  PgPool& db_;
};

}  // namespace gc
