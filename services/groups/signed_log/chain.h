// The hash chain of a group log (spec/federation.md section 6).
//
// Every event has two hashed forms:
//   origin event E = {group_id, type, sender, origin, origin_ts, nonce,
//                     content_hash, relates_to?}
//     event_id = "$" + base64url(SHA-256(canonical(E))), signed by the origin;
//   entry H = {group_id, seq, prev, event_id, home_ts}
//     entry hash = base64url(SHA-256(canonical(H))), signed by the home node;
//     `prev` is the previous entry's hash ("" for the first entry).
// content_hash = base64url(SHA-256(canonical(content))). Hashing the content
// through content_hash lets a replica blank a deleted message's text and
// still verify the chain.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "node/common/result.h"

namespace gc {

struct ChainEvent {
  std::string group_id, type, sender, origin;
  int64_t origin_ts = 0;
  std::string nonce;         // 16 random bytes, base64url
  std::string content_hash;  // base64url SHA-256 of the canonical content
  std::optional<std::string> relates_to;
};

nlohmann::json OriginEventJson(const ChainEvent& e);
nlohmann::json EntryJson(const std::string& group_id, int64_t seq, const std::string& prev,
                         const std::string& event_id, int64_t home_ts);

// canonical(E) and canonical(H), written directly (the same bytes as
// CanonicalJson(OriginEventJson(e)) and CanonicalJson(EntryJson(...)), about
// ten times cheaper: every event of every group goes through them).
Result<std::string> CanonicalOriginEvent(const ChainEvent& e);
Result<std::string> CanonicalEntry(const std::string& group_id, int64_t seq, const std::string& prev,
                                   const std::string& event_id, int64_t home_ts);

// base64url(SHA-256(canonical(content))); kInvalid if content has no
// canonical form (floats, invalid UTF-8, ...).
Result<std::string> ContentHash(const nlohmann::json& content);
// "$" + base64url(SHA-256(canonical(E))).
Result<std::string> EventIdOf(const ChainEvent& e);
// base64url(SHA-256(canonical(H))).
Result<std::string> EntryHash(const std::string& group_id, int64_t seq, const std::string& prev,
                              const std::string& event_id, int64_t home_ts);
// Does `content` hash to `content_hash`, or is it the erased form of a
// deleted message ({}) or of an edit of one ({"event_id": relates_to})?
bool ContentMatchesHash(const std::string& type, const nlohmann::json& content, const std::string& content_hash,
                        const std::optional<std::string>& relates_to);
// 16 random bytes, base64url.
std::string NewNonce();

// Detached Ed25519 signature of `bytes` (base64url) with a 64-byte secret key.
std::string SignBytes(const std::string& bytes, const std::string& secret_key);
bool VerifyBytes(const std::string& bytes, const std::string& signature_b64, const std::string& public_key);

}  // namespace gc
