#include "federation/verify_group.h"

#include <nlohmann/json.hpp>

#include <map>

#include "node/db/pg.h"
#include "node/identity/node_keys.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

using nlohmann::json;

namespace {

GC_SQL(kGroup, "SELECT id, server, head_hash, base_seq, last_seq FROM groups WHERE address = $1 AND deleted_at IS NULL");
GC_SQL(kPeerKeys,
       "SELECT name, key_id, identity_key FROM fed_peers WHERE identity_key <> '' "
       "UNION ALL SELECT name, key_id, key FROM fed_peer_keys");
GC_SQL(kPage,
       "SELECT seq, event_id, type, sender, origin, origin_ts, nonce, content_hash, relates_to, content::text, "
       "home_ts, prev_hash, entry_hash, signatures::text, origin_signatures::text FROM events "
       "WHERE group_id = $1 AND seq > $2 ORDER BY seq LIMIT 2000");

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

Result<VerifyReport> VerifyGroup(PgConn& c, const std::string& group_id, const std::string& self,
                                 const std::map<std::string, std::string>& self_keys) {
  auto g = c.Exec(kGroup, {group_id});
  if (!g.ok()) return g.error();
  if (g->rows() == 0) return Error::NotFound("no such group: " + group_id);
  int64_t row = g->int64(0, 0);
  std::string home = g->text(0, 1), recorded_head = g->text(0, 2);
  int64_t base = g->int64(0, 3);
  KeyRing keys;
  keys[self] = self_keys;
  auto pk = c.Exec(kPeerKeys);
  if (!pk.ok()) return pk.error();
  for (int i = 0; i < pk->rows(); ++i) {
    auto pub = DecodeBase64Url(pk->text(i, 2));
    if (pub.ok()) keys[pk->text(i, 0)][pk->text(i, 1)] = *pub;
  }
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
    auto page = c.Exec(kPage, {row, after});
    if (!page.ok()) return page.error();
    if (page->rows() == 0) break;
    for (int i = 0; i < page->rows(); ++i) {
      int64_t seq = page->int64(i, 0);
      std::string id = page->text(i, 1);
      after = seq;
      if (seq != want) return broken(want, "", "entry " + std::to_string(want) + " is missing");
      ++want;
      auto nonce = page->opt_text(i, 6), chash = page->opt_text(i, 7), ehash = page->opt_text(i, 12);
      auto home_ts = page->opt_int64(i, 10);
      auto prev_hash = page->opt_text(i, 11);
      if (!nonce || !chash || !ehash || !home_ts || !prev_hash) {
        return broken(seq, id, "no chain data (written before the hash chain existed)");
      }
      ChainEvent ce{group_id, page->text(i, 2), page->text(i, 3), page->text(i, 4), page->int64(i, 5),
                    *nonce, *chash, page->opt_text(i, 8)};
      json content = json::parse(page->view(i, 9), nullptr, false);
      if (!ContentMatchesHash(ce.type, content, ce.content_hash, ce.relates_to)) {
        return broken(seq, id, "the stored content does not match its content_hash");
      }
      auto eid = EventIdOf(ce);
      if (!eid.ok() || *eid != id) return broken(seq, id, "the event id is not the hash of the stored event");
      if (first) {
        if (base == 1 && !prev_hash->empty()) return broken(seq, id, "the first entry has a previous hash");
        prev = *prev_hash;
        first = false;
      }
      if (*prev_hash != prev) return broken(seq, id, "prev does not match the previous entry's hash");
      auto bytes = CanonicalEntry(group_id, seq, *prev_hash, id, *home_ts);
      if (!bytes.ok()) return broken(seq, id, bytes.error().message);
      std::string hash = Base64Url(Sha256(*bytes));
      if (hash != *ehash) return broken(seq, id, "the entry hash does not match the entry");
      std::string why;
      json sigs = json::parse(page->opt_text(i, 13).value_or("null"), nullptr, false);
      if (!SignedBy(sigs, home, *bytes, keys, &why)) return broken(seq, id, "home signature: " + why);
      if (ce.origin != home) {
        auto ebytes = CanonicalOriginEvent(ce);
        json osigs = json::parse(page->opt_text(i, 14).value_or("null"), nullptr, false);
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
