// Plain HTTP request/response types shared by the gateway and the handlers.
// They carry no Beast types so that handlers compile fast and stay testable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gc {

// A request body the server streamed to a temporary file instead of memory
// (routes with RouteOptions::body_to_file: media uploads). The server hashes
// the bytes as they arrive and keeps the first ones for type sniffing. The
// file is removed when the last owner lets go, unless a store took it over
// (Release).
struct UploadedFile {
  std::string path;        // absolute temp file path; empty once released
  uint64_t size = 0;       // bytes received
  std::string sha256_hex;  // of the received bytes
  std::string head;        // the first (up to 4096) bytes
  int fd = -1;             // open for writing while the body arrives (the server's)
  UploadedFile() = default;
  UploadedFile(const UploadedFile&) = delete;
  UploadedFile& operator=(const UploadedFile&) = delete;
  ~UploadedFile();
  // The file now belongs to someone else (renamed away): do not remove it.
  void Release() { path.clear(); }
};

// A response body read from an open file: `length` bytes from `offset`
// (a Range answer, or the whole file). The descriptor is closed when the
// last owner lets go.
struct ResponseFile {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
  ResponseFile() = default;
  ResponseFile(const ResponseFile&) = delete;
  ResponseFile& operator=(const ResponseFile&) = delete;
  ~ResponseFile();
};

struct HttpRequest {
  std::string method;      // "GET", "POST", ...
  std::string target;      // as received: path?query
  std::string path;        // percent-encoded path, without the query
  std::string query;       // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::shared_ptr<UploadedFile> upload;  // body_to_file routes: the body (then `body` is empty)
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
  // When set, the body is streamed from this file (and `body` is ignored);
  // Content-Length is its length.
  std::shared_ptr<ResponseFile> file;

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
