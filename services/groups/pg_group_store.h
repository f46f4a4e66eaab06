// PgGroupStore: the GroupStore in PostgreSQL (the group log's tables and the
// messaging service's reactions, mentions and read markers). SQL as named
// statements, prepared once per connection.
#pragma once

#include "services/groups/group_store.h"

namespace gc {

class PgPool;

class PgGroupStore : public GroupStore {
 public:
  explicit PgGroupStore(PgPool& db) : db_(db) {}

  Result<std::vector<Membership>> MyGroups(const std::string& user) override;
  Result<std::vector<int64_t>> JoinedGroups(const std::string& user) override;
  Result<std::optional<GroupEvent>> LastEvent(int64_t row) override;
  Result<std::vector<int64_t>> PublicDirectory(const std::string& q, int limit, int offset, int64_t* total) override;
  Result<std::vector<int64_t>> AdminSearch(const std::string& q, int limit, int offset, int64_t* total) override;
  Result<int64_t> CountGroups() override;
  Result<int64_t> MessageCount(int64_t row) override;
  Result<int64_t> PurgeHistory(int64_t row) override;

 private:
  PgPool& db_;
};

}  // namespace gc
