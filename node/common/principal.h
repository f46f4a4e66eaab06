// Who is making a request: the authenticated user and their session.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace gc {

// A local user as the rest of the node sees it. Immutable once built: a
// change produces a new UserProfile, so it can be shared between threads.
struct UserProfile {
  int64_t id = 0;                 // internal row id
  std::string user_id;            // "@alice:acme.test"
  std::string local_part;         // "alice"
  std::string display_name;
  std::optional<std::string> avatar_media_id;
  bool is_admin = false;
  bool deactivated = false;
  int64_t created_at_ms = 0;
  // Where missed mentions are mailed (notifications.email); private: shown
  // only to the user and to admins.
  std::optional<std::string> email;
};

struct Principal {
  int64_t session_id = 0;
  std::shared_ptr<const UserProfile> user;
};

}  // namespace gc
