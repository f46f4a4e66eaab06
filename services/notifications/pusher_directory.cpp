#include "services/notifications/pusher_directory.h"

namespace gc {

Result<std::vector<PusherRecord>> PusherDirectory::List(const std::string& user, int limit, int offset,
                                                        int64_t* total) {
  auto r = store_.AllPushers(user, limit, offset);
  if (!r.ok()) return r.error();
  *total = r->second;
  return std::move(r->first);
}

Result<std::vector<PusherKindStats>> PusherDirectory::Stats() { return store_.PusherStats(); }

Result<PusherRecord> PusherDirectory::Remove(int64_t pusher_id) {
  auto r = store_.RemoveAnyPusher(pusher_id);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such pusher");
  return std::move(**r);
}

}  // namespace gc
