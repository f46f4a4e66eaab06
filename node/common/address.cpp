#include "node/common/address.h"

#include <charconv>

namespace gc {

static bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool ParsePort(std::string_view s, int min, bool allow_leading_zero, int* out) {
  if (!IsDigits(s) || s.size() > 5) return false;
  if (!allow_leading_zero && s.size() > 1 && s[0] == '0') return false;
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < min || v > 65535) return false;
  if (out) *out = v;
  return true;
}

// DNS host name: labels of [a-z0-9-] (uppercase too unless lowercase_only),
// 1..63 characters, not starting or ending with '-'; at most 253 characters.
bool IsDnsName(std::string_view s, bool lowercase_only) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                (!lowercase_only && c >= 'A' && c <= 'Z');
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}
bool IsValidServerName(std::string_view s) {
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    if (!ParsePort(s.substr(colon + 1), 1, /*allow_leading_zero=*/false)) return false;
    s = s.substr(0, colon);
  }
  return IsDnsName(s, /*lowercase_only=*/true);
}

bool IsValidLocalPart(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<Address> ParseAddress(std::string_view s) {
  if (s.size() < 4 || (s[0] != '@' && s[0] != '#')) return std::nullopt;
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view local = s.substr(1, colon - 1);
  std::string_view server = s.substr(colon + 1);
  if (!IsValidLocalPart(local) || !IsValidServerName(server)) return std::nullopt;
  return Address{s[0], std::string(local), std::string(server)};
}

std::optional<Address> ParseUserId(std::string_view s) {
  auto a = ParseAddress(s);
  if (!a || a->sigil != '@') return std::nullopt;
  return a;
}

std::optional<Address> ParseGroupId(std::string_view s) {
  auto a = ParseAddress(s);
  if (!a || a->sigil != '#') return std::nullopt;
  return a;
}

}  // namespace gc
