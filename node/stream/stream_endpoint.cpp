#include "node/stream/stream_endpoint.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <mutex>
#include <optional>

#include "node/common/log.h"
#include "node/http/gateway.h"
#include "node/http/http_types.h"
#include "node/http/rate_limiter.h"
#include "node/stream/stream_hub.h"
#include "services/groups/group_service.h"
#include "services/messaging/messaging_service.h"

namespace gc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using nlohmann::json;

namespace {

constexpr uint16_t kCloseSlowConsumer = 4001;

Frame MakeFrame(const json& j) { return std::make_shared<const std::string>(j.dump(-1, ' ', false, json::error_handler_t::replace)); }

Frame ErrorFrame(const std::string& code, const std::string& message) {
  return MakeFrame({{"type", "error"}, {"code", code}, {"message", message}});
}

class WsSession : public StreamConnection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(StreamEndpoint& ep, beast::tcp_stream&& stream, std::string ip, std::string request_id)
      : ep_(ep), ws_(std::move(stream)), ip_(std::move(ip)), request_id_(std::move(request_id)),
        frame_limiter_(20, 40) {}

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
    std::string token;
    std::string_view target(req_.target().data(), req_.target().size());
    HttpRequest parsed;
    size_t q = target.find('?');
    if (q != std::string_view::npos) parsed.query = std::string(target.substr(q + 1));
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
    if (token.empty()) return Reject(401, "unauthorized", "missing access token: use ?access_token= or a Bearer header");
    if (ep_.open.load() >= ep_.options.max_connections) {
      return Reject(503, "unavailable", "too many open streams, retry later");
    }
    ++ep_.open;
    counted_ = true;
    if (auto p = ep_.auth.CachedPrincipal(token)) {
      principal_ = *p;
      return Upgrade();
    }
    auto self = shared_from_this();
    ep_.post_blocking([self, token] {
      auto p = self->ep_.auth.Authenticate(token);
      asio::dispatch(self->ws_.get_executor(), [self, p = std::move(p)]() mutable {
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
  void Deliver(const Frame& frame, int64_t pos) override {
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
      schedule = !scheduled_;
      scheduled_ = true;
    }
    if (schedule) asio::post(ws_.get_executor(), [self = shared_from_this()] { self->DrainInbox(); });
  }

  int64_t session_id() const override { return principal_.session_id; }
  const std::string& user() const { return principal_.user->user_id; }

  void Kick(uint16_t code, const std::string& reason) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason] { self->CloseWith(code, reason); });
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
    auto& tcp = beast::get_lowest_layer(ws_);
    tcp.expires_after(std::chrono::seconds(5));
    http::async_write(tcp, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      beast::get_lowest_layer(self->ws_).close();
    });
  }

  void Upgrade() {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = std::chrono::seconds(ep_.options.idle_timeout_s);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [id = request_id_](websocket::response_type& res) { res.set("X-Request-Id", id); }));
    ws_.read_message_max(ep_.options.max_frame_bytes);
    ws_.auto_fragment(false);
    ws_.async_accept(req_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
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
    ReadLoop();
    upto_ = ep_.log.last_stream_pos();
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
      Result<std::vector<GroupEvent>> events = Error::Internal("unset");
      if (!self->groups_) {
        auto g = ep.groups.JoinedGroups(self->user());
        if (!g.ok()) events = g.error();
        else self->groups_ = std::move(*g);
      }
      if (self->groups_) {
        events = ep.messaging.EventsSince(self->user(), *self->groups_, self->cursor_, self->upto_,
                                          ep.options.replay_page);
      }
      asio::dispatch(self->ws_.get_executor(), [self, events = std::move(events)]() mutable {
        self->OnReplayPage(std::move(events));
      });
    });
  }

  void OnReplayPage(Result<std::vector<GroupEvent>> events) {
    if (closing_) return;
    if (!events.ok()) {
      Enqueue(ErrorFrame("unavailable", "could not replay missed events; reconnect with the same since"));
      return CloseWith(1011, "replay failed");
    }
    for (const auto& e : *events) {
      Enqueue(MakeFrame({{"type", "event"}, {"event", EventJson(e)}}));
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

  void WriteNext() {
    if (queue_.empty() || closing_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(*queue_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->queued_bytes_ -= self->queue_.front()->size();
      self->queue_.pop_front();
      if (ec) {
        self->closing_ = true;
        self->writing_ = false;
        return;
      }
      self->MaybeContinueReplay();
      if (self->close_after_write_ && self->queue_.empty()) {
        self->writing_ = false;
        return self->CloseWith(self->close_code_, self->close_reason_);
      }
      self->WriteNext();
    });
  }

  void CloseWith(uint16_t code, const std::string& reason) {
    if (closing_) return;
    if (writing_) {
      // Let the frame in flight finish; drop the rest.
      while (queue_.size() > 1) {
        queued_bytes_ -= queue_.back()->size();
        queue_.pop_back();
      }
      close_after_write_ = true;
      close_code_ = code;
      close_reason_ = reason;
      return;
    }
    closing_ = true;
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), [self = shared_from_this()](beast::error_code) {});
  }

  // ---------------------------------------------------------------- inbound

  void ReadLoop() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        // Closed, timed out, or a protocol violation (Beast already sent the
        // close frame, e.g. 1009 for an oversized message).
        self->closing_ = true;
        self->Detach();
        return;
      }
      self->OnClientFrame();
      self->ReadLoop();
    });
  }

  void OnClientFrame() {
    std::string text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    int retry = 0;
    if (!frame_limiter_.Allow("", MonotonicSeconds(), &retry)) {
      if (++refused_ > 100) return CloseWith(1008, "too many frames");
      return Enqueue(ErrorFrame("rate_limited", "too many frames; slow down"));
    }
    if (!ws_.got_text()) return Enqueue(ErrorFrame("invalid_request", "frames must be JSON text"));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Enqueue(ErrorFrame("invalid_request", "a frame must be a JSON object"));
    }
    auto type = j.find("type");
    if (type == j.end() || !type->is_string()) {
      return Enqueue(ErrorFrame("invalid_request", "a frame needs a string field \"type\""));
    }
    if (*type == "ping") {
      json pong = {{"type", "pong"}};
      if (j.contains("id")) pong["id"] = j["id"];
      return Enqueue(MakeFrame(pong));
    }
    if (*type == "typing") {
      auto g = j.find("group_id");
      if (g == j.end() || !g->is_string()) return Enqueue(ErrorFrame("invalid_request", "typing needs group_id"));
      bool typing = true;
      if (auto t = j.find("typing"); t != j.end()) {
        if (!t->is_boolean()) return Enqueue(ErrorFrame("invalid_request", "typing must be true or false"));
        typing = t->get<bool>();
      }
      std::string group = g->get<std::string>();
      auto self = shared_from_this();
      ep_.post_blocking([self, group, typing] {
        auto row = self->ep_.groups.Resolve(*self->principal_.user, group, true);
        Status st = row.ok() ? self->ep_.messaging.Typing(*self->principal_.user, *row, typing) : Status(row.error());
        if (!st.ok()) {
          Frame f = ErrorFrame(st.error().code == ErrorCode::kNotFound ? "not_found" : "forbidden", st.error().message);
          asio::dispatch(self->ws_.get_executor(), [self, f] { self->Enqueue(f); });
        }
      });
      return;
    }
    Enqueue(ErrorFrame("invalid_request", "unknown frame type; expected ping or typing"));
  }

  StreamEndpoint& ep_;
  websocket::stream<beast::tcp_stream> ws_;
  std::string ip_;
  std::string request_id_;
  http::request<http::string_body> req_;
  Principal principal_;
  std::optional<int64_t> since_;
  bool counted_ = false;
  bool attached_ = false;

  // Strand-only state.
  bool replaying_ = false;
  bool replay_waiting_ = false;
  std::optional<std::vector<int64_t>> groups_;
  int64_t cursor_ = 0;
  int64_t upto_ = 0;
  int64_t last_pos_ = 0;  // highest stream_pos queued for the client
  std::vector<std::pair<Frame, int64_t>> held_;
  size_t held_bytes_ = 0;
  std::deque<Frame> queue_;
  std::atomic<size_t> queued_bytes_{0};
  bool writing_ = false;
  bool closing_ = false;
  bool close_after_write_ = false;
  uint16_t close_code_ = 1000;
  std::string close_reason_;
  beast::flat_buffer in_;
  RateLimiter frame_limiter_;
  int refused_ = 0;

  // Inbox: filled by Deliver from any thread.
  std::mutex inbox_mu_;
  std::vector<std::pair<Frame, int64_t>> inbox_;  // GUARDED_BY(inbox_mu_)
  size_t inbox_bytes_ = 0;                        // GUARDED_BY(inbox_mu_)
  bool scheduled_ = false;                        // GUARDED_BY(inbox_mu_)
  bool dropped_ = false;                          // GUARDED_BY(inbox_mu_)
};

}  // namespace

StreamEndpoint::StreamEndpoint(StreamOptions o, Authenticator& a, GroupService& g, MessagingService& m, GroupLog& l,
                               StreamHub& h, Post p)
    : options(o), auth(a), groups(g), messaging(m), log(l), hub(h), post_blocking(std::move(p)) {}

void StreamEndpoint::Accept(beast::tcp_stream stream, http::request<http::string_body> req, std::string remote_ip,
                            std::string request_id) {
  auto s = std::make_shared<WsSession>(*this, std::move(stream), std::move(remote_ip), std::move(request_id));
  s->Start(std::move(req));
}

void StreamEndpoint::CloseAll() { hub.CloseAll(); }

}  // namespace gc
