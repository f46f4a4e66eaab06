#include "node/stream/stream_endpoint.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <mutex>
#include <optional>

#include "node/common/barrier.h"
#include "node/common/log.h"
#include "node/http/gateway.h"
#include "node/http/http_types.h"
#include "node/http/rate_limiter.h"
#include "node/stream/stream_hub.h"
#include "node/stream/ws_frame.h"

namespace gc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using nlohmann::json;

namespace {

constexpr uint16_t kCloseSlowConsumer = 4001;

Frame MakeFrame(const json& j) { return WsTextFrame(j.dump(-1, ' ', false, json::error_handler_t::replace)); }

// A server control frame (close, ping, pong): FIN, opcode, payload <= 125.
std::shared_ptr<const std::string> ControlFrame(uint8_t opcode, const std::string& payload) {
  auto f = std::make_shared<std::string>();
  f->push_back(static_cast<char>(0x80 | opcode));
  f->push_back(static_cast<char>(std::min<size_t>(payload.size(), 125)));
  f->append(payload.substr(0, 125));
  return f;
}

Frame ErrorFrame(const std::string& code, const std::string& message) {
  return MakeFrame({{"type", "error"}, {"code", code}, {"message", message}});
}

class WsSession : public StreamConnection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(StreamEndpoint& ep, beast::tcp_stream&& stream, std::string ip, std::string request_id,
            std::shared_ptr<void> hold)
      : ep_(ep), executor_(stream.get_executor()), ws_(std::in_place, std::move(stream)), ip_(std::move(ip)),
        request_id_(std::move(request_id)), hold_(std::move(hold)), timer_(executor_), parser_(ep.options.max_frame_bytes),
        frame_limiter_(20, 40), control_limiter_(20, 40) {}

  ~WsSession() override {
    Detach();
    if (counted_) --ep_.open;
  }

  // The hub holds a strong reference while attached: release it when the
  // connection ends so the session can be destroyed.
  void Detach() {
    if (!attached_) return;
    attached_ = false;
    ep_.hub.Detach(principal_.user->user_id, this);
    LogInfo("stream closed", {{"request_id", request_id_}, {"user", user()}, {"last_stream_pos", last_pos_}});
  }

  void Start(http::request<http::string_body> req) {
    req_ = std::move(req);
    std::string token, ticket;
    std::string_view target(req_.target().data(), req_.target().size());
    HttpRequest parsed;
    size_t q = target.find('?');
    if (q != std::string_view::npos) parsed.query = std::string(target.substr(q + 1));
    if (auto t = parsed.query_param("ticket")) ticket = *t;
    if (auto t = parsed.query_param("access_token")) token = *t;
    auto auth = req_.find(http::field::authorization);
    if (token.empty() && auth != req_.end()) {
      parsed.headers.emplace_back("authorization", std::string(auth->value()));
      if (auto b = BearerToken(parsed)) token = std::string(*b);
    }
    if (auto s = parsed.query_param("since")) {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(s->c_str(), &end, 10);
      if (s->empty() || *end != '\0' || v < 0 || errno == ERANGE) {
        return Reject(400, "invalid_request", "since must be a stream position (an integer >= 0)");
      }
      since_ = v;
    }
    if (token.empty() && ticket.empty()) {
      return Reject(401, "unauthorized",
                    "missing credentials: use ?ticket= (POST /api/v1/stream/tickets), a Bearer header or "
                    "?access_token=");
    }
    if (ep_.open.load() >= ep_.options.max_connections) {
      return Reject(503, "unavailable", "too many open streams, retry later");
    }
    ++ep_.open;
    counted_ = true;
    if (ticket.empty()) {
      if (auto p = ep_.auth.CachedPrincipal(token)) {
        principal_ = *p;
        return Upgrade();
      }
    }
    auto self = shared_from_this();
    ep_.post_blocking([self, token, ticket] {
      auto p = ticket.empty() ? self->ep_.auth.Authenticate(token) : self->ep_.auth.RedeemStreamTicket(ticket);
      asio::dispatch(self->executor_, [self, p = std::move(p)]() mutable {
        if (!p.ok()) {
          if (p.error().code == ErrorCode::kUnavailable) return self->Reject(503, "unavailable", p.error().message);
          return self->Reject(401, "unauthorized", p.error().message);
        }
        self->principal_ = *p;
        self->Upgrade();
      });
    });
  }

  // StreamConnection: any thread, under the hub's lock. Never blocks.
  void Deliver(const Frame& frame, int64_t pos, bool flush) override {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      if (dropped_) return;
      inbox_bytes_ += frame->size();
      if (inbox_bytes_ + queued_bytes_.load() > ep_.options.send_queue_bytes) {
        dropped_ = true;  // too slow: stop buffering at once, close on the strand
      } else {
        inbox_.emplace_back(frame, pos);
      }
      if (flush) {
        schedule = !scheduled_;
        scheduled_ = true;
      }
    }
    if (schedule) asio::post(executor_, [self = shared_from_this()] { self->DrainInbox(); });
  }

  void Flush() override {
    bool schedule;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      schedule = !scheduled_ && (!inbox_.empty() || dropped_);
      if (schedule) scheduled_ = true;
    }
    if (schedule) asio::post(executor_, [self = shared_from_this()] { self->DrainInbox(); });
  }

  int64_t session_id() const override { return principal_.session_id; }
  const std::string& user() const { return principal_.user->user_id; }

  // The barrier's scope for this connection's handlers: one that throws ends
  // this connection, not the node (node/common/barrier.h).
  HandlerScope Scope(const char* what) {
    return HandlerScope(what, request_id_, [w = weak_from_this()] {
      if (auto s = w.lock()) asio::post(s->executor_, [s] { s->Finish(); });
    });
  }

  void Kick(uint16_t code, const std::string& reason) override {
    asio::post(executor_, [self = shared_from_this(), code, reason] { self->CloseWith(code, reason); });
  }

 private:
  void Reject(int status, const std::string& code, const std::string& message) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(status));
    res->set(http::field::content_type, "application/json");
    res->set("X-Request-Id", request_id_);
    if (status == 401) res->set(http::field::www_authenticate, "Bearer");
    res->keep_alive(false);
    res->body() = ErrorBody(code, message);
    res->prepare_payload();
    auto& tcp = ws_->next_layer();
    tcp.expires_after(std::chrono::seconds(5));
    http::async_write(tcp, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      beast::error_code ec;
      self->ws_->next_layer().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      self->ws_->next_layer().close();
    });
  }

  // Beast performs the opening handshake (it validates the request and
  // answers 101); then the connection leaves Beast's WebSocket stream and this
  // session speaks the framing itself, so that many pre-built frames go out
  // in one write (see WriteNext).
  void Upgrade() {
    ws_->next_layer().expires_after(std::chrono::seconds(10));
    ws_->set_option(websocket::stream_base::decorator(
        [id = request_id_](websocket::response_type& res) { res.set("X-Request-Id", id); }));
    ws_->async_accept(req_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->sock_.emplace(std::move(self->ws_->next_layer()));
      self->ws_.reset();
      self->sock_->expires_never();
      self->OnAccepted();
    });
  }

  void OnAccepted() {
    req_ = {};
    LogInfo("stream opened", {{"request_id", request_id_}, {"user", user()}, {"ip", ip_},
                              {"since", since_ ? *since_ : -1}});
    // Live frames from now on are held until the replay is done.
    replaying_ = true;
    ep_.hub.Attach(user(), shared_from_this());
    attached_ = true;
    last_rx_ = std::chrono::steady_clock::now();
    ReadLoop();
    Heartbeat();
    upto_ = ep_.source.LastStreamPos();
    if (since_) {
      cursor_ = *since_;
      FetchReplayPage();
    } else {
      FinishReplay();
    }
  }

  // ---------------------------------------------------------------- replay

  void FetchReplayPage() {
    auto self = shared_from_this();
    ep_.post_blocking([self] {
      auto& ep = self->ep_;
      Result<std::vector<StreamEvent>> events = Error::Internal("unset");
      if (!self->scope_) {
        auto g = ep.source.ReplayScopeOf(self->user());
        if (!g.ok()) events = g.error();
        else self->scope_ = std::move(*g);
      }
      if (self->scope_) {
        events = ep.source.EventsSince(self->user(), *self->scope_, self->cursor_, self->upto_,
                                       ep.options.replay_page);
      }
      asio::dispatch(self->executor_, [self, events = std::move(events)]() mutable {
        self->OnReplayPage(std::move(events));
      });
    });
  }

  void OnReplayPage(Result<std::vector<StreamEvent>> events) {
    auto scope = Scope("stream replay");
    if (closing_) return;
    if (!events.ok()) {
      Enqueue(ErrorFrame("unavailable", "could not replay missed events; reconnect with the same since"));
      return CloseWith(1011, "replay failed");
    }
    for (const auto& e : *events) {
      Enqueue(MakeFrame({{"type", "event"}, {"event", e.event}}));
      last_pos_ = e.stream_pos;
      cursor_ = e.stream_pos;
    }
    if (static_cast<int>(events->size()) < ep_.options.replay_page) return FinishReplay();
    // More to come: fetch the next page once this one is on its way.
    replay_waiting_ = true;
    MaybeContinueReplay();
  }

  void MaybeContinueReplay() {
    if (replay_waiting_ && queue_.size() < 64) {
      replay_waiting_ = false;
      FetchReplayPage();
    }
  }

  void FinishReplay() {
    replaying_ = false;
    Enqueue(MakeFrame({{"type", "ready"}, {"stream_pos", std::max(last_pos_, upto_)}}));
    // Who is online now, among the people this user shares a group with.
    auto self = shared_from_this();
    ep_.post_blocking([self] {
      auto frames = self->ep_.hub.PresenceSnapshot(self->user());
      if (frames.empty()) return;
      asio::dispatch(self->executor_, [self, frames = std::move(frames)] {
        for (const auto& f : frames) self->Enqueue(f);
      });
    });
    for (auto& [frame, pos] : held_) {
      if (pos == 0 || pos > last_pos_) {
        Enqueue(frame);
        if (pos) last_pos_ = pos;
      }
    }
    held_.clear();
  }

  // ---------------------------------------------------------------- outbound

  void DrainInbox() {
    auto scope = Scope("stream delivery");
    std::vector<std::pair<Frame, int64_t>> batch;
    bool dropped;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      batch.swap(inbox_);
      inbox_bytes_ = 0;
      scheduled_ = false;
      dropped = dropped_;
    }
    if (closing_) return;
    if (dropped) {
      ++ep_.slow_consumers_dropped;
      LogWarn("stream dropped: client too slow", {{"user", user()}, {"ip", ip_}, {"last_stream_pos", last_pos_}});
      return CloseWith(kCloseSlowConsumer, "too slow: reconnect with since= the last stream_pos received");
    }
    for (auto& [frame, pos] : batch) {
      if (replaying_) {
        held_.emplace_back(std::move(frame), pos);
        held_bytes_ += held_.back().first->size();
        continue;
      }
      if (pos && pos <= last_pos_) continue;  // already sent
      if (pos) last_pos_ = pos;
      Enqueue(frame);
    }
    if (held_bytes_ > ep_.options.send_queue_bytes) {
      ++ep_.slow_consumers_dropped;
      return CloseWith(kCloseSlowConsumer, "too slow: reconnect with since= the last stream_pos received");
    }
  }

  void Enqueue(const Frame& frame) {
    if (closing_) return;
    queue_.push_back(frame);
    queued_bytes_ += frame->size();
    if (!writing_) WriteNext();
  }

  // Writes every queued frame (up to 256 KiB) with one gathered write: the
  // frames are shared, pre-built byte strings, so a burst costs one syscall.
  void WriteNext() {
    if (queue_.empty() || !sock_) {
      writing_ = false;
      if (close_sent_ && !shut_down_) ShutdownAfterClose();
      return;
    }
    writing_ = true;
    in_flight_.clear();
    size_t bytes = 0;
    while (!queue_.empty() && (in_flight_.empty() || bytes + queue_.front()->size() <= (256u << 10)) &&
           in_flight_.size() < 512) {
      if (pending_pong_ && queue_.front() == pending_pong_) pending_pong_.reset();  // now being written
      bytes += queue_.front()->size();
      in_flight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    buffers_.clear();
    for (const auto& f : in_flight_) buffers_.emplace_back(f->data(), f->size());
    asio::async_write(*sock_, buffers_, [self = shared_from_this(), bytes](beast::error_code ec, size_t) {
      auto scope = self->Scope("stream write");
      self->queued_bytes_ -= bytes;
      self->in_flight_.clear();
      if (ec) {
        self->writing_ = false;
        self->Finish();
        return;
      }
      self->MaybeContinueReplay();
      self->WriteNext();
    });
  }

  // Sends a close frame after what is already queued, then stops sending.
  void CloseWith(uint16_t code, const std::string& reason) {
    if (closing_) return;
    closing_ = true;
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xff);
    payload += reason.substr(0, 123);
    // A slow consumer gets its close frame at once, not after the backlog.
    if (code == kCloseSlowConsumer) {
      for (auto& f : queue_) queued_bytes_ -= f->size();
      queue_.clear();
      pending_pong_.reset();
    }
    queue_.push_back(ControlFrame(0x8, payload));
    queued_bytes_ += queue_.back()->size();
    close_sent_ = true;
    if (!writing_) WriteNext();
  }

  void ShutdownAfterClose() {
    shut_down_ = true;
    beast::error_code ec;
    sock_->socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    // The read loop sees the peer's close (or EOF) and finishes; make sure
    // it does not wait for ever.
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Finish();
    });
  }

  // Ends the connection for good.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    closing_ = true;
    timer_.cancel();
    beast::error_code ec;
    if (sock_) sock_->socket().close(ec);
    Detach();
  }

  // Pings every idle_timeout/2; no traffic at all for idle_timeout ends it.
  void Heartbeat() {
    timer_.expires_after(std::chrono::seconds(std::max(1, ep_.options.idle_timeout_s / 2)));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      auto scope = self->Scope("stream heartbeat");
      if (ec || self->finished_ || self->close_sent_) return;
      auto idle = std::chrono::steady_clock::now() - self->last_rx_;
      if (idle > std::chrono::seconds(self->ep_.options.idle_timeout_s)) {
        LogInfo("stream idle timeout", {{"user", self->user()}, {"ip", self->ip_}});
        return self->Finish();
      }
      self->Enqueue(ControlFrame(0x9, "hb"));
      self->Heartbeat();
    });
  }

  // ---------------------------------------------------------------- inbound

  void ReadLoop() {
    // Small reads: client frames are small, and an idle connection should
    // cost little memory (the buffer grows for a large frame).
    auto buf = rx_.prepare(1024);
    sock_->async_read_some(buf, [self = shared_from_this()](beast::error_code ec, size_t n) {
      auto scope = self->Scope("stream read");
      if (ec) return self->Finish();  // closed, reset or shut down
      self->rx_.commit(n);
      self->last_rx_ = std::chrono::steady_clock::now();
      if (!self->ParseFrames()) return;
      if (self->finished_) return;
      self->ReadLoop();
    });
  }

  // Fails the connection with `code` (RFC 6455 section 7.1.7).
  bool Fail(uint16_t code, const std::string& why) {
    LogInfo("stream protocol error", {{"user", user()}, {"ip", ip_}, {"code", static_cast<int>(code)}, {"why", why}});
    CloseWith(code, why);
    rx_.consume(rx_.size());
    return true;  // keep reading until the peer closes or the timer ends it
  }

  // Parses every complete client frame in rx_. Returns false to stop reading.
  bool ParseFrames() {
    while (!finished_) {
      auto data = rx_.data();
      if (close_sent_) {  // after our close, only the peer's close (or EOF) matters
        rx_.consume(data.size());
        return true;
      }
      size_t used = 0;
      auto ev = parser_.Next(static_cast<const unsigned char*>(data.data()), data.size(), &used);
      rx_.consume(used);
      switch (ev.kind) {
        case WsFrameParser::Event::kNeedMore:
          if (parser_.wanted() > rx_.size()) rx_.reserve(parser_.wanted() - rx_.size());
          return true;
        case WsFrameParser::Event::kError:
          return Fail(ev.code, ev.why);
        case WsFrameParser::Event::kClose:  // answer with the same code, then stop
          peer_closed_ = true;
          CloseWith(ev.code, "");
          return true;
        case WsFrameParser::Event::kPing:
          if (!ControlAllowed()) return true;
          QueuePong(ev.payload);
          continue;
        case WsFrameParser::Event::kPong:
          if (!ControlAllowed()) return true;
          continue;
        case WsFrameParser::Event::kFragment:
          continue;
        case WsFrameParser::Event::kMessage:
          OnClientFrame(ev.payload, ev.binary);
          continue;
      }
    }
    return false;
  }

  // Control frames cost no parsing but a pong each: a flood of them is
  // refused like a flood of data frames.
  bool ControlAllowed() {
    int retry = 0;
    if (control_limiter_.Allow("", MonotonicSeconds(), &retry)) return true;
    Fail(1008, "too many control frames");
    return false;
  }

  // At most one pong waits in the queue: a newer ping replaces its payload
  // (RFC 6455 5.5.3 lets an endpoint answer only the most recent ping), so a
  // client that pings and never reads cannot grow the queue.
  void QueuePong(const std::string& payload) {
    if (pending_pong_) {
      queued_bytes_ -= pending_pong_->size();
      *pending_pong_ = *ControlFrame(0xA, payload);
      queued_bytes_ += pending_pong_->size();
      return;
    }
    auto f = std::make_shared<std::string>(*ControlFrame(0xA, payload));
    pending_pong_ = f;
    Reply(f);
  }

  // Queues a frame the client caused (a pong, an error, an answer). Unlike
  // live events, which are bounded in Deliver, these would otherwise grow
  // without limit when the client sends but never reads.
  void Reply(const Frame& frame) {
    if (queued_bytes_.load() + frame->size() > ep_.options.send_queue_bytes) {
      ++ep_.slow_consumers_dropped;
      return CloseWith(kCloseSlowConsumer, "too slow: the client does not read its answers");
    }
    Enqueue(frame);
  }

  void OnClientFrame(const std::string& text, bool binary) {
    int retry = 0;
    if (!frame_limiter_.Allow("", MonotonicSeconds(), &retry)) {
      if (++refused_ > 100) return CloseWith(1008, "too many frames");
      return Reply(ErrorFrame("rate_limited", "too many frames; slow down"));
    }
    if (binary) return Reply(ErrorFrame("invalid_request", "frames must be JSON text"));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Reply(ErrorFrame("invalid_request", "a frame must be a JSON object"));
    }
    auto type = j.find("type");
    if (type == j.end() || !type->is_string()) {
      return Reply(ErrorFrame("invalid_request", "a frame needs a string field \"type\""));
    }
    if (*type == "ping") {
      json pong = {{"type", "pong"}};
      if (auto id = j.find("id"); id != j.end()) {
        // Echoed back, so only a scalar: a deeply nested id would be copied
        // and serialized recursively.
        if (!id->is_primitive()) return Reply(ErrorFrame("invalid_request", "id must be a string, number, boolean or null"));
        pong["id"] = *id;
      }
      return Reply(MakeFrame(pong));
    }
    if (*type == "typing") {
      auto g = j.find("group_id");
      if (g == j.end() || !g->is_string()) return Reply(ErrorFrame("invalid_request", "typing needs group_id"));
      bool typing = true;
      if (auto t = j.find("typing"); t != j.end()) {
        if (!t->is_boolean()) return Reply(ErrorFrame("invalid_request", "typing must be true or false"));
        typing = t->get<bool>();
      }
      std::string group = g->get<std::string>();
      auto self = shared_from_this();
      ep_.post_blocking([self, group, typing] {
        Status st = self->ep_.source.Typing(*self->principal_.user, group, typing);
        if (!st.ok()) {
          Frame f = ErrorFrame(st.error().code == ErrorCode::kNotFound ? "not_found" : "forbidden", st.error().message);
          asio::dispatch(self->executor_, [self, f] { self->Reply(f); });
        }
      });
      return;
    }
    Reply(ErrorFrame("invalid_request", "unknown frame type; expected ping or typing"));
  }

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

  // Inbox: filled by Deliver from any thread.
  std::mutex inbox_mu_;
  std::vector<std::pair<Frame, int64_t>> inbox_;  // GUARDED_BY(inbox_mu_)
  size_t inbox_bytes_ = 0;                        // GUARDED_BY(inbox_mu_)
  bool scheduled_ = false;                        // GUARDED_BY(inbox_mu_)
  bool dropped_ = false;                          // GUARDED_BY(inbox_mu_)
};

}  // namespace

StreamEndpoint::StreamEndpoint(StreamOptions o, Authenticator& a, StreamSource& s, StreamHub& h, Post p)
    : options(o), auth(a), source(s), hub(h), post_blocking(std::move(p)) {}

void StreamEndpoint::Accept(beast::tcp_stream stream, http::request<http::string_body> req, std::string remote_ip,
                            std::string request_id, std::shared_ptr<void> hold) {
  auto s = std::make_shared<WsSession>(*this, std::move(stream), std::move(remote_ip), std::move(request_id),
                                       std::move(hold));
  s->Start(std::move(req));
}

void StreamEndpoint::CloseAll() { hub.CloseAll(); }

}  // namespace gc
