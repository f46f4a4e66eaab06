// StreamDelivery: the messaging service's side of real-time delivery.
//
// The stream (node/stream/) is platform code that knows connections, frames
// and stream positions; the rules of who sees what are the services'. This
// adapter joins the two without the stream reaching up into services/: it
// receives the group log's committed events and the messaging service's
// typing notifications and read markers and hands them to the StreamHub, and
// it answers the stream's questions (StreamSource: what to replay after
// ?since=, a client's typing frame). node/node.cpp wires it.
//
// Thread-safety: thread-safe. Publish, BeginBatch and EndBatch come from the
// group log's writer thread (as EventSink requires); the StreamSource calls
// may block and run on the blocking-work pool.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "node/stream/stream_source.h"
#include "services/groups/group_log.h"
#include "services/messaging/messaging_service.h"

namespace gc {

class GroupService;
class StreamHub;

class StreamDelivery : public EventSink, public EphemeralSink, public StreamSource {
 public:
  StreamDelivery(StreamHub& hub, GroupLog& log, GroupService& groups, MessagingService& messaging);

  // EventSink (the group log's writer thread, in stream_pos order).
  void Publish(const GroupEvent& event, const std::vector<std::string>& members,
               const std::vector<std::string>& extra) override;
  void BeginBatch() override;
  void EndBatch() override;

  // EphemeralSink (the messaging service).
  void Typing(const std::string& group_id, const std::string& user, bool typing,
              std::shared_ptr<const std::vector<std::string>> recipients) override;
  void ReadMarker(const std::string& user, const std::string& group_id, int64_t seq) override;

  // StreamSource (the stream endpoint).
  int64_t LastStreamPos() const override;
  Result<ReplayScope> ReplayScopeOf(const std::string& user) override;
  Result<std::vector<StreamEvent>> EventsSince(const std::string& user, const ReplayScope& scope, int64_t after,
                                               int64_t upto, int limit) override;
  Status Typing(const UserProfile& user, const std::string& group_id, bool typing) override;

  // Everyone who shares a group with `user` (the audience of their presence),
  // sorted, without repeats. Blocks. Empty when the groups cannot be read.
  std::vector<std::string> PresenceAudience(const std::string& user);

 private:
  StreamHub& hub_;
  GroupLog& log_;
  GroupService& groups_;
  MessagingService& messaging_;
};

}  // namespace gc
