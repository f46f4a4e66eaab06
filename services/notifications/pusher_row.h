// What every pusher row query reads, and the one mapper from it: the user's
// own list and registration (push_sender.cpp) and the admin's directory
// (pusher_directory.cpp) select GC_PUSHER_COLUMNS first, from `pushers`
// aliased `p`, and read it with PusherFromRow.
//
// Thread-safety: plain data and a pure function.
#pragma once

#include "services/notifications/notification_store.h"

namespace gc {

class PgResult;

#define GC_PUSHER_COLUMNS "p.id, p.kind, p.url, p.created_at, p.last_success_at, p.last_error, p.failures"
constexpr int kPusherColumns = 7;  // how many GC_PUSHER_COLUMNS are

// Row `i` of `r`, whose first columns are GC_PUSHER_COLUMNS.
PusherStatus PusherFromRow(const PgResult& r, int i);

}  // namespace gc
