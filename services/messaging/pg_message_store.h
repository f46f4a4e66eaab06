// PgMessageStore: the MessageStore in PostgreSQL (the events, reactions,
// read_markers, mentions and event_search tables; migrations/ and the group
// service's). SQL as named statements, prepared once per connection.
#pragma once

#include "services/messaging/message_store.h"

namespace gc {

class PgPool;

class PgMessageStore : public MessageStore {
 public:
  explicit PgMessageStore(PgPool& db) : db_(db) {}

  Result<std::optional<GroupEvent>> FindByTxn(const std::string& sender, const std::string& txn) override;
  Result<HistoryPage> Page(int64_t row, std::optional<int64_t> before, std::optional<int64_t> after,
                           int limit) override;
  Result<std::optional<LogStart>> LogStartOf(int64_t row) override;
  Status MarkRead(int64_t row, const std::string& user, int64_t seq) override;
  Result<std::vector<GroupEvent>> Mentions(const std::string& user, int64_t before_pos, int limit) override;
  Result<std::vector<SearchHit>> Search(const std::string& user, const std::string& query, int limit,
                                        int offset) override;
  Result<MessageStats> Stats(int64_t now_ms) override;
  Result<std::vector<GroupEvent>> EventsSince(const std::string& user, const std::vector<int64_t>& groups,
                                              int64_t since, int64_t upto, int limit) override;
  Result<std::optional<MessageTarget>> Target(OpContext& ctx, const std::string& event_id,
                                              int64_t group_row) override;
  Result<bool> HasReaction(OpContext& ctx, const std::string& event_id, const std::string& user,
                           const std::string& key) override;

 private:
  PgPool& db_;
};

}  // namespace gc
