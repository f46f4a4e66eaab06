#include "node/db/pg_probe.h"

#include "node/db/pg.h"

namespace gc {

namespace {
GC_SQL(kProbePing, "SELECT 1");
GC_SQL(kProbeDatabaseSize, "SELECT pg_database_size(current_database())");
}  // namespace

Status PingDatabase(PgPool& pool) {
  auto r = pool.With([](PgConn& c) { return c.Exec(kProbePing); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<int64_t> DatabaseSizeBytes(PgPool& pool) {
  auto r = pool.With([](PgConn& c) { return c.Exec(kProbeDatabaseSize); });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

}  // namespace gc
