// StreamEndpoint: the WebSocket stream at /api/v1/stream (see spec/stream.md).
//
// The HTTP server hands over every upgrade request for the stream path. The
// endpoint authenticates it (access_token query parameter or Bearer header),
// enforces the connection limit, accepts the WebSocket, attaches the
// connection to the StreamHub, replays what the client missed after `since`
// (in pages, pausing while the client's send queue is full) and then switches
// to live events without a gap or a duplicate at the seam: live frames that
// arrive during the replay are held and released after it, skipping any whose
// stream_pos the replay already covered.
//
// Each connection has a bounded send queue: a client that does not keep up
// is closed with code 4001 and resumes with ?since=. Client frames (ping,
// typing) are size-limited, rate-limited and answered with error frames when
// malformed. Beast's keep-alive pings and idle timeout detect dead peers.
//
// Each connection is a WsSession (ws_session.h; opening and replay in
// ws_session.cpp, queue and frames in ws_session_io.cpp). The HTTP server
// hands the upgrades over through UpgradeHandler, which this implements;
// only node/stream and the composition root include this header (Beast).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "node/http/upgrade_handler.h"

namespace gc {

class Authenticator;
class StreamHub;
class StreamSource;

struct StreamOptions {
  int max_connections = 10000;
  size_t send_queue_bytes = 1 << 20;
  size_t max_frame_bytes = 16384;
  int idle_timeout_s = 60;
  int replay_page = 500;
};

class StreamEndpoint : public UpgradeHandler {
 public:
  using Post = std::function<void(std::function<void()>)>;
  // `source` answers what the stream cannot know itself (what to replay, a
  // client's typing frame): the messaging service's StreamDelivery.
  StreamEndpoint(StreamOptions options, Authenticator& auth, StreamSource& source, StreamHub& hub,
                 Post post_blocking);

  // Takes over an upgrade request's connection. Runs on the connection's
  // strand. `hold` is kept as long as the connection lives (the HTTP server's
  // per-address connection count).
  void Accept(boost::beast::tcp_stream stream, boost::beast::http::request<boost::beast::http::string_body> req,
              std::string remote_ip, std::string request_id, std::shared_ptr<void> hold) override;

  // Closes every open stream (shutdown).
  void CloseAll();

  const StreamOptions options;
  Authenticator& auth;
  StreamSource& source;
  StreamHub& hub;
  Post post_blocking;
  std::atomic<int> open{0};
  std::atomic<uint64_t> slow_consumers_dropped{0};
  // Deliveries written by the delivering thread itself (the connection was
  // idle and the socket took all of it), and those handed to the strand.
  std::atomic<uint64_t> direct_writes{0};
  std::atomic<uint64_t> queued_deliveries{0};
};

}  // namespace gc
