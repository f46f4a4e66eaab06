// Format checks on config values shared by several sections (listen
// addresses, server names, URLs). A section's own checks (its enums) stay in
// its file under sections/.
#pragma once

#include <string_view>

namespace gc::config {

bool IsIpAddress(std::string_view s);  // IPv4 or IPv6, no brackets, no port
// host:port with host IPv4, [IPv6] or hostname; port 0..65535. With
// allow_star, `*` is accepted as host and as port.
bool IsHostPort(std::string_view s, bool allow_star);
bool ValidServerName(std::string_view s);  // node/common/address.h IsValidServerName
bool NonEmpty(std::string_view s);
bool ValidBaseUrl(std::string_view s);  // http:// or https:// with a host
bool ValidOptionalBaseUrl(std::string_view s);  // empty, or ValidBaseUrl

inline constexpr const char* kServerNameExpect = "a server name (lowercase DNS name, optionally :port)";

}  // namespace gc::config
