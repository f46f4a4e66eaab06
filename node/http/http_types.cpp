#include "node/http/http_types.h"

#include <unistd.h>

#include "node/common/log.h"

namespace gc {

UploadedFile::~UploadedFile() {
  if (fd >= 0) ::close(fd);
  if (!path.empty()) ::unlink(path.c_str());
}

ResponseFile::~ResponseFile() {
  if (fd >= 0) ::close(fd);
}

std::string_view HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = part.find('=');
    std::string_view k = part.substr(0, eq);
    std::string key;
    if (!PercentDecode(k, &key, true) || key != name) continue;
    std::string value;
    if (eq != std::string_view::npos && !PercentDecode(part.substr(eq + 1), &value, true)) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

static int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string* out, bool plus_is_space) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int h = HexVal(in[i + 1]), l = HexVal(in[i + 2]);
      if (h < 0 || l < 0) return false;
      out->push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::string ErrorBody(std::string_view code, std::string_view message, std::string_view reason) {
  std::string s = "{\"error\":{\"code\":";
  AppendJsonString(s, code);
  s += ",\"message\":";
  AppendJsonString(s, message);
  if (!reason.empty()) {
    s += ",\"reason\":";
    AppendJsonString(s, reason);
  }
  s += "}}";
  return s;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  return HttpResponse::Json(status, ErrorBody(code, message));
}

}  // namespace gc
