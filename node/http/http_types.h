// Plain HTTP request/response types shared by the gateway and the handlers.
// They carry no Beast types so that handlers compile fast and stay testable.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gc {

struct HttpRequest {
  std::string method;      // "GET", "POST", ...
  std::string target;      // as received: path?query
  std::string path;        // percent-encoded path, without the query
  std::string query;       // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string remote_ip;   // the client's address (X-Forwarded-For only from trusted proxies)
  std::string request_id;  // from X-Request-Id when well-formed, else generated
  bool keep_alive = true;

  // First value of a header (name in lowercase), or empty.
  std::string_view header(std::string_view lower_name) const;
  // A query parameter, percent-decoded; nullopt if absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after this response

  static HttpResponse Json(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static HttpResponse NoContent() {
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
};

// Percent-decoding; returns false on a malformed escape. `plus_is_space` for
// query strings.
bool PercentDecode(std::string_view in, std::string* out, bool plus_is_space);

// The JSON error body of CONTRACT.md: {"error":{"code":..,"message":..}}.
// `reason`, when given, is a finer machine-readable cause ("username_taken")
// added as error.reason; `code` stays one of the contract's codes.
std::string ErrorBody(std::string_view code, std::string_view message, std::string_view reason = {});
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message);

}  // namespace gc
