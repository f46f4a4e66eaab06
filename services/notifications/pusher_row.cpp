#include "services/notifications/pusher_row.h"

#include "node/db/pg.h"

namespace gc {

PusherStatus PusherFromRow(const PgResult& r, int i) {
  PusherStatus p;
  p.pusher_id = r.int64(i, 0);
  p.kind = r.text(i, 1);
  p.url = r.text(i, 2);
  p.created_at = r.int64(i, 3);
  p.last_success_at = r.opt_int64(i, 4);
  p.last_error = r.opt_text(i, 5);
  p.failures = static_cast<int>(r.int64(i, 6));
  return p;
}

}  // namespace gc
