#include "node/http/json_body.h"

#include <cerrno>
#include <cstdlib>

#include "node/common/client_error.h"

namespace gc {

using nlohmann::json;

Result<json> ParseJsonObject(const std::string& body) {
  if (body.empty()) return Error::Invalid("the request body must be a JSON object; it is empty");
  try {
    json j = json::parse(body);
    if (!j.is_object()) return Error::Invalid(std::string("the request body must be a JSON object, not ") + j.type_name());
    return j;
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> keep the useful part.
    size_t p = what.find("parse error");
    return Error::Invalid("malformed JSON: " + (p == std::string::npos ? what : what.substr(p)));
  } catch (const std::exception& e) {
    return Error::Invalid(std::string("malformed JSON: ") + e.what());
  }
}

Result<std::string> RequiredString(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return Error::Invalid(std::string("missing field: ") + field);
  if (!it->is_string()) return Error::Invalid(std::string(field) + " must be a string");
  return it->get<std::string>();
}

Result<std::optional<std::string>> OptionalString(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Error::Invalid(std::string(field) + " must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<int64_t>> OptionalInt(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return Error::Invalid(std::string(field) + " must be an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Error::Invalid(std::string(field) + " is out of range");
  }
  return std::optional<int64_t>(it->get<int64_t>());
}

Result<std::optional<bool>> OptionalBool(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return Error::Invalid(std::string(field) + " must be true or false");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<int64_t>> QueryInt(const HttpRequest& req, const char* name, int64_t lo, int64_t hi) {
  auto v = req.query_param(name);
  if (!v) return std::optional<int64_t>();
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE || n < lo || n > hi) {
    return Error::Invalid(std::string(name) + " must be an integer from " + std::to_string(lo) + " to " +
                          std::to_string(hi));
  }
  return std::optional<int64_t>(n);
}

Result<int64_t> QueryInt(const HttpRequest& req, const char* name, int64_t lo, int64_t hi, int64_t def) {
  auto v = QueryInt(req, name, lo, hi);
  if (!v.ok()) return v.error();
  return v->value_or(def);
}

HttpResponse ToHttp(const Error& e) {
  auto [status, code] = ClientErrorOf(e.code);
  // Internal detail codes (e.g. a SQLSTATE class) are not for clients.
  bool public_detail = !e.detail_code.empty() && e.code != ErrorCode::kInternal &&
                       e.code != ErrorCode::kUnavailable && e.detail_code != "unique_violation";
  HttpResponse r = HttpResponse::Json(status, ErrorBody(code, e.message, public_detail ? e.detail_code : ""));
  if (e.code == ErrorCode::kRateLimited) r.headers.emplace_back("Retry-After", std::to_string(std::max(1, e.retry_after_s)));
  if (e.code == ErrorCode::kUnauthorized) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  if (e.code == ErrorCode::kUnavailable) r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse JsonResponse(int status, const json& body) {
  return HttpResponse::Json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace gc
