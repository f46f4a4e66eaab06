// PusherDirectory: every user's pushers, for admins (the console's
// Notifications page). Users manage their own through PushSender; this is
// the node-wide view and the admin's removal.
//
// Thread-safety: thread-safe; every method blocks on the database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.h"
#include "services/notifications/notification_store.h"

namespace gc {

class PusherDirectory {
 public:
  explicit PusherDirectory(NotificationStore& store) : store_(store) {}

  // Pushers of `user` (all users if empty), by id, after `offset`, at most
  // `limit`; `total` is the count of all that match.
  Result<std::vector<PusherRecord>> List(const std::string& user, int limit, int offset, int64_t* total);
  Result<std::vector<PusherKindStats>> Stats();
  // Removes a pusher whoever's it is (its queued pushes go with it).
  // kNotFound if there is none. Returns what was removed.
  Result<PusherRecord> Remove(int64_t pusher_id);

 private:
  NotificationStore& store_;
};

}  // namespace gc
