#include "services/messaging/stream_delivery.h"

#include <algorithm>

#include "node/stream/stream_hub.h"
#include "services/groups/group_service.h"

namespace gc {

StreamDelivery::StreamDelivery(StreamHub& hub, GroupLog& log, GroupService& groups, MessagingService& messaging)
    : hub_(hub), log_(log), groups_(groups), messaging_(messaging) {}

void StreamDelivery::Publish(const GroupEvent& event, const std::vector<std::string>& members,
                             const std::vector<std::string>& extra) {
  // A message ends its sender's typing in that group.
  if (event.type == "message") hub_.EndTyping(event.group_id, event.sender);
  // Nobody to tell (a replica catching up for users who are away): skip the
  // rendering. A stream opened meanwhile replays from the database.
  if (!hub_.AudienceConnected(members, extra)) return;
  hub_.PublishText(event.stream_pos, *ClientJsonText(event), members, extra);
}

void StreamDelivery::BeginBatch() { hub_.BeginBatch(); }
void StreamDelivery::EndBatch() { hub_.EndBatch(); }

void StreamDelivery::Typing(const std::string& group_id, const std::string& user, bool typing,
                            std::shared_ptr<const std::vector<std::string>> recipients) {
  hub_.Typing(group_id, user, typing, std::move(recipients));
}

void StreamDelivery::ReadMarker(const std::string& user, const std::string& group_id, int64_t seq) {
  hub_.ReadMarker(user, group_id, seq);
}

int64_t StreamDelivery::LastStreamPos() const { return log_.last_stream_pos(); }

Result<StreamSource::ReplayScope> StreamDelivery::ReplayScopeOf(const std::string& user) {
  return groups_.JoinedGroups(user);
}

Result<std::vector<StreamEvent>> StreamDelivery::EventsSince(const std::string& user, const ReplayScope& scope,
                                                             int64_t after, int64_t upto, int limit) {
  auto events = messaging_.EventsSince(user, scope, after, upto, limit);
  if (!events.ok()) return events.error();
  std::vector<StreamEvent> out;
  out.reserve(events->size());
  for (const auto& e : *events) out.push_back({e.stream_pos, EventJson(e)});
  return out;
}

Status StreamDelivery::Typing(const UserProfile& user, const std::string& group_id, bool typing) {
  auto row = groups_.Resolve(user, group_id, true);
  if (!row.ok()) return row.error();
  return messaging_.Typing(user, *row, typing);
}

std::vector<std::string> StreamDelivery::PresenceAudience(const std::string& user) {
  std::vector<std::string> audience;
  auto rows = groups_.JoinedGroups(user);
  if (!rows.ok()) return audience;
  for (int64_t row : *rows) {
    auto members = log_.Read(row, [](const GroupState& s) { return s.Joined(); });
    if (members.ok()) audience.insert(audience.end(), (*members)->begin(), (*members)->end());
  }
  std::sort(audience.begin(), audience.end());
  audience.erase(std::unique(audience.begin(), audience.end()), audience.end());
  return audience;
}

}  // namespace gc
