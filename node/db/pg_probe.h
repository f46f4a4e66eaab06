// Two questions the node asks its database as a whole rather than any
// module's tables: is it reachable (the health check behind /healthz), and
// how big is it (the admin's stats). Beside pg.h rather than in it: pg.h is
// included by every store, and these are asked by the composition root and
// admin only.
#pragma once

#include <cstdint>

#include "node/common/result.h"

namespace gc {

class PgPool;

// Runs a trivial query: OK when the database answers.
Status PingDatabase(PgPool& pool);
// The size of the current database on disk, in bytes.
Result<int64_t> DatabaseSizeBytes(PgPool& pool);

}  // namespace gc
