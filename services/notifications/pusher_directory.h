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
#include "services/notifications/pusher_row.h"

namespace gc {

class PgPool;

struct PusherRecord : PusherStatus {
  std::string user_id;
  int64_t queued = 0;  // pushes owed to it
};

// Counts over every pusher of one kind.
struct PusherKindStats {
  std::string kind;
  int64_t pushers = 0;
  int64_t failing = 0;  // with failures > 0
  int64_t queued = 0;
};

class PusherDirectory {
 public:
  explicit PusherDirectory(PgPool& db) : db_(db) {}

  // Pushers of `user` (all users if empty), by id, after `offset`, at most
  // `limit`; `total` is the count of all that match.
  Result<std::vector<PusherRecord>> List(const std::string& user, int limit, int offset, int64_t* total);
  Result<std::vector<PusherKindStats>> Stats();
  // Removes a pusher whoever's it is (its queued pushes go with it).
  // kNotFound if there is none. Returns what was removed.
  Result<PusherRecord> Remove(int64_t pusher_id);

 private:
  PgPool& db_;
};

}  // namespace gc
