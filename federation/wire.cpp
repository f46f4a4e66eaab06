#include "federation/wire.h"

namespace gc::wire {

using nlohmann::json;

bool IsStr(const json& j, const char* k) { return j.is_object() && j.contains(k) && j[k].is_string(); }
bool IsInt(const json& j, const char* k) { return j.is_object() && j.contains(k) && j[k].is_number_integer(); }

std::string StrOr(const json& j, const char* k, const std::string& def) {
  return IsStr(j, k) ? j[k].get<std::string>() : def;
}
bool BoolOr(const json& j, const char* k, bool def) {
  return j.is_object() && j.contains(k) && j[k].is_boolean() ? j[k].get<bool>() : def;
}

std::string ErrorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalid: return "invalid";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kUnavailable: return "unavailable";
    default: return "internal";
  }
}

Error ErrorFromAnswer(const json& body) {
  std::string code = StrOr(body, "code", "internal");
  std::string msg = StrOr(body, "message", "the home node refused the event");
  if (code == "invalid") return Error::Invalid(msg);
  if (code == "forbidden" || code == "unauthorized") return Error::Forbidden(msg);
  if (code == "not_found") return Error::NotFound(msg);
  if (code == "conflict") return Error::Conflict(msg);
  if (code == "too_large") return Error::TooLarge(msg);
  if (code == "rate_limited" || code == "unavailable") return Error::Unavailable(msg);
  return Error::Internal(msg);
}

bool Retryable(const json& body) {
  std::string code = StrOr(body, "code", "");
  return code == "rate_limited" || code == "unavailable" || code == "internal";
}

std::string ServerOf(const std::string& address) {
  auto colon = address.find(':');
  return colon == std::string::npos ? "" : address.substr(colon + 1);
}

}  // namespace gc::wire
