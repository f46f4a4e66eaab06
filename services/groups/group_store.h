// GroupStore: what the group service reads beside the group log: the
// listings (a user's groups with their unread counts, the public directory,
// the admin's search), counts, and the purge of a deleted group's history.
// PgGroupStore (pg_group_store.h) keeps it in PostgreSQL. The log itself
// (GroupLog: events, their order, chain and projections) is the group's
// storage for every change; this is only what is read across groups.
//
// Every call may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database. Groups are named by their row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.h"
#include "services/groups/group_log.h"

namespace gc {

class GroupStore {
 public:
  virtual ~GroupStore() = default;

  // A group `user` is joined to or invited to, with what they have read.
  struct Membership {
    int64_t row = 0;
    int64_t read_seq = 0;       // their read marker, 0 if none
    int64_t unread_count = 0;   // others' messages after it (0 unless joined)
    int64_t mention_count = 0;  // mentions of them after it (0 unless joined)
  };
  // `user`'s live groups (joined or invited), most recently active first.
  virtual Result<std::vector<Membership>> MyGroups(const std::string& user) = 0;
  // Rows of the live groups `user` has joined.
  virtual Result<std::vector<int64_t>> JoinedGroups(const std::string& user) = 0;
  // The group's newest event, nullopt if it has none.
  virtual Result<std::optional<GroupEvent>> LastEvent(int64_t row) = 0;
  // Live groups whose title or name (public ones: also topic) contains `q`
  // (all for ""), most recently active first; *total: how many match in all.
  virtual Result<std::vector<int64_t>> PublicDirectory(const std::string& q, int limit, int offset,
                                                       int64_t* total) = 0;
  virtual Result<std::vector<int64_t>> AdminSearch(const std::string& q, int limit, int offset, int64_t* total) = 0;
  virtual Result<int64_t> CountGroups() = 0;
  // Messages of the group that are not deleted.
  virtual Result<int64_t> MessageCount(int64_t row) = 0;
  // Removes the group's history but its group.delete event (reactions,
  // mentions, read markers, events), in one transaction; how many events
  // went.
  virtual Result<int64_t> PurgeHistory(int64_t row) = 0;
};

}  // namespace gc
