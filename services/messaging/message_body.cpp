#include "services/messaging/message_body.h"

#include <set>

#include "node/common/address.h"
#include "node/common/text.h"

namespace gc {

Status ValidateMessageBody(std::string_view body, int64_t max_bytes) {
  if (static_cast<int64_t>(body.size()) > max_bytes) {
    return Error::TooLarge("body is over the limit of " + std::to_string(max_bytes) + " bytes");
  }
  if (!Utf8Length(body)) return Error::Invalid("body must be valid UTF-8");
  if (HasControlChars(body, true)) return Error::Invalid("body must not contain control characters");
  return OkStatus();
}

std::vector<std::string> ExtractMentions(const std::string& body) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto local_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'; };
  auto server_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'; };
  for (size_t i = 0; i < body.size() && out.size() < 50; ++i) {
    if (body[i] != '@') continue;
    if (i > 0 && (local_char(body[i - 1]) || body[i - 1] == '@')) continue;  // part of an e-mail address
    size_t j = i + 1;
    while (j < body.size() && local_char(body[j])) ++j;
    if (j == i + 1 || j >= body.size() || body[j] != ':') continue;
    size_t k = j + 1;
    while (k < body.size() && server_char(body[k])) ++k;
    std::string candidate = body.substr(i, k - i);
    // Trailing punctuation belongs to the sentence, not the address.
    while (!candidate.empty() && (candidate.back() == '.' || candidate.back() == ':' || candidate.back() == '-')) {
      candidate.pop_back();
    }
    if (ParseUserId(candidate) && seen.insert(candidate).second) out.push_back(candidate);
    i = k - 1;
  }
  return out;
}

}  // namespace gc
