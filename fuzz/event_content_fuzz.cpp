// Event content, from both directions it arrives:
//   - a client's message (the JSON body of POST /api/v1/groups/{id}/messages):
//     read as messaging_http.cpp reads it (ParseJsonObject, RequiredString,
//     OptionalString), the body checked by ValidateMessageBody, mentions
//     extracted by ExtractMentions and the content built as
//     MessagingService::Send builds it; whatever a client may send must have
//     a shape a replica accepts (CheckEventShape), else federation would
//     refuse it later;
//   - a peer's event content: when the object also has "type" (a string),
//     "content" and optionally "relates_to", CheckEventShape judges
//     content, and accepted content is turned into a draft (EventDraft) and
//     applied to a group state, and must match its own content_hash.
#include <set>
#include <string>

#include "fuzz/fuzz_targets.h"
#include "node/common/address.h"
#include "node/common/text.h"
#include "node/http/json_body.h"
#include "services/groups/group_log.h"
#include "services/groups/projections.h"
#include "services/groups/signed_log/chain.h"
#include "services/messaging/message_body.h"

namespace gc::fuzz {
namespace {

using nlohmann::json;

constexpr int64_t kMaxBody = 16384;  // messaging.max_message_bytes default scale

void CheckClientMessage(const json& obj) {
  auto text = RequiredString(obj, "body");
  if (!text.ok()) return;
  auto reply_to = OptionalString(obj, "reply_to");
  auto media_id = OptionalString(obj, "media_id");
  if (!reply_to.ok() || !media_id.ok()) return;
  if (!ValidateMessageBody(*text, kMaxBody).ok()) return;
  FUZZ_CHECK(text->size() <= static_cast<size_t>(kMaxBody) && Utf8Length(*text) && !HasControlChars(*text, true));
  std::vector<std::string> mentions = ExtractMentions(*text);
  FUZZ_CHECK(mentions.size() <= 50);
  std::set<std::string> unique(mentions.begin(), mentions.end());
  FUZZ_CHECK(unique.size() == mentions.size());
  for (const auto& m : mentions) {
    FUZZ_CHECK(ParseUserId(m).has_value());
    FUZZ_CHECK(text->find(m) != std::string::npos);
  }
  json content = {{"body", *text}};
  if (*reply_to) content["reply_to"] = **reply_to;
  if (*media_id) content["media_id"] = **media_id;
  if (!mentions.empty()) content["mentions"] = mentions;
  FUZZ_CHECK(CheckEventShape("message", content, *reply_to).ok());
  auto hash = ContentHash(content);
  FUZZ_CHECK(hash.ok());  // a valid body always has a canonical form
  FUZZ_CHECK(ContentMatchesHash("message", content, *hash, *reply_to));
}

void CheckPeerContent(const json& obj) {
  if (!obj.contains("type") || !obj["type"].is_string() || !obj.contains("content")) return;
  const std::string type = obj["type"].get<std::string>();
  std::optional<std::string> relates_to;
  if (obj.contains("relates_to") && obj["relates_to"].is_string()) relates_to = obj["relates_to"].get<std::string>();
  const json& content = obj["content"];
  if (!CheckEventShape(type, content, relates_to).ok()) return;
  FUZZ_CHECK(content.is_object());
  if (auto hash = ContentHash(content); hash.ok()) {
    FUZZ_CHECK(ContentMatchesHash(type, content, *hash, relates_to));
  }
  Draft d = EventDraft("@fuzz:acme.test", type, content, relates_to);
  FUZZ_CHECK(d.type == type && d.content == content && d.relates_to == relates_to);
  GroupState state;
  if (d.apply) d.apply(state);
  if (type == "member") {
    FUZZ_CHECK(state.members.size() == 1);
    FUZZ_CHECK(state.members.count(content["user_id"].get<std::string>()) == 1);
  }
}

}  // namespace

int EventContentTarget(const uint8_t* data, size_t size) {
  auto obj = ParseJsonObject(std::string(reinterpret_cast<const char*>(data), size));
  if (!obj.ok()) return 0;
  CheckClientMessage(*obj);
  CheckPeerContent(*obj);
  return 0;
}

}  // namespace gc::fuzz
