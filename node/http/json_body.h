// Reading JSON request bodies with clear 400 messages, and mapping service
// errors to HTTP. The one place where Result errors become HTTP statuses.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "node/common/result.h"
#include "node/http/http_types.h"

namespace gc {

// Parses a request body that must be a JSON object. Errors (kInvalid) say
// what is wrong and where: "malformed JSON at byte 17: unexpected end of input".
Result<nlohmann::json> ParseJsonObject(const std::string& body);

// Typed field access: a missing optional field gives nullopt; a field of the
// wrong type (or null for a required field) is an error naming the field.
Result<std::string> RequiredString(const nlohmann::json& obj, const char* field);
Result<std::optional<std::string>> OptionalString(const nlohmann::json& obj, const char* field);
Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& obj, const char* field);
Result<std::optional<bool>> OptionalBool(const nlohmann::json& obj, const char* field);

// An integer query parameter within [lo, hi]: nullopt when absent, kInvalid
// (naming the parameter and the range) when malformed or out of range.
Result<std::optional<int64_t>> QueryInt(const HttpRequest& req, const char* name, int64_t lo, int64_t hi);
// The same with a default for an absent parameter.
Result<int64_t> QueryInt(const HttpRequest& req, const char* name, int64_t lo, int64_t hi, int64_t def);

// The HTTP status and error code for a service error (CONTRACT.md).
HttpResponse ToHttp(const Error& e);

// A 200/201 JSON response from a json value.
HttpResponse JsonResponse(int status, const nlohmann::json& body);

}  // namespace gc
