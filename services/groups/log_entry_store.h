// LogEntryStore: the group log's stored entries as other modules read them
// outside an operation, and the one write that lands below a replica's log.
// Replication (federation/) and verify-group need the entries with their
// chain fields exactly as stored (JSON columns as text, never parsed), the
// chain's ends, where an event sits, which replicas hold local users; and a
// replica that fetched older history stores it here. The group log's schema
// (events, groups, group_members, reactions) stays the group service's own:
// nothing outside services/groups names those tables. PgLogEntryStore
// (pg_log_entry_store.h) keeps it in PostgreSQL.
//
// A group is named by its row (GroupState::row) or its address. Every call
// may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database; none of them checks admission,
// membership or signatures (the callers do).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/common/result.h"

namespace gc {

struct Draft;
struct GroupState;

// A stored entry with its chain fields: optional fields are empty for
// entries written before the hash chain existed.
struct StoredEntry {
  int64_t seq = 0;
  std::string event_id, type, sender, origin;
  int64_t origin_ts = 0;
  std::optional<std::string> nonce, content_hash, relates_to;
  std::string content;  // JSON text
  std::optional<int64_t> home_ts;
  std::optional<std::string> prev_hash, entry_hash;
  std::optional<std::string> signatures, origin_signatures;  // JSON text
};

// Where a group's stored chain starts and ends (verify-group).
struct StoredChain {
  int64_t row = 0;
  std::string home, head;  // head: the recorded hash of the last entry
  int64_t base_seq = 1;
};

// A replica of a group homed elsewhere with a local member or invitee.
struct ReplicaHead {
  std::string group_id, home;
  int64_t last_seq = 0;
};

class LogEntryStore {
 public:
  virtual ~LogEntryStore() = default;

  // Entries from_seq..to_seq of group `row`, in seq order.
  virtual Result<std::vector<StoredEntry>> Entries(int64_t row, int64_t from_seq, int64_t to_seq) = 0;
  // Up to `limit` entries of group `row` with seq > after_seq, in seq order.
  virtual Result<std::vector<StoredEntry>> EntriesAfter(int64_t row, int64_t after_seq, int limit) = 0;
  // The stored chain of `address`, nullopt if no such live group.
  virtual Result<std::optional<StoredChain>> ChainOf(const std::string& address) = 0;
  // The seq of event `event_id` in its group; nullopt if it is not stored.
  virtual Result<std::optional<int64_t>> SeqOf(const std::string& event_id) = 0;
  // The entry hash stored at `seq` of group `row`; nullopt if none (no
  // entry, or one written before the hash chain existed).
  virtual Result<std::optional<std::string>> EntryHashAt(int64_t row, int64_t seq) = 0;
  // The prev hash stored at `seq` of group `row` ("" if null); nullopt if
  // there is no entry.
  virtual Result<std::optional<std::string>> PrevHashAt(int64_t row, int64_t seq) = 0;
  // The last seq of each of `rows` (deleted groups included); rows that do
  // not exist are left out.
  virtual Result<std::map<int64_t, int64_t>> LastSeqs(const std::vector<int64_t>& rows) = 0;
  // Gives events of group `row` the client transaction ids they were sent
  // with ((event id, txn id) pairs), where they have none yet: a local
  // user's send that came back from a remote home.
  virtual Status SetTxnIds(int64_t row, const std::vector<std::pair<std::string, std::string>>& txn_ids) = 0;
  // Replicas of groups homed elsewhere (not on `self`) with members or
  // invitees of `self`, and how far each reaches.
  virtual Result<std::vector<ReplicaHead>> LocalReplicas(const std::string& self) = 0;
  // Stores verified older history of `group` (drafts in seq order, each
  // with its FixedEvent) below the held log, in one transaction: the events
  // at negative stream positions, the group's base_seq, the messages'
  // projections, their edits, deletes and reactions replayed, and what the
  // store's backfill hook adds (the search index).
  virtual Status StoreBackfill(const GroupState& group, std::vector<Draft>& drafts) = 0;
};

}  // namespace gc
