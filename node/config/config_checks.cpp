#include "node/config/config_checks.h"

#include <arpa/inet.h>

#include <string>

#include "node/common/address.h"

namespace gc::config {
namespace {

bool IsIpv4(std::string_view s) {
  in_addr a{};
  return inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool IsIpv6(std::string_view s) {
  in6_addr a{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

// A host for a listen address: IPv4, hostname (not an all-numeric thing that
// fails to be an IPv4 address), or `*` when allow_star.
bool IsListenHost(std::string_view host, bool allow_star) {
  if (allow_star && host == "*") return true;
  if (IsIpv4(host)) return true;
  if (!IsDnsName(host, /*lowercase_only=*/false)) return false;
  // "999.1.1.1" or "127.1" are DNS-shaped but meant as (bad) IPv4 addresses.
  for (char c : host)
    if (c != '.' && (c < '0' || c > '9')) return true;
  return false;
}

}  // namespace

bool IsIpAddress(std::string_view s) { return IsIpv4(s) || IsIpv6(s); }

bool IsHostPort(std::string_view s, bool allow_star) {
  std::string_view host, port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    if (!IsIpv6(s.substr(1, close - 1))) return false;
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (!IsListenHost(host, allow_star)) return false;
  }
  if (allow_star && port == "*") return true;
  return ParsePort(port, 0, /*allow_leading_zero=*/true);
}

bool ValidServerName(std::string_view s) { return IsValidServerName(s); }

bool NonEmpty(std::string_view s) { return !s.empty(); }

bool ValidBaseUrl(std::string_view s) {
  size_t rest;
  if (s.substr(0, 7) == "http://") {
    rest = 7;
  } else if (s.substr(0, 8) == "https://") {
    rest = 8;
  } else {
    return false;
  }
  size_t end = s.find_first_of("/?#", rest);
  if (end == rest) return false;  // no host
  if (rest >= s.size()) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  return true;
}

bool ValidOptionalBaseUrl(std::string_view s) { return s.empty() || ValidBaseUrl(s); }

}  // namespace gc::config
