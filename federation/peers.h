// PeerDirectory: the nodes this node federates with (spec/federation.md
// section 2). A peer is resolved through federation.resolve (name -> base
// URL) or https://NAME, by fetching /.well-known/groupchat/node and checking
// its self-signature; its identity key is pinned (PeerStore) on first
// contact, and a later different key is refused, logged and kept for the
// admin to see. Admission: names in federation.deny and peers an admin
// blocked are refused; under policy allowlist only federation.allow and
// peers an admin allowed are admitted.
//
// Thread-safety: thread-safe. Resolve may block on HTTP (5 s timeout);
// Admits and Lookup answer from memory.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "federation/peer_store.h"
#include "node/common/result.h"

namespace gc {

struct Config;

struct OutboundPolicy;

// A fetched, self-signature-checked well-known document (through HttpFetch,
// node/common/outbound_http.h).
Result<PeerInfo> FetchNodeDocument(const std::string& name, const std::string& base_url,
                                   const OutboundPolicy& policy);

class PeerDirectory {
 public:
  PeerDirectory(PeerStore& store, const Config& config);
  // Loads pinned peers from the store.
  Status Load();

  // The pinned peer, resolving (and pinning) it on first contact. kForbidden
  // if it is not admitted; kUnavailable if it cannot be resolved; kConflict
  // if it now presents a different identity key.
  Result<PeerInfo> Resolve(const std::string& name);
  // From memory only (no resolution).
  std::optional<PeerInfo> Lookup(const std::string& name) const;
  // Fetches the peer's document again (at most once a second per peer), to
  // follow a key rotation or a new transport key or endpoint.
  Result<PeerInfo> Refresh(const std::string& name);
  // The public key `name` signed with under `key_id`: its pinned key, or one
  // it used before a rotation; refreshes once if the id is unknown.
  Result<std::string> KeyFor(const std::string& name, const std::string& key_id);
  // Keys of every peer, current and retired: name -> key id -> public key.
  std::map<std::string, std::map<std::string, std::string>> AllKeys() const;
  bool Admits(const std::string& name) const;
  // Asks peer `name` (over HTTP) to resolve and pin this node, so that its
  // ZAP handler admits our key. kForbidden if it refuses us.
  Status Introduce(const std::string& name);
  // ZAP: the resolved, admitted peer whose transport key is `key`, or "".
  std::string AdmitsConnection(const std::string& key) const;

  // Administration. kNotFound for unknown peers (block works for any name).
  Status SetAdminState(const std::string& name, const std::string& state);
  // Accepts the key the peer now presents (after a rotation the admin checked).
  Status AcceptNewKey(const std::string& name);
  std::vector<PeerInfo> List() const;
  void Touch(const std::string& name);  // last contact, persisted lazily
  void RecordError(const std::string& name, const std::string& error);
  void FlushContacts();

 private:
  Result<PeerInfo> Pin(const PeerInfo& fetched);
  std::string BaseUrl(const std::string& name) const;
  // What outbound requests to `name` may reach: private addresses only for
  // names in federation.resolve.
  OutboundPolicy PolicyFor(const std::string& name, int deadline_ms) const;

  PeerStore& store_;
  std::string self_;
  std::string policy_;
  std::set<std::string> allow_, deny_;
  std::map<std::string, std::string> resolve_;
  mutable std::mutex mu_;
  std::map<std::string, PeerInfo> peers_;     // GUARDED_BY(mu_)
  std::set<std::string> touched_;             // GUARDED_BY(mu_)
  std::map<std::string, int64_t> failed_at_;  // GUARDED_BY(mu_): last failed resolution (ms)
  std::map<std::string, int64_t> refreshed_at_;  // GUARDED_BY(mu_)
  std::map<std::string, std::map<std::string, std::string>> old_keys_;  // GUARDED_BY(mu_): name -> key id -> key
};

}  // namespace gc
