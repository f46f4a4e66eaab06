// Federation frames as a peer sends them (spec/federation.md sections 2, 4-6):
// the request envelope (ParseRequestFrame), then, by what the body holds,
//   - entries of a push/snapshot/history body, each through VerifyEntry as a
//     replica checks them (home acme.test), and the home signature the way
//     Federation::HomeSigned checks it;
//   - a submitted origin event {event, content} through VerifyOriginEvent as
//     the home checks a remote user's event (peer beta.test).
// Keys are the test-vector keys of spec/test-vectors/chain.json (acme.test,
// beta.test); any other server has none.
//
// A frame whose top level has "fuzz_fixup": true is first repaired by the
// harness: content hashes, event ids and both signatures are recomputed from
// the mutated fields, so that mutations reach the checks behind the hashes and
// signatures instead of stopping at the first mismatch.
//
// Invariants: an accepted entry's draft carries exactly the identity the
// entry claims (event id = hash of its event, entry hash = hash of H, content
// of the right shape); an accepted origin event has the id ContentId gives.
#include <sodium.h>

#include <string>
#include <string_view>

#include "federation/inbound_checks.h"
#include "fuzz/fuzz_targets.h"
#include "node/identity/node_keys.h"
#include "services/groups/projections.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc::fuzz {
namespace {

using nlohmann::json;
using wire::IsInt;
using wire::IsStr;

struct TestKey {
  std::string server, key_id, public_key, secret_key;
};

TestKey KeyFromSeed(const char* server, const char* key_id, unsigned char first) {
  unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  for (size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(first + i);
  crypto_sign_seed_keypair(pk, sk, seed);
  return {server, key_id, std::string(reinterpret_cast<char*>(pk), sizeof pk),
          std::string(reinterpret_cast<char*>(sk), sizeof sk)};
}

const TestKey& Acme() {
  static const TestKey k = KeyFromSeed("acme.test", "ed25519:A6EHv_PO", 0x00);
  return k;
}
const TestKey& Beta() {
  static const TestKey k = KeyFromSeed("beta.test", "ed25519:Kay64UG8", 0x20);
  return k;
}
const TestKey* KeyOfServer(const std::string& server) {
  if (server == Acme().server) return &Acme();
  if (server == Beta().server) return &Beta();
  return nullptr;
}

Result<std::string> LookUp(const std::string& server, const std::string& key_id) {
  const TestKey* k = KeyOfServer(server);
  if (!k || k->key_id != key_id) return Error::NotFound("no key " + key_id + " of " + server);
  return k->public_key;
}

// Recomputes content_hash, the origin signature, event_id and the home
// signature of `entry` where its fields allow (harness repair, see above).
void FixUpEvent(json& holder) {
  if (!holder.is_object() || !holder.contains("event") || !holder["event"].is_object()) return;
  json& e = holder["event"];
  if (holder.contains("content")) {
    if (auto h = ContentHash(holder["content"]); h.ok()) e["content_hash"] = *h;
  }
  if (IsStr(e, "origin")) {
    if (const TestKey* k = KeyOfServer(e["origin"].get<std::string>())) {
      e.erase("signatures");
      if (auto bytes = SigningBytes(e); bytes.ok()) {
        e["signatures"] = {{k->server, {{k->key_id, SignBytes(*bytes, k->secret_key)}}}};
      }
    }
  }
}

void FixUpEntry(json& entry, const std::string& home, const std::string& group_id) {
  FixUpEvent(entry);
  if (!entry.is_object() || !entry.contains("event")) return;
  auto ce = ParseOriginEvent(entry["event"]);
  if (!ce.ok()) return;
  auto id = EventIdOf(*ce);
  if (!id.ok()) return;
  entry["event_id"] = *id;
  if (!IsInt(entry, "seq") || !IsInt(entry, "home_ts") || !IsStr(entry, "prev")) return;
  auto bytes = CanonicalEntry(group_id, entry["seq"].get<int64_t>(), entry["prev"].get<std::string>(), *id,
                              entry["home_ts"].get<int64_t>());
  if (const TestKey* k = KeyOfServer(home); k && bytes.ok()) {
    entry["signatures"] = {{k->server, {{k->key_id, SignBytes(*bytes, k->secret_key)}}}};
  }
}

void CheckEntries(json& entries, const std::string& group_id, bool fixup) {
  const std::string home = Acme().server;
  if (!entries.is_array()) return;
  size_t n = 0;
  for (json& entry : entries) {
    if (++n > 500) break;  // ApplyEntries refuses longer pushes before looking at them
    if (fixup) FixUpEntry(entry, home, group_id);
    auto draft = VerifyEntry(home, group_id, entry, LookUp);
    if (!draft.ok()) continue;
    const FixedEvent& f = *draft->fixed;
    auto ce = ParseOriginEvent(entry["event"]);
    FUZZ_CHECK(ce.ok());
    FUZZ_CHECK(ce->group_id == group_id);
    auto id = EventIdOf(*ce);
    FUZZ_CHECK(id.ok() && *id == f.event_id && entry["event_id"] == f.event_id);
    auto hash = EntryHash(group_id, f.seq, f.prev, f.event_id, f.home_ts);
    FUZZ_CHECK(hash.ok() && *hash == f.entry_hash);
    FUZZ_CHECK(draft->type == ce->type && draft->sender == ce->sender);
    FUZZ_CHECK(CheckEventShape(draft->type, draft->content, draft->relates_to).ok());
    // The home signature, as HomeSigned checks the last entry of a run.
    auto kid = SignerKeyId(f.signatures, home);
    FUZZ_CHECK(kid.has_value());
    auto bytes = CanonicalEntry(group_id, f.seq, f.prev, f.event_id, f.home_ts);
    FUZZ_CHECK(bytes.ok());
    auto pub = LookUp(home, *kid);
    if (pub.ok()) (void)VerifyBytes(*bytes, f.signatures[home][*kid].get<std::string>(), *pub);
  }
}

void CheckSubmit(json& body, bool fixup) {
  const std::string peer = Beta().server;
  if (fixup) FixUpEvent(body);
  ChainEvent ce;
  auto fixed = VerifyOriginEvent(peer, body, LookUp, &ce);
  if (!fixed.ok()) return;
  FUZZ_CHECK(ce.origin == peer && (*fixed)->origin == peer);
  auto id = ContentId(body["event"]);
  FUZZ_CHECK(id.ok() && *id == (*fixed)->event_id);
  auto canonical = CanonicalJson(body["content"]);
  FUZZ_CHECK(canonical.ok() && canonical->size() <= kMaxEventContentBytes);
  FUZZ_CHECK(CheckEventShape(ce.type, body["content"], ce.relates_to).ok());
}

}  // namespace

int FederationFrameTarget(const uint8_t* data, size_t size) {
  std::string re;
  auto frame = ParseRequestFrame(std::string_view(reinterpret_cast<const char*>(data), size), &re);
  if (!frame.ok()) return 0;
  FUZZ_CHECK(frame->is_object() && IsStr(*frame, "type") && IsInt(*frame, "v"));
  FUZZ_CHECK((*frame)["id"] == re);
  json& body = (*frame)["body"];
  FUZZ_CHECK(body.is_object());
  const bool fixup = frame->contains("fuzz_fixup") && (*frame)["fuzz_fixup"] == true;
  if (body.contains("entries")) {
    std::string group_id = IsStr(body, "group_id") ? body["group_id"].get<std::string>() : "#eng:acme.test";
    CheckEntries(body["entries"], group_id, fixup);
  }
  if (body.contains("event")) CheckSubmit(body, fixup);
  return 0;
}

}  // namespace gc::fuzz
