// What every pusher row query reads, and the one mapper from it: the user's
// own list and registration (push_sender.cpp) and the admin's directory
// (pusher_directory.cpp) select GC_PUSHER_COLUMNS first, from `pushers`
// aliased `p`, and read it with PusherFromRow.
//
// Thread-safety: plain data and a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gc {

class PgResult;

#define GC_PUSHER_COLUMNS "p.id, p.kind, p.url, p.created_at, p.last_success_at, p.last_error, p.failures"
constexpr int kPusherColumns = 7;  // how many GC_PUSHER_COLUMNS are

// A pusher as its user and admins see it.
struct PusherStatus {
  int64_t pusher_id = 0;
  std::string kind;  // webhook | webpush
  std::string url;   // the webhook URL or push endpoint (its origin says which service)
  int64_t created_at = 0;
  std::optional<int64_t> last_success_at;
  std::optional<std::string> last_error;
  int failures = 0;  // consecutive failed attempts
};

// Row `i` of `r`, whose first columns are GC_PUSHER_COLUMNS.
PusherStatus PusherFromRow(const PgResult& r, int i);

}  // namespace gc
