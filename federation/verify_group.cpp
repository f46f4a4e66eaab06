#include "federation/verify_group.h"

#include <nlohmann/json.hpp>

#include <map>

#include "federation/peer_store.h"
#include "node/identity/node_keys.h"
#include "services/groups/log_entry_store.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

using nlohmann::json;

namespace {

constexpr int kPageSize = 2000;

using KeyRing = std::map<std::string, std::map<std::string, std::string>>;  // server -> key id -> key

// The signature of `server` in a {server: {key_id: sig}} map, verified
// with the key of that id (current or retired).
bool SignedBy(const json& sigs, const std::string& server, const std::string& bytes, const KeyRing& keys,
              std::string* why) {
  if (!sigs.is_object() || !sigs.contains(server) || !sigs[server].is_object() || sigs[server].empty()) {
    *why = "no signature of " + server;
    return false;
  }
  auto ring = keys.find(server);
  for (auto it = sigs[server].begin(); it != sigs[server].end(); ++it) {
    if (!it.value().is_string()) continue;
    if (ring == keys.end() || !ring->second.count(it.key())) {
      *why = "no known key " + it.key() + " of " + server;
      continue;
    }
    if (VerifyBytes(bytes, it.value().get<std::string>(), ring->second.at(it.key()))) return true;
    *why = "the signature of " + server + " does not verify";
  }
  return false;
}

}  // namespace

Result<VerifyReport> VerifyGroup(LogEntryStore& store, PeerStore& peers, const std::string& group_id,
                                 const std::string& self, const std::map<std::string, std::string>& self_keys) {
  auto chain = store.ChainOf(group_id);
  if (!chain.ok()) return chain.error();
  if (!*chain) return Error::NotFound("no such group: " + group_id);
  int64_t row = (*chain)->row;
  std::string home = (*chain)->home, recorded_head = (*chain)->head;
  int64_t base = (*chain)->base_seq;
  KeyRing keys;
  keys[self] = self_keys;
  auto pinned = peers.LoadPeers();
  if (!pinned.ok()) return pinned.error();
  for (const PeerInfo& p : *pinned) {
    if (!p.identity_key.empty()) keys[p.name][p.key_id] = p.identity_key;
  }
  auto retired = peers.LoadRetiredKeys();
  if (!retired.ok()) return retired.error();
  for (const RetiredPeerKey& k : *retired) keys[k.name][k.key_id] = k.key;
  VerifyReport rep;
  rep.group_id = group_id;
  rep.first_seq = base;
  int64_t want = base;
  std::string prev;
  bool first = true;
  auto broken = [&](int64_t seq, const std::string& id, const std::string& why) {
    rep.ok = false;
    rep.broken_seq = seq;
    rep.broken_event_id = id;
    rep.reason = why;
    return rep;
  };
  int64_t after = base - 1;
  while (true) {
    auto page = store.EntriesAfter(row, after, kPageSize);
    if (!page.ok()) return page.error();
    if (page->empty()) break;
    for (const StoredEntry& e : *page) {
      int64_t seq = e.seq;
      const std::string& id = e.event_id;
      after = seq;
      if (seq != want) return broken(want, "", "entry " + std::to_string(want) + " is missing");
      ++want;
      if (!e.nonce || !e.content_hash || !e.entry_hash || !e.home_ts || !e.prev_hash) {
        return broken(seq, id, "no chain data (written before the hash chain existed)");
      }
      ChainEvent ce{group_id, e.type, e.sender, e.origin, e.origin_ts, *e.nonce, *e.content_hash, e.relates_to};
      json content = json::parse(e.content, nullptr, false);
      if (!ContentMatchesHash(ce.type, content, ce.content_hash, ce.relates_to)) {
        return broken(seq, id, "the stored content does not match its content_hash");
      }
      auto eid = EventIdOf(ce);
      if (!eid.ok() || *eid != id) return broken(seq, id, "the event id is not the hash of the stored event");
      if (first) {
        if (base == 1 && !e.prev_hash->empty()) return broken(seq, id, "the first entry has a previous hash");
        prev = *e.prev_hash;
        first = false;
      }
      if (*e.prev_hash != prev) return broken(seq, id, "prev does not match the previous entry's hash");
      auto bytes = CanonicalEntry(group_id, seq, *e.prev_hash, id, *e.home_ts);
      if (!bytes.ok()) return broken(seq, id, bytes.error().message);
      std::string hash = Base64Url(Sha256(*bytes));
      if (hash != *e.entry_hash) return broken(seq, id, "the entry hash does not match the entry");
      std::string why;
      json sigs = json::parse(e.signatures.value_or("null"), nullptr, false);
      if (!SignedBy(sigs, home, *bytes, keys, &why)) return broken(seq, id, "home signature: " + why);
      if (ce.origin != home) {
        auto ebytes = CanonicalOriginEvent(ce);
        json osigs = json::parse(e.origin_signatures.value_or("null"), nullptr, false);
        if (!ebytes.ok() || !SignedBy(osigs, ce.origin, *ebytes, keys, &why)) {
          return broken(seq, id, "origin signature: " + why);
        }
      }
      prev = hash;
      rep.last_seq = seq;
      ++rep.checked;
    }
  }
  rep.head = prev;
  if (rep.head != recorded_head) return broken(rep.last_seq, "", "the group's recorded chain head is not the last entry's hash");
  return rep;
}

}  // namespace gc
