#include "admin/pg_audit_log.h"

#include "node/db/pg.h"

namespace gc {

namespace {
GC_SQL(kInsertAudit,
       "INSERT INTO audit_log (actor, action, target, ip, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)");
GC_SQL(kListAudit,
       "SELECT id, (extract(epoch FROM at) * 1000)::bigint, actor, action, target, ip, request_id, detail::text "
       "FROM audit_log WHERE id < $2 AND ($3 = '' OR action = $3) AND ($4 = '' OR target = $4) "
       "ORDER BY id DESC LIMIT $1");
}  // namespace

Status PgAuditLog::Record(const std::string& actor, const std::string& action, const std::string& target,
                          const std::string& ip, const std::string& request_id, const nlohmann::json& detail) {
  std::string d = detail.is_null() ? "{}" : detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto r = db_.With([&](PgConn& c) { return c.Exec(kInsertAudit, {actor, action, target, ip, request_id, d}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::vector<AuditEntry>> PgAuditLog::List(int limit, std::optional<int64_t> before_id, const std::string& action,
                                                 const std::string& target) {
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kListAudit, {limit, before_id.value_or(INT64_MAX), action, target});
  });
  if (!r.ok()) return r.error();
  std::vector<AuditEntry> out;
  for (int i = 0; i < r->rows(); ++i) {
    AuditEntry e;
    e.id = r->int64(i, 0);
    e.at_ms = r->int64(i, 1);
    e.actor = r->text(i, 2);
    e.action = r->text(i, 3);
    e.target = r->text(i, 4);
    e.ip = r->text(i, 5);
    e.request_id = r->text(i, 6);
    e.detail = nlohmann::json::parse(r->view(i, 7));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace gc
