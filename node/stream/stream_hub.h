// StreamHub: in-memory fan-out of events to the WebSocket connections of this
// process, plus presence and typing.
//
// The messaging service (services/messaging/stream_delivery.h) publishes each
// committed event once, with the list of local users allowed to see it; the
// hub serializes the frame once and hands the same immutable buffer to every
// connection of those users. The events of one commit are fanned out
// together at EndBatch: consecutive events with the same audience form one
// shared, immutable FrameRun, the audience's users are looked up once per
// run (not once per event), and each connection is handed the run with one
// call (one lock, one post to its strand) however many events it holds. The hub knows users, frames and stream
// positions, not groups' rules: it is platform code below the services. Typing
// notifications expire after a few seconds unless refreshed; presence is
// "online" while a user has at least one stream open, and changes are sent to
// everyone who shares a group with them.
//
// Thread-safety: thread-safe, except that Publish, BeginBatch, EndBatch and
// AudienceConnected come from one thread (the group log's writer). The hub
// calls StreamConnection::Deliver and DeliverRun under its lock: they must
// not block or call back into the hub.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "node/stream/stream_source.h"

namespace gc {

// A complete WebSocket frame as it goes on the wire (header and payload),
// built once and shared by every connection that sends it.
using Frame = std::shared_ptr<const std::string>;

// A final, unmasked server text frame around `payload`.
Frame WsTextFrame(const std::string& payload);

// Consecutive event frames of one committed batch that go to the same
// audience, in stream_pos order: built once, shared read-only by every
// receiving connection. `bytes` is the sum of the frames' sizes (what a
// connection's send queue bound counts).
struct FrameRun {
  std::vector<std::pair<Frame, int64_t>> frames;  // (frame, stream_pos)
  size_t bytes = 0;
};
using FrameRunPtr = std::shared_ptr<const FrameRun>;

// One client connection as the hub sees it (implemented by the WebSocket
// session).
class StreamConnection {
 public:
  virtual ~StreamConnection() = default;
  // Queues a frame; `stream_pos` is 0 for ephemeral frames (typing, presence).
  // With `flush` false the frame waits for Flush() (the hub batches the
  // events of one commit this way).
  virtual void Deliver(const Frame& frame, int64_t stream_pos, bool flush = true) = 0;
  virtual void Flush() = 0;
  // Queues every frame of `run`, in order, and schedules the write.
  virtual void DeliverRun(const FrameRunPtr& run) = 0;
  // Ends the connection with a WebSocket close code. Never blocks.
  virtual void Kick(uint16_t code, const std::string& reason) = 0;
  virtual int64_t session_id() const = 0;
};

class StreamHub {
 public:
  // `shared_groups(user)` lists the users who share a group with `user`
  // (presence audience).
  using Audience = std::function<std::vector<std::string>(const std::string& user)>;
  StreamHub(Audience presence_audience, int typing_ttl_s);
  ~StreamHub();

  // A connection starts receiving live frames for `user` from the moment it is
  // attached. Returns false when presence changed (first connection).
  void Attach(const std::string& user, std::shared_ptr<StreamConnection> conn);
  void Detach(const std::string& user, const StreamConnection* conn);

  // Events, from the group log's writer thread in stream_pos order: sends
  // `event` to every connection of `members` and `extra`. BeginBatch and
  // EndBatch bracket the events of one commit, which go out together.
  void Publish(const StreamEvent& event, const std::vector<std::string>& members,
               const std::vector<std::string>& extra);
  // Publish with the event object already serialized (`event_json`, the
  // same bytes as dumping StreamEvent::event): the frame is spliced around it.
  void PublishText(int64_t stream_pos, std::string_view event_json, const std::vector<std::string>& members,
                   const std::vector<std::string>& extra);
  // During a batch, `members` and `extra` must stay alive and unchanged
  // until EndBatch (the group log keeps them in its batch), and the frames
  // leave at EndBatch.
  void BeginBatch();
  void EndBatch();
  // Whether any of `users` has a stream open (nobody to tell: the caller may
  // skip rendering the event; a stream opened later replays it).
  bool AnyConnected(const std::vector<std::string>& users);
  // The same for an event's audience, from the writer thread: inside a batch
  // the answer for the same `members` object is reused until EndBatch, so a
  // burst of messages to one group costs one lookup per member, not one per
  // member and message.
  bool AudienceConnected(const std::vector<std::string>& members, const std::vector<std::string>& extra);

  // `user` is typing in `group_id` (or stopped): tells `recipients` but
  // `user`, and expires after typing_ttl_s unless repeated.
  void Typing(const std::string& group_id, const std::string& user, bool typing,
              std::shared_ptr<const std::vector<std::string>> recipients);
  // Ends `user`'s typing in `group_id` without a frame (their message says it).
  void EndTyping(const std::string& group_id, const std::string& user);
  // `user`'s read marker moved: tells the user's other streams.
  void ReadMarker(const std::string& user, const std::string& group_id, int64_t seq);
  // An ephemeral JSON frame to every open stream of `user` (notifications).
  void SendToUser(const std::string& user, const std::string& payload);
  // Many (user, payload) frames at once: each connection is written once
  // for all of its frames, not once per frame.
  void SendToUsers(const std::vector<std::pair<std::string, std::string>>& frames);

  bool IsOnline(const std::string& user) const;
  // Presence frames ("online") for everyone sharing a group with `user` who
  // has a stream open: sent to a new stream after `ready`. May block (it asks
  // the groups who the audience is).
  std::vector<Frame> PresenceSnapshot(const std::string& user);
  // Close the streams of a revoked session, of a deactivated user, or all
  // (shutdown).
  void CloseSession(int64_t session_id);
  // Sessions with at least one open stream (an open stream is a session in use).
  std::vector<int64_t> OpenSessions() const;
  void CloseUser(const std::string& user);
  void CloseAll();
  // Waits until every stream has detached (after CloseAll: clients answered
  // the close, or their sockets ended), at most `max`. True if none is left.
  bool WaitUntilNoConnections(std::chrono::milliseconds max);
  // Forgets every connection (after the I/O threads stopped, before the
  // connections' io_context is destroyed).
  void DetachAll();
  int connections() const { return connections_.load(); }
  uint64_t frames_delivered() const { return frames_delivered_.load(); }

  void Stop();

 private:
  void Send(const std::vector<std::string>& users, const Frame& frame, int64_t pos);
  // Hands `run` to every connection of `members` and `extra`. Needs mu_.
  void DeliverRunLocked(const std::vector<std::string>& members, const std::vector<std::string>& extra,
                        const FrameRunPtr& run);
  // Writer thread only: the events of the open batch, and the answers of
  // AudienceConnected in it (by `members` object).
  struct Pending {
    Frame frame;
    int64_t pos;
    const std::vector<std::string>* members;
    const std::vector<std::string>* extra;
  };
  bool in_batch_ = false;
  std::vector<Pending> batch_;
  std::vector<std::pair<const std::vector<std::string>*, bool>> connected_cache_;
  void PresenceChanged(const std::string& user, bool online);
  void ExpireTyping();

  Audience audience_;
  int typing_ttl_s_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<StreamConnection>>> by_user_;  // GUARDED_BY(mu_)
  std::condition_variable none_left_;  // with mu_: by_user_ became empty
  std::atomic<int> connections_{0};
  std::atomic<uint64_t> frames_delivered_{0};

  std::mutex typing_mu_;
  // (group_id, user) -> expiry and audience
  struct TypingEntry {
    std::chrono::steady_clock::time_point expires;
    std::shared_ptr<const std::vector<std::string>> recipients;
  };
  std::map<std::pair<std::string, std::string>, TypingEntry> typing_;  // GUARDED_BY(typing_mu_)
  std::condition_variable typing_cv_;
  bool stopping_ = false;  // GUARDED_BY(typing_mu_)
  std::thread typing_thread_;
};

}  // namespace gc
