// The rules of a message body, as pure functions: what MessagingService
// accepts from a client and what it reads out of a body. Kept apart from the
// service (which needs the database) so that the libFuzzer target
// fuzz/event_content_fuzz.cpp can drive them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/common/result.h"

namespace gc {

// The body rules of MessagingService::ValidateBody with the limit given:
// kTooLarge over `max_bytes` bytes, kInvalid unless valid UTF-8 without
// control characters other than newline, tab and carriage return.
Status ValidateMessageBody(std::string_view body, int64_t max_bytes);

// The user addresses mentioned in a message body ("@alice:acme.test"), unique,
// at most 50.
std::vector<std::string> ExtractMentions(const std::string& body);

}  // namespace gc
