// AuditLog: an append-only record of administrative actions (who, what,
// target, when, from which IP), shown in the admin console. This is the
// contract; PgAuditLog (pg_audit_log.h) keeps it in PostgreSQL (table
// audit_log, admin/migrations/). Thread-safe; every method blocks on the
// database.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.h"

namespace gc {

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string actor, action, target, ip, request_id;
  nlohmann::json detail;
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // Appends one entry stamped with the database's clock; `detail` null is
  // stored as {}. kUnavailable/kInternal from the database.
  virtual Status Record(const std::string& actor, const std::string& action, const std::string& target,
                        const std::string& ip, const std::string& request_id, const nlohmann::json& detail = {}) = 0;
  // Newest first, at most `limit`; entries with id < before_id when given;
  // `action` and `target` filter exactly when not empty.
  virtual Result<std::vector<AuditEntry>> List(int limit, std::optional<int64_t> before_id,
                                               const std::string& action, const std::string& target) = 0;
};

}  // namespace gc
