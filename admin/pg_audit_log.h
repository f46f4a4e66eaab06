// PgAuditLog: the AuditLog in PostgreSQL (table audit_log, admin/migrations/).
#pragma once

#include "admin/audit_log.h"

namespace gc {

class PgPool;

class PgAuditLog : public AuditLog {
 public:
  explicit PgAuditLog(PgPool& db) : db_(db) {}

  Status Record(const std::string& actor, const std::string& action, const std::string& target,
                const std::string& ip, const std::string& request_id, const nlohmann::json& detail) override;
  Result<std::vector<AuditEntry>> List(int limit, std::optional<int64_t> before_id, const std::string& action,
                                       const std::string& target) override;

 private:
  PgPool& db_;
};

}  // namespace gc
