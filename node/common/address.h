// Addresses of users and groups: `@alice:acme.test`, `#eng:acme.test`.
//
// Local parts are [a-z0-9._-]{1,64}. Server names are lowercase DNS names,
// optionally with :port (1..65535, no leading zeros). In URL paths an address
// is percent-encoded; callers decode before parsing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gc {

struct Address {
  char sigil = 0;       // '@' user, '#' group
  std::string local;    // "alice"
  std::string server;   // "acme.test" or "acme.test:8448"
  std::string str() const { return std::string(1, sigil) + local + ":" + server; }
};

// Parses "@local:server" or "#local:server"; nullopt if malformed.
std::optional<Address> ParseAddress(std::string_view s);
std::optional<Address> ParseUserId(std::string_view s);   // sigil '@' only
std::optional<Address> ParseGroupId(std::string_view s);  // sigil '#' only

bool IsValidLocalPart(std::string_view s);
bool IsValidServerName(std::string_view s);

// DNS host name: labels of [a-z0-9-] (uppercase too unless lowercase_only),
// 1..63 characters, not starting or ending with '-'; at most 253 characters.
bool IsDnsName(std::string_view s, bool lowercase_only);
// A decimal port from `min` to 65535; `out` receives it when given.
bool ParsePort(std::string_view s, int min, bool allow_leading_zero, int* out = nullptr);

}  // namespace gc
