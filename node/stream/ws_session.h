// WsSession: one client's WebSocket stream, from the upgrade request to the
// close (spec/stream.md). Private to node/stream.
//
// A session authenticates the upgrade (ticket, Bearer header or
// access_token), lets Beast do the opening handshake, and then speaks the
// framing itself (ws_frame.h), so that many pre-built, shared frames leave in
// one gathered write. Its life has three parts, one file each:
//   ws_session.cpp       opening, authentication, the replay after ?since=
//                        and the seam to live events (no gap, no duplicate);
//   ws_session_io.cpp    the bounded send queue (a client that does not keep
//                        up is closed with 4001), heartbeats, and the client's
//                        frames (size- and rate-limited; ping and typing);
//   stream_endpoint.cpp  the endpoint that creates sessions.
// Everything but Deliver, Flush and Kick runs on the connection's strand;
// those three may come from any thread (the hub), and only touch the inbox
// under its mutex. The one exception is the direct write (ws_session_io.cpp):
// while the strand has declared the connection idle, a delivering thread
// sends the frames itself, holding the inbox mutex.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/common/barrier.h"
#include "node/common/principal.h"
#include "node/http/rate_limiter.h"
#include "node/stream/stream_endpoint.h"
#include "node/stream/stream_hub.h"
#include "node/stream/stream_source.h"
#include "node/stream/ws_frame.h"

namespace gc::stream_session {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using nlohmann::json;

// Close code for a client too slow to read its frames (spec/stream.md).
inline constexpr uint16_t kCloseSlowConsumer = 4001;

// A text frame with `j` serialized (invalid UTF-8 replaced).
Frame MakeFrame(const json& j);
// A server control frame (close, ping, pong): FIN, opcode, payload <= 125.
std::shared_ptr<const std::string> ControlFrame(uint8_t opcode, const std::string& payload);
// {"type":"error","code":...,"message":...}
Frame ErrorFrame(const std::string& code, const std::string& message);

class WsSession : public StreamConnection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(StreamEndpoint& ep, beast::tcp_stream&& stream, std::string ip, std::string request_id,
            std::shared_ptr<void> hold)
      : ep_(ep), executor_(stream.get_executor()), ws_(std::in_place, std::move(stream)), ip_(std::move(ip)),
        request_id_(std::move(request_id)), hold_(std::move(hold)), timer_(executor_), parser_(ep.options.max_frame_bytes),
        frame_limiter_(20, 40), control_limiter_(20, 40) {}

  ~WsSession() override;

  // The hub holds a strong reference while attached: release it when the
  // connection ends so the session can be destroyed.
  void Detach();
  void Start(http::request<http::string_body> req);

  // StreamConnection: any thread, under the hub's lock. Never blocks.
  void Deliver(const Frame& frame, int64_t pos, bool flush) override;
  void Flush() override;
  void DeliverRun(const FrameRunPtr& run) override;

  int64_t session_id() const override { return principal_.session_id; }
  const std::string& user() const { return principal_.user->user_id; }

  // The barrier's scope for this connection's handlers: one that throws ends
  // this connection, not the node (node/common/barrier.h).
  HandlerScope Scope(const char* what);
  void Kick(uint16_t code, const std::string& reason) override;

 private:
  void Reject(int status, const std::string& code, const std::string& message);

  // Beast performs the opening handshake (it validates the request and
  // answers 101); then the connection leaves Beast's WebSocket stream and this
  // session speaks the framing itself, so that many pre-built frames go out
  // in one write (see WriteNext).
  void Upgrade();
  void OnAccepted();

  // ---------------------------------------------------------------- replay

  void FetchReplayPage();
  void OnReplayPage(Result<std::vector<StreamEvent>> events);
  void MaybeContinueReplay();
  void FinishReplay();

  // ---------------------------------------------------------------- outbound

  void DrainInbox();
  // Takes one live frame from the inbox: held during the replay, skipped
  // when the replay already sent its position, queued otherwise.
  void TakeLive(const Frame& frame, int64_t pos);
  // Queues a frame and starts writing if no write is under way.
  void Enqueue(const Frame& frame);
  // Queues a frame without starting a write: a caller queuing many frames
  // calls WriteSoon() once after them, so they leave in one write instead of
  // the first alone (an idle socket sends at once) and the rest after it.
  void Push(const Frame& frame);
  void WriteSoon() {
    if (!writing_) WriteNext();
  }

  // Writes every queued frame (up to 256 KiB) with one gathered write: the
  // frames are shared, pre-built byte strings, so a burst costs one syscall.
  void WriteNext();

  // Sends a close frame after what is already queued, then stops sending.
  void CloseWith(uint16_t code, const std::string& reason);
  void ShutdownAfterClose();

  // Ends the connection for good.
  void Finish();

  // Pings every idle_timeout/2; no traffic at all for idle_timeout ends it.
  void Heartbeat();

  // ---------------------------------------------------------------- inbound

  void ReadLoop();

  // Fails the connection with `code` (RFC 6455 section 7.1.7).
  bool Fail(uint16_t code, const std::string& why);

  // Parses every complete client frame in rx_. Returns false to stop reading.
  bool ParseFrames();

  // Control frames cost no parsing but a pong each: a flood of them is
  // refused like a flood of data frames.
  bool ControlAllowed();

  // At most one pong waits in the queue: a newer ping replaces its payload
  // (RFC 6455 5.5.3 lets an endpoint answer only the most recent ping), so a
  // client that pings and never reads cannot grow the queue.
  void QueuePong(const std::string& payload);

  // Queues a frame the client caused (a pong, an error, an answer). Unlike
  // live events, which are bounded in Deliver, these would otherwise grow
  // without limit when the client sends but never reads.
  void Reply(const Frame& frame);
  void OnClientFrame(const std::string& text, bool binary);

  StreamEndpoint& ep_;
  asio::any_io_executor executor_;  // the connection's strand
  std::optional<websocket::stream<beast::tcp_stream>> ws_;  // until the handshake is done
  std::optional<beast::tcp_stream> sock_;                  // after it
  std::string ip_;
  std::string request_id_;
  std::shared_ptr<void> hold_;  // released with the connection
  http::request<http::string_body> req_;
  Principal principal_;
  std::optional<int64_t> since_;
  bool counted_ = false;
  bool attached_ = false;

  // Strand-only state.
  bool replaying_ = false;
  bool replay_waiting_ = false;
  std::optional<StreamSource::ReplayScope> scope_;  // fixed at the first replay page
  int64_t cursor_ = 0;
  int64_t upto_ = 0;
  int64_t last_pos_ = 0;  // highest stream_pos queued for the client
  std::vector<std::pair<Frame, int64_t>> held_;
  size_t held_bytes_ = 0;
  std::deque<Frame> queue_;
  std::vector<Frame> in_flight_;
  std::vector<asio::const_buffer> buffers_;
  std::atomic<size_t> queued_bytes_{0};
  bool writing_ = false;
  bool closing_ = false;    // no more frames are queued
  bool close_sent_ = false; // our close frame is queued
  bool peer_closed_ = false;
  bool shut_down_ = false;
  bool finished_ = false;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point last_rx_;
  beast::flat_buffer rx_;
  WsFrameParser parser_;
  std::shared_ptr<std::string> pending_pong_;  // a pong still in queue_, if any
  RateLimiter frame_limiter_;
  RateLimiter control_limiter_;
  int refused_ = 0;

  // Inbox: filled by Deliver and DeliverRun from any thread. An entry is a
  // single frame (run empty) or a shared run of event frames.
  struct Inbound {
    Frame frame;
    int64_t pos = 0;
    FrameRunPtr run;
  };
  // Adds `in` (of `bytes`) to the inbox unless the bound is passed, and with
  // `flush` schedules DrainInbox on the strand once.
  void ToInbox(Inbound in, size_t bytes, bool flush);
  // The direct write: with inbox_mu_ held and direct_ok_ set, sends `in`'s
  // frames with one non-blocking sendmsg. True when all of it went; else
  // `in` and `bytes` become what is left (all of it, or a run starting with
  // the rest of a partly written frame) for the inbox and the strand.
  bool WriteDirect(Inbound& in, size_t& bytes);
  // Strand, before any write or close and when a write ends: collects a
  // direct write's unwritten tail, and allows direct writes only when
  // `idle` (nothing queued, no write under way, no replay, not closing) and
  // the inbox is empty.
  void SettleDirect(bool idle);
  std::mutex inbox_mu_;
  std::vector<Inbound> inbox_;                    // GUARDED_BY(inbox_mu_)
  std::vector<Inbound> draining_;                 // strand only: the inbox being drained
  size_t inbox_bytes_ = 0;                        // GUARDED_BY(inbox_mu_)
  bool scheduled_ = false;                        // GUARDED_BY(inbox_mu_)
  bool dropped_ = false;                          // GUARDED_BY(inbox_mu_)
  // Set by the strand only while it is idle, cleared by the strand before it
  // writes or closes and by a delivering thread that falls back to the
  // inbox. Implies inbox_ empty and no drain scheduled. While it is set,
  // last_pos_ and the socket's sends belong to whoever holds inbox_mu_.
  bool direct_ok_ = false;                        // GUARDED_BY(inbox_mu_)
  // The unwritten rest of a frame a direct write sent only part of: it must
  // leave before any other byte, so the strand puts it at the front of
  // queue_ the next time it drains, writes or closes (TakeTail).
  Frame tail_;                                    // GUARDED_BY(inbox_mu_)
  // Needs inbox_mu_: moves tail_ to the front of queue_.
  void TakeTail();
};

}  // namespace gc::stream_session
