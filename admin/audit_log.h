// AuditLog: an append-only record of administrative actions (who, what,
// target, when, from which IP), shown in the admin console. Thread-safe;
// every method blocks on the database.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.h"

namespace gc {

class PgPool;

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string actor, action, target, ip, request_id;
  nlohmann::json detail;
};

class AuditLog {
 public:
  explicit AuditLog(PgPool& db) : db_(db) {}

  Status Record(const std::string& actor, const std::string& action, const std::string& target,
                const std::string& ip, const std::string& request_id, const nlohmann::json& detail = {});
  // Newest first; entries with id < before_id when given; optional filters.
  Result<std::vector<AuditEntry>> List(int limit, std::optional<int64_t> before_id, const std::string& action,
                                       const std::string& target);

 private:
  PgPool& db_;
};

}  // namespace gc
