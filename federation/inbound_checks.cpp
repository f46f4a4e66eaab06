#include "federation/inbound_checks.h"

#include "federation/wire.h"
#include "node/common/address.h"
#include "services/groups/projections.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

using nlohmann::json;
using wire::IsInt;
using wire::IsStr;

Result<json> ParseRequestFrame(std::string_view frame, std::string* re) {
  re->clear();
  auto parsed = ParseStrictJson(frame);
  if (!parsed.ok()) return parsed.error();
  const json& f = *parsed;
  if (IsStr(f, "id")) *re = f["id"].get<std::string>();
  if (!f.is_object() || !IsStr(f, "id") || !IsStr(f, "type") || !f.contains("body") || !f["body"].is_object() ||
      !IsInt(f, "v")) {
    return Error::Invalid("malformed frame");
  }
  return parsed;
}

std::optional<std::string> SignerKeyId(const json& sigs, const std::string& server) {
  if (!sigs.is_object() || !sigs.contains(server) || !sigs[server].is_object()) return std::nullopt;
  for (auto it = sigs[server].begin(); it != sigs[server].end(); ++it) {
    if (it.value().is_string()) return it.key();
  }
  return std::nullopt;
}

Result<ChainEvent> ParseOriginEvent(const json& e) {
  if (!e.is_object()) return Error::Invalid("event must be an object");
  for (const char* k : {"group_id", "type", "sender", "origin", "nonce", "content_hash"}) {
    if (!IsStr(e, k)) return Error::Invalid(std::string("event needs a string ") + k);
  }
  if (!IsInt(e, "origin_ts")) return Error::Invalid("event needs an integer origin_ts");
  ChainEvent c{e["group_id"], e["type"], e["sender"], e["origin"], e["origin_ts"].get<int64_t>(),
               e["nonce"], e["content_hash"], std::nullopt};
  if (e.contains("relates_to")) {
    if (!e["relates_to"].is_string()) return Error::Invalid("relates_to must be a string");
    c.relates_to = e["relates_to"].get<std::string>();
  }
  auto sender = ParseUserId(c.sender);
  if (!sender) return Error::Invalid("sender is not a user address");
  // The sender's server must be the origin that signs.
  if (sender->server != c.origin) return Error::Forbidden("the sender's server is not the event's origin");
  if (!ParseGroupId(c.group_id)) return Error::Invalid("group_id is not a group address");
  return c;
}

Result<Draft> VerifyEntry(const std::string& home, const std::string& group_id, const json& entry,
                          const KeyLookup& key_of) {
  if (!entry.is_object() || !IsInt(entry, "seq") || !IsStr(entry, "prev") || !IsStr(entry, "event_id") ||
      !IsInt(entry, "home_ts") || !entry.contains("event") || !entry.contains("content") ||
      !entry.contains("signatures")) {
    return Error::Invalid("malformed entry");
  }
  auto ce = ParseOriginEvent(entry["event"]);
  if (!ce.ok()) return ce.error();
  if (ce->group_id != group_id) return Error::Invalid("entry of another group");
  const json& content = entry["content"];
  if (!ContentMatchesHash(ce->type, content, ce->content_hash, ce->relates_to)) {
    return Error::Invalid("content does not match content_hash");
  }
  GC_TRY(CheckEventShape(ce->type, content, ce->relates_to));
  auto id = EventIdOf(*ce);
  if (!id.ok() || *id != entry["event_id"]) return Error::Invalid("event_id is not the hash of the event");
  int64_t seq = entry["seq"];
  std::string prev = entry["prev"];
  int64_t home_ts = entry["home_ts"];
  auto entry_hash = EntryHash(group_id, seq, prev, *id, home_ts);
  if (!entry_hash.ok()) return entry_hash.error();
  const json& sigs = entry["signatures"];
  // Only present here: the home signature of the last entry of a linked run
  // covers the run, and the callers check that one (HomeSigned).
  if (!SignerKeyId(sigs, home)) return Error::Unauthorized("the entry has no home signature");
  json osigs;
  if (ce->origin != home) {
    // A third node's user: its own signature must hold too.
    const json& e = entry["event"];
    auto kid = e.contains("signatures") ? SignerKeyId(e["signatures"], ce->origin) : std::nullopt;
    if (!kid) return Error::Unauthorized("the origin signature is missing");
    auto pub = key_of(ce->origin, *kid);
    if (!pub.ok()) return Error::Unavailable("cannot check the origin signature: " + pub.error().message);
    GC_TRY(Verify(e, ce->origin, *kid, *pub));
    osigs = {{ce->origin, e["signatures"][ce->origin]}};
  }
  Draft d = EventDraft(ce->sender, ce->type, content, ce->relates_to);
  auto f = std::make_shared<FixedEvent>();
  f->event_id = *id;
  f->origin = ce->origin;
  f->nonce = ce->nonce;
  f->content_hash = ce->content_hash;
  f->origin_ts = ce->origin_ts;
  f->origin_signatures = osigs;
  f->seq = seq;
  f->prev = prev;
  f->home_ts = home_ts;
  f->entry_hash = std::move(*entry_hash);
  f->signatures = {{home, sigs[home]}};
  d.fixed = f;
  return d;
}

Result<std::shared_ptr<FixedEvent>> VerifyOriginEvent(const std::string& peer, const json& body, const KeyLookup& key_of,
                                                      ChainEvent* out) {
  if (!body.contains("event") || !body.contains("content")) return Error::Invalid("body needs event and content");
  const json& e = body["event"];
  auto ce = ParseOriginEvent(e);
  if (!ce.ok()) return ce.error();
  if (ce->origin != peer) return Error::Forbidden("events are accepted only from their origin (" + ce->origin + ")");
  const json& content = body["content"];
  auto canon = CanonicalJson(content);
  if (!canon.ok()) return Error::Invalid("content has no canonical form: " + canon.error().message);
  if (canon->size() > kMaxEventContentBytes) return Error::TooLarge("event content is over 64 KiB");
  auto chash = ContentHash(content);
  if (!chash.ok() || *chash != ce->content_hash) return Error::Invalid("content does not match content_hash");
  GC_TRY(CheckEventShape(ce->type, content, ce->relates_to));
  if (!e.contains("signatures") || !e["signatures"].is_object()) return Error::Unauthorized("event is not signed");
  auto kid = SignerKeyId(e["signatures"], peer);
  if (!kid) return Error::Unauthorized("the event has no signature of " + peer);
  auto key = key_of(peer, *kid);
  if (!key.ok()) return key.error();
  GC_TRY(Verify(e, peer, *kid, *key));
  auto id = ContentId(e);
  if (!id.ok()) return id.error();
  auto f = std::make_shared<FixedEvent>();
  f->event_id = *id;
  f->origin = ce->origin;
  f->origin_ts = ce->origin_ts;
  f->nonce = ce->nonce;
  f->content_hash = ce->content_hash;
  f->origin_signatures = {{peer, e["signatures"][peer]}};
  *out = *ce;
  return f;
}

}  // namespace gc
