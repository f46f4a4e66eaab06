// Field readers for the JSON peers send, and the mapping between errors and
// the error codes of answers (spec/federation.md 7.4), shared by the parts of
// the federation service (every file of federation/). None of them
// throws on a peer's odd types (json::value does).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "node/common/result.h"

namespace gc::wire {

// How long a request waits for its answer before it counts as failed (9.5).
inline constexpr int64_t kAnswerTimeoutMs = 5000;

bool IsStr(const nlohmann::json& j, const char* k);
bool IsInt(const nlohmann::json& j, const char* k);
std::string StrOr(const nlohmann::json& j, const char* k, const std::string& def);
bool BoolOr(const nlohmann::json& j, const char* k, bool def);

std::string ErrorCodeName(ErrorCode c);
// The error an `error` answer's body {code, message} stands for.
Error ErrorFromAnswer(const nlohmann::json& body);
// Refusals worth retrying (rate_limited, unavailable, internal).
bool Retryable(const nlohmann::json& body);
// "example.org" of "@alice:example.org" or "#eng:example.org" ("" if none).
std::string ServerOf(const std::string& address);

}  // namespace gc::wire
