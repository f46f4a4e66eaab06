// MessageStore: what the messaging rules read from and write to storage,
// apart from appending events (that is the GroupLog's). PgMessageStore
// (pg_message_store.h) keeps it in PostgreSQL; the rules in
// messaging_service.cpp hold no SQL, so they could run on another store.
//
// Every call may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database; none of them checks membership
// or permissions (the rules do).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.h"
#include "services/groups/group_log.h"

namespace gc {

struct HistoryPage {
  std::vector<GroupEvent> events;  // ascending seq
  bool has_more = false;           // more in the direction of travel
  // reactions[event_id][key] = users
  std::map<std::string, std::map<std::string, std::vector<std::string>>> reactions;
};

struct SearchHit {
  GroupEvent event;
  double rank = 0;
};

struct MessageStats {
  int64_t today = 0;              // messages since 00:00 UTC
  std::vector<int64_t> last_24h;  // 24 hourly counts, oldest first, the current hour last
};

// An event a message operation refers to (reply_to, the message edited,
// deleted or reacted to).
struct MessageTarget {
  std::string sender, type;
  bool deleted = false;
};

// Where a group's log starts on this node: seq 1 for a local group, later
// for a replica that joined after its home had history.
struct LogStart {
  int64_t base_seq = 1;
  std::string home;  // the server the group lives on
};

class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // The event `sender` sent with client_txn_id `txn`, in any group;
  // nullopt if none.
  virtual Result<std::optional<GroupEvent>> FindByTxn(const std::string& sender, const std::string& txn) = 0;
  // Up to `limit` events of group `row` with seq < before, or > after, or
  // the newest (neither), in ascending seq; has_more if there are more in
  // that direction. Reactions of the page's messages that are not deleted.
  virtual Result<HistoryPage> Page(int64_t row, std::optional<int64_t> before, std::optional<int64_t> after,
                                   int limit) = 0;
  // nullopt if the group row does not exist.
  virtual Result<std::optional<LogStart>> LogStartOf(int64_t row) = 0;
  // Raises `user`'s read marker in group `row` to `seq` (never lowers it).
  virtual Status MarkRead(int64_t row, const std::string& user, int64_t seq) = 0;
  // Messages that mention `user` in groups they are joined to and that are
  // not deleted, with stream_pos < before_pos, newest first, at most `limit`.
  virtual Result<std::vector<GroupEvent>> Mentions(const std::string& user, int64_t before_pos, int limit) = 0;
  // Indexed messages matching `query` in groups `user` is joined to, best first.
  virtual Result<std::vector<SearchHit>> Search(const std::string& user, const std::string& query, int limit,
                                                int offset) = 0;
  // Messages today and in each of the last 24 hours before `now_ms`.
  virtual Result<MessageStats> Stats(int64_t now_ms) = 0;
  // Events with since < stream_pos <= upto of `groups`, plus membership
  // events about `user` anywhere, in stream_pos order, at most `limit`.
  virtual Result<std::vector<GroupEvent>> EventsSince(const std::string& user, const std::vector<int64_t>& groups,
                                                      int64_t since, int64_t upto, int limit) = 0;

  // Inside a GroupLog operation, on its transaction (they see what the
  // operation's batch wrote before them):
  // The event `event_id` of group `group_row`; nullopt if there is none.
  virtual Result<std::optional<MessageTarget>> Target(OpContext& ctx, const std::string& event_id,
                                                      int64_t group_row) = 0;
  // Whether `user` has reacted to `event_id` with `key`.
  virtual Result<bool> HasReaction(OpContext& ctx, const std::string& event_id, const std::string& user,
                                   const std::string& key) = 0;
};

}  // namespace gc
