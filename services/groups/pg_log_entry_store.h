// PgLogEntryStore: the LogEntryStore in PostgreSQL (the group log's tables:
// events, groups, group_members, reactions). SQL as named statements,
// prepared once per connection.
#pragma once

#include <functional>

#include "services/groups/log_entry_store.h"

namespace gc {

class PgConn;
class PgPool;

class PgLogEntryStore : public LogEntryStore {
 public:
  // Runs inside StoreBackfill's transaction over the stream positions
  // lo..hi it wrote (negative: below every cursor). The composition root
  // hands in the messaging service's search indexing, which the group
  // service may not include.
  using BackfillHook = std::function<Status(PgConn&, int64_t lo, int64_t hi)>;

  explicit PgLogEntryStore(PgPool& db, BackfillHook after_backfill = {})
      : db_(db), after_backfill_(std::move(after_backfill)) {}

  Result<std::vector<StoredEntry>> Entries(int64_t row, int64_t from_seq, int64_t to_seq) override;
  Result<std::vector<StoredEntry>> EntriesAfter(int64_t row, int64_t after_seq, int limit) override;
  Result<std::optional<StoredChain>> ChainOf(const std::string& address) override;
  Result<std::optional<int64_t>> SeqOf(const std::string& event_id) override;
  Result<std::optional<std::string>> EntryHashAt(int64_t row, int64_t seq) override;
  Result<std::optional<std::string>> PrevHashAt(int64_t row, int64_t seq) override;
  Result<std::map<int64_t, int64_t>> LastSeqs(const std::vector<int64_t>& rows) override;
  Status SetTxnIds(int64_t row, const std::vector<std::pair<std::string, std::string>>& txn_ids) override;
  Result<std::vector<ReplicaHead>> LocalReplicas(const std::string& self) override;
  Status StoreBackfill(const GroupState& group, std::vector<Draft>& drafts) override;

 private:
  PgPool& db_;
  BackfillHook after_backfill_;
};

}  // namespace gc
