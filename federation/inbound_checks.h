// The checks a peer's frame and the entries in it pass before anything is
// stored (spec/federation.md sections 2 and 6.2), as pure functions of their
// input: no database, no transport. Federation calls them; so do the unit
// tests and the libFuzzer target fuzz/federation_frame_fuzz.cpp, which is why
// they live apart from federation.cpp. Everything here handles hostile input:
// no call throws, asserts or reads a member of the wrong type.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "federation/wire.h"
#include "node/common/result.h"
#include "services/groups/group_log.h"
#include "services/groups/signed_log/chain.h"

namespace gc {

// The envelope of a request frame {v, id, type, body}: kInvalid unless
// `frame` is strict JSON (ParseStrictJson) holding an object with a string
// id, a string type, an object body and an integer v. The version's value is
// the caller's to check. `re` receives the id whenever the frame had a
// readable one (a refusal is addressed to it), else "".
Result<nlohmann::json> ParseRequestFrame(std::string_view frame, std::string* re);

// The key id of `server`'s signature in {server: {key_id: sig}}: the first
// key whose value is a string; nullopt if there is none.
std::optional<std::string> SignerKeyId(const nlohmann::json& sigs, const std::string& server);

// An origin event as it travels: E's fields (chain.h) plus signatures.
// kInvalid on a missing or mistyped field, a sender that is not a user
// address or a group_id that is not a group address; kForbidden when the
// sender's server is not the origin.
Result<ChainEvent> ParseOriginEvent(const nlohmann::json& e);

// The public key `server` signs with under `key_id`, or why there is none.
using KeyLookup = std::function<Result<std::string>(const std::string& server, const std::string& key_id)>;

// Verifies one entry of a push, snapshot or history answer from `home` for
// `group_id` and returns the draft a replica appends: shape, origin event,
// content against content_hash (or its erased form), content shape, event id,
// entry hash, and, for an event of a third node, the origin's signature
// (keys through `key_of`). The home's own signature is only required to be
// present: callers check it on the last entry of a linked run.
// kInvalid/kUnauthorized/kForbidden for a bad entry, kUnavailable when the
// origin's key cannot be had.
Result<Draft> VerifyEntry(const std::string& home, const std::string& group_id, const nlohmann::json& entry,
                          const KeyLookup& key_of);

// The largest canonical content of one event (spec section 9).
constexpr size_t kMaxEventContentBytes = 64 * 1024;

// Verifies a signed origin event {event, content} that `peer` submits (a
// remote user's join or message for a group homed here): the origin must be
// `peer`, the content canonical, at most kMaxEventContentBytes, matching
// content_hash and of the type's shape, and the event signed by `peer` with
// a key `key_of` knows. Returns the event's fixed identity (id, origin,
// nonce, origin signatures) and sets *out to the parsed event.
Result<std::shared_ptr<FixedEvent>> VerifyOriginEvent(const std::string& peer, const nlohmann::json& body,
                                                      const KeyLookup& key_of, ChainEvent* out);

}  // namespace gc
