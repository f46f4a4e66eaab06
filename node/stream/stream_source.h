// StreamSource: what the stream needs from the services whose events it
// delivers, in the stream's own terms.
//
// Why an interface: the stream (node/stream/) is platform code. It knows
// WebSocket connections, frames, stream positions and users, not groups or
// messages, so that it sits below the services and nothing in node/ reaches
// up into services/. The messaging service, which owns real-time delivery,
// implements this (services/messaging/stream_delivery.h) and feeds the hub;
// the composition root (node/node.cpp) wires the two. docs/architecture.md
// shows the layers.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "node/common/principal.h"
#include "node/common/result.h"

namespace gc {

// One event as clients see it (spec/stream.md), at its place in the stream.
struct StreamEvent {
  int64_t stream_pos = 0;
  nlohmann::json event;  // the object of an {"type":"event","event":{...}} frame
};

// Thread-safety: every call may block (database) and is made from the
// blocking-work pool, never from an I/O thread; implementations are
// thread-safe.
class StreamSource {
 public:
  virtual ~StreamSource() = default;

  // The last committed stream position: a new stream replays up to it, then
  // goes live. Never blocks.
  virtual int64_t LastStreamPos() const = 0;

  // What a replay for `user` covers, fixed when its first page is fetched
  // (the rows of the groups the user is in). Opaque to the stream.
  using ReplayScope = std::vector<int64_t>;
  virtual Result<ReplayScope> ReplayScopeOf(const std::string& user) = 0;

  // The events of `scope` that `user` may see with stream_pos in
  // (after, upto], oldest first, at most `limit`.
  virtual Result<std::vector<StreamEvent>> EventsSince(const std::string& user, const ReplayScope& scope,
                                                       int64_t after, int64_t upto, int limit) = 0;

  // A typing frame the client sent for `group_id`. kNotFound when the group
  // does not exist or the user cannot see it; another error when the user
  // may not post there.
  virtual Status Typing(const UserProfile& user, const std::string& group_id, bool typing) = 0;
};

}  // namespace gc
