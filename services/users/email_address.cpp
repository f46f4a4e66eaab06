// ValidateEmail: the one check on the profile's `email` (PATCH /api/v1/me).
// Strict on purpose: only what can go into a mail header and an SMTP
// envelope as it is, so that nothing a user types can add a header or a
// recipient (services/notifications/email_message.h).
#include <cctype>
#include <string_view>

#include "services/users/user_service.h"

namespace gc {

Status ValidateEmail(std::string_view email) {
  auto bad = [] { return Error::Invalid("email must be an address like name@example.org (ASCII, at most 254 bytes)"); };
  if (email.size() < 3 || email.size() > 254) return bad();
  size_t at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) return bad();
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  static constexpr std::string_view kLocalChars = ".!#$%&'*+/=?^_`{|}~-";
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return bad();
  }
  for (char ch : local) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && kLocalChars.find(ch) == std::string_view::npos) return bad();
  }
  // Domain: dot-separated labels of letters, digits and inner hyphens.
  if (domain.find('.') == std::string_view::npos) return bad();
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    std::string_view label = domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return bad();
    for (char ch : label) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') return bad();
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return OkStatus();
}

}  // namespace gc
