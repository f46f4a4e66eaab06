#include "services/groups/signed_log/chain.h"

#include <sodium.h>

#include "node/common/encoding.h"
#include "node/common/random_pool.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

using nlohmann::json;

json OriginEventJson(const ChainEvent& e) {
  json j = {{"group_id", e.group_id}, {"type", e.type},           {"sender", e.sender},
            {"origin", e.origin},     {"origin_ts", e.origin_ts}, {"nonce", e.nonce},
            {"content_hash", e.content_hash}};
  if (e.relates_to) j["relates_to"] = *e.relates_to;
  return j;
}

json EntryJson(const std::string& group_id, int64_t seq, const std::string& prev, const std::string& event_id,
               int64_t home_ts) {
  return {{"group_id", group_id}, {"seq", seq}, {"prev", prev}, {"event_id", event_id}, {"home_ts", home_ts}};
}

namespace {

// `"key":` (keys here are plain ASCII) then the string value.
Status AppendMember(std::string& out, const char* key, const std::string& value) {
  out += '"';
  out += key;
  out += "\":";
  return AppendCanonicalString(out, value);
}

Status IntMember(std::string& out, const char* key, int64_t value) {
  out += '"';
  out += key;
  out += "\":";
  return AppendCanonicalInt(out, value);
}

}  // namespace

Result<std::string> CanonicalOriginEvent(const ChainEvent& e) {
  // Members in bytewise key order.
  std::string out;
  out.reserve(256);
  out += '{';
  GC_TRY(AppendMember(out, "content_hash", e.content_hash));
  out += ',';
  GC_TRY(AppendMember(out, "group_id", e.group_id));
  out += ',';
  GC_TRY(AppendMember(out, "nonce", e.nonce));
  out += ',';
  GC_TRY(AppendMember(out, "origin", e.origin));
  out += ',';
  GC_TRY(IntMember(out, "origin_ts", e.origin_ts));
  if (e.relates_to) {
    out += ',';
    GC_TRY(AppendMember(out, "relates_to", *e.relates_to));
  }
  out += ',';
  GC_TRY(AppendMember(out, "sender", e.sender));
  out += ',';
  GC_TRY(AppendMember(out, "type", e.type));
  out += '}';
  return out;
}

Result<std::string> CanonicalEntry(const std::string& group_id, int64_t seq, const std::string& prev,
                                   const std::string& event_id, int64_t home_ts) {
  std::string out;
  out.reserve(192);
  out += '{';
  GC_TRY(AppendMember(out, "event_id", event_id));
  out += ',';
  GC_TRY(AppendMember(out, "group_id", group_id));
  out += ',';
  GC_TRY(IntMember(out, "home_ts", home_ts));
  out += ',';
  GC_TRY(AppendMember(out, "prev", prev));
  out += ',';
  GC_TRY(IntMember(out, "seq", seq));
  out += '}';
  return out;
}

Result<std::string> ContentHash(const json& content) {
  auto c = CanonicalJson(content);
  if (!c.ok()) return c.error();
  return Base64Url(Sha256(*c));
}

Result<std::string> EventIdOf(const ChainEvent& e) {
  auto c = CanonicalOriginEvent(e);
  if (!c.ok()) return c.error();
  return "$" + Base64Url(Sha256(*c));
}

Result<std::string> EntryHash(const std::string& group_id, int64_t seq, const std::string& prev,
                              const std::string& event_id, int64_t home_ts) {
  auto c = CanonicalEntry(group_id, seq, prev, event_id, home_ts);
  if (!c.ok()) return c.error();
  return Base64Url(Sha256(*c));
}

bool ContentMatchesHash(const std::string& type, const json& content, const std::string& content_hash,
                        const std::optional<std::string>& relates_to) {
  auto h = ContentHash(content);
  if (h.ok() && *h == content_hash) return true;
  if (type == "message" && content.is_object() && content.empty()) return true;
  if (type == "message.edit" && relates_to && content == json{{"event_id", *relates_to}}) return true;
  return false;
}

std::string NewNonce() {
  // Pooled: the group log's writer makes one per event.
  unsigned char raw[16];
  PooledRandomBytes(raw, sizeof raw);
  return Base64Url(std::string(reinterpret_cast<const char*>(raw), sizeof raw));
}

std::string SignBytes(const std::string& bytes, const std::string& secret_key) {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return Base64Url(std::string(reinterpret_cast<char*>(sig), sizeof sig));
}

bool VerifyBytes(const std::string& bytes, const std::string& signature_b64, const std::string& public_key) {
  auto sig = DecodeBase64Url(signature_b64);
  if (!sig.ok() || sig->size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

}  // namespace gc
