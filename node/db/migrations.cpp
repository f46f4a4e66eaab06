#include "node/db/migrations.h"

#include <algorithm>
#include <string>

#include "node/common/log.h"
#include "node/db/pg.h"

namespace gc {
namespace {

// Services in dependency order: a service's tables may refer only to tables
// of services before it.
constexpr const char* kServiceOrder[] = {"node", "users", "groups", "messaging", "federation", "admin", "media"};

int Rank(const char* service) {
  int i = 0;
  for (const char* s : kServiceOrder) {
    if (std::string(s) == service) return i;
    ++i;
  }
  return i;
}

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " service text NOT NULL, version integer NOT NULL, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, version))";
// Any fixed 64-bit number; every process of every node uses the same one.
constexpr const char* kLock = "SELECT pg_advisory_lock(7460211862315541)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(7460211862315541)";
GC_SQL(kIsApplied, "SELECT 1 FROM schema_migrations WHERE service = $1 AND version = $2");
GC_SQL(kRecord, "INSERT INTO schema_migrations (service, version, name) VALUES ($1, $2, $3)");

}  // namespace

std::vector<Migration> OrderedMigrations() {
  std::vector<Migration> v = EmbeddedMigrations();
  std::stable_sort(v.begin(), v.end(), [](const Migration& a, const Migration& b) {
    int ra = Rank(a.service), rb = Rank(b.service);
    if (ra != rb) return ra < rb;
    if (std::string(a.service) != b.service) return std::string(a.service) < b.service;
    return a.version < b.version;
  });
  return v;
}

Result<int> ApplyMigrations(PgPool& pool) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.error();
  PgConn& c = **lease;
  GC_TRY(c.ExecScript(kCreateTable));
  GC_TRY(c.ExecScript(kLock));
  int applied = 0;
  Status result = OkStatus();
  for (const Migration& m : OrderedMigrations()) {
    auto done = c.Exec(kIsApplied, {m.service, m.version});
    if (!done.ok()) {
      result = done.error();
      break;
    }
    if (done->rows() > 0) continue;
    auto st = c.ExecScript("BEGIN");
    if (st.ok()) st = c.ExecScript(m.sql);
    if (st.ok()) {
      auto rec = c.Exec(kRecord, {m.service, m.version, m.name});
      if (!rec.ok()) st = rec.error();
    }
    if (st.ok()) st = c.ExecScript("COMMIT");
    if (!st.ok()) {
      (void)c.ExecScript("ROLLBACK");
      result = Error::Internal(std::string("migration ") + m.service + "/" + std::to_string(m.version) + "_" +
                               m.name + " failed: " + st.error().message);
      break;
    }
    LogInfo("applied migration", {{"service", m.service}, {"version", m.version}, {"name", m.name}});
    ++applied;
  }
  (void)c.ExecScript(kUnlock);
  if (!result.ok()) return result.error();
  return applied;
}

}  // namespace gc
