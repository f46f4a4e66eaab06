// MessagingService: messages in groups and everything around them: send
// (idempotent per user and client_txn_id), history by seq in both
// directions, edit, delete, replies, reactions, mentions, read markers with
// unread counts, full-text search, typing notifications.
//
// Writes go through the GroupLog (so they are events, ordered and durable
// before they are acknowledged); reads go to the MessageStore
// (message_store.h; PostgreSQL: pg_message_store.h). Membership
// is checked by the caller (GroupService::Resolve) for the fast refusal and
// again inside each log operation against the authoritative state.
//
// Thread-safety: thread-safe; every method may block.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "node/common/principal.h"
#include "node/common/result.h"
#include "services/groups/group_log.h"
#include "services/messaging/message_body.h"
#include "services/messaging/message_store.h"

namespace gc {

class SearchIndex;
class TypingSink;

struct SendRequest {
  std::string body;
  std::optional<std::string> client_txn_id;
  std::optional<std::string> reply_to;
  std::optional<std::string> media_id;
};

// Receives typing notifications and read markers (the stream hub).
class EphemeralSink {
 public:
  virtual ~EphemeralSink() = default;
  virtual void Typing(const std::string& group_id, const std::string& user, bool typing,
                      std::shared_ptr<const std::vector<std::string>> recipients) = 0;
  virtual void ReadMarker(const std::string& user, const std::string& group_id, int64_t seq) = 0;
};

class MessagingService {
 public:
  // Reads and the checks inside log operations go to `store`; writes are
  // events appended through `log`. Both outlive the service.
  MessagingService(GroupLog& log, MessageStore& store, int64_t max_message_bytes);
  void set_ephemeral_sink(EphemeralSink* sink) { ephemeral_ = sink; }
  // Whether a user may attach a media_id to a message (the media service:
  // their own upload, or media they can read); its error refuses the send.
  using MediaCheck = std::function<Status(const std::string& user, const std::string& media_id)>;
  void set_media_check(MediaCheck check) { media_check_ = std::move(check); }
  // Searches wait for it to index what the log has committed (up to 2 s).
  void set_search_index(SearchIndex* index) { search_index_ = index; }

  // `row` must come from GroupService::Resolve. Returns the message event
  // (the first one for a repeated client_txn_id).
  Result<GroupEvent> Send(const UserProfile& me, int64_t row, const SendRequest& req);
  // Send without waiting on a remote home (HTTP handlers): `done` gets what
  // Send would return, once, from any thread.
  using SendDone = std::function<void(Result<GroupEvent>)>;
  void SendAsync(const UserProfile& me, int64_t row, const SendRequest& req, SendDone done);
  // before/after: seq bounds (exclusive). Neither: the newest page.
  Result<HistoryPage> History(const UserProfile& me, int64_t row, std::optional<int64_t> before,
                              std::optional<int64_t> after, int limit);
  Result<GroupEvent> Edit(const UserProfile& me, int64_t row, const std::string& event_id, const std::string& body);
  Result<std::optional<GroupEvent>> Delete(const UserProfile& me, int64_t row, const std::string& event_id);
  Result<std::optional<GroupEvent>> React(const UserProfile& me, int64_t row, const std::string& event_id,
                                          const std::string& key, bool add);
  // The same without waiting on a remote home (HTTP handlers): `done` gets
  // what the blocking form returns, once, from any thread.
  using ChangeDone = std::function<void(Result<std::optional<GroupEvent>>)>;
  void EditAsync(const UserProfile& me, int64_t row, const std::string& event_id, const std::string& body,
                 SendDone done);
  void DeleteAsync(const UserProfile& me, int64_t row, const std::string& event_id, ChangeDone done);
  void ReactAsync(const UserProfile& me, int64_t row, const std::string& event_id, const std::string& key, bool add,
                  ChangeDone done);
  Status MarkRead(const UserProfile& me, int64_t row, int64_t seq);
  Result<std::vector<GroupEvent>> Mentions(const UserProfile& me, std::optional<int64_t> before_pos, int limit);
  Result<std::vector<SearchHit>> Search(const UserProfile& me, const std::string& query, int limit, int offset);
  Status Typing(const UserProfile& me, int64_t row, bool typing);

  // For stream resumption: events with since < stream_pos <= upto of the
  // given groups, plus membership events about `user` anywhere (so a user
  // kicked while away learns of it), in stream_pos order, at most `limit`.
  Result<std::vector<GroupEvent>> EventsSince(const std::string& user, const std::vector<int64_t>& groups,
                                              int64_t since, int64_t upto, int limit);

  using Stats = gc::MessageStats;
  Result<Stats> MessageStats();

  // Body rules: valid UTF-8, 1..max_message_bytes bytes, no control
  // characters other than newline, tab and carriage return.
  Status ValidateBody(const std::string& body) const;
  Result<HistoryPage> HistoryPageOf(int64_t row, std::optional<int64_t> before, std::optional<int64_t> after,
                                    int limit);

 private:
  GroupLog& log_;
  MessageStore& store_;
  int64_t max_message_bytes_;
  EphemeralSink* ephemeral_ = nullptr;
  SearchIndex* search_index_ = nullptr;
  MediaCheck media_check_;
};

}  // namespace gc
