// Opening a stream, and the seam between replay and live events.
//
// The upgrade is authenticated (a cached principal answers on the strand; a
// token or ticket that needs the database goes to the blocking pool) and
// counted against stream.max_connections before Beast's handshake. Once
// accepted, the connection is attached to the hub at once, so live frames
// start arriving, but they are held while the session replays what the
// client missed after ?since= (pages from the StreamSource, the next one
// fetched only when the send queue is short). Then the held frames are
// released, skipping any whose stream_pos the replay already covered: no gap
// and no duplicate at the seam, whatever the timing.
#include "node/stream/ws_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "node/common/client_error.h"
#include "node/common/log.h"
#include "node/http/gateway.h"
#include "node/http/http_types.h"

namespace gc::stream_session {

Frame MakeFrame(const json& j) { return WsTextFrame(j.dump(-1, ' ', false, json::error_handler_t::replace)); }

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

WsSession::~WsSession() {
  Detach();
  if (counted_) --ep_.open;
}

void WsSession::Detach() {
  if (!attached_) return;
  attached_ = false;
  ep_.hub.Detach(principal_.user->user_id, this);
  LogInfo("stream closed", {{"request_id", request_id_}, {"user", user()}, {"last_stream_pos", last_pos_}});
}

void WsSession::Start(http::request<http::string_body> req) {
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
        auto [status, code] = ClientErrorOf(p.error().code);
        return self->Reject(status, code, p.error().message);
      }
      self->principal_ = *p;
      self->Upgrade();
    });
  });
}

void WsSession::Deliver(const Frame& frame, int64_t pos, bool flush) {
  ToInbox({frame, pos, nullptr}, frame->size(), flush);
}

void WsSession::DeliverRun(const FrameRunPtr& run) { ToInbox({nullptr, 0, run}, run->bytes, /*flush=*/true); }

void WsSession::ToInbox(Inbound in, size_t bytes, bool flush) {
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (dropped_) return;
    if (flush && direct_ok_) {
      if (WriteDirect(in, bytes)) {
        ++ep_.direct_writes;
        return;  // on the wire: no post, no wake-up of an I/O thread
      }
    }
    direct_ok_ = false;  // the inbox is not empty any more
    ++ep_.queued_deliveries;
    inbox_bytes_ += bytes;
    if (inbox_bytes_ + queued_bytes_.load() > ep_.options.send_queue_bytes) {
      dropped_ = true;  // too slow: stop buffering at once, close on the strand
    } else {
      inbox_.push_back(std::move(in));
    }
    if (flush) {
      schedule = !scheduled_;
      scheduled_ = true;
    }
  }
  if (schedule) asio::post(executor_, [self = shared_from_this()] { self->DrainInbox(); });
}

void WsSession::Flush() {
  bool schedule;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    schedule = !scheduled_ && (!inbox_.empty() || dropped_);
    if (schedule) scheduled_ = true;
  }
  if (schedule) asio::post(executor_, [self = shared_from_this()] { self->DrainInbox(); });
}

HandlerScope WsSession::Scope(const char* what) {
  // A scope lives inside one of this session's handlers, which holds the
  // session alive: the closure needs no weak_ptr (two atomic operations on
  // every handler, the hottest path of a large fan-out).
  return HandlerScope(what, request_id_, [this] {
    asio::post(executor_, [s = shared_from_this()] { s->Finish(); });
  });
}

void WsSession::Kick(uint16_t code, const std::string& reason) {
  asio::post(executor_, [self = shared_from_this(), code, reason] { self->CloseWith(code, reason); });
}

void WsSession::Reject(int status, const std::string& code, const std::string& message) {
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

void WsSession::Upgrade() {
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

void WsSession::OnAccepted() {
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

void WsSession::FetchReplayPage() {
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

void WsSession::OnReplayPage(Result<std::vector<StreamEvent>> events) {
  auto scope = Scope("stream replay");
  if (closing_) return;
  if (!events.ok()) {
    Enqueue(ErrorFrame("unavailable", "could not replay missed events; reconnect with the same since"));
    return CloseWith(1011, "replay failed");
  }
  for (const auto& e : *events) {
    Push(MakeFrame({{"type", "event"}, {"event", e.event}}));
    last_pos_ = e.stream_pos;
    cursor_ = e.stream_pos;
  }
  WriteSoon();
  if (static_cast<int>(events->size()) < ep_.options.replay_page) return FinishReplay();
  // More to come: fetch the next page once this one is on its way.
  replay_waiting_ = true;
  MaybeContinueReplay();
}

void WsSession::MaybeContinueReplay() {
  if (replay_waiting_ && queue_.size() < 64) {
    replay_waiting_ = false;
    FetchReplayPage();
  }
}

void WsSession::FinishReplay() {
  replaying_ = false;
  Push(MakeFrame({{"type", "ready"}, {"stream_pos", std::max(last_pos_, upto_)}}));
  // Who is online now, among the people this user shares a group with.
  auto self = shared_from_this();
  ep_.post_blocking([self] {
    auto frames = self->ep_.hub.PresenceSnapshot(self->user());
    if (frames.empty()) return;
    asio::dispatch(self->executor_, [self, frames = std::move(frames)] {
      for (const auto& f : frames) self->Push(f);
      self->WriteSoon();
    });
  });
  for (auto& [frame, pos] : held_) {
    if (pos == 0 || pos > last_pos_) {
      Push(frame);
      if (pos) last_pos_ = pos;
    }
  }
  held_.clear();
  held_bytes_ = 0;
  WriteSoon();
}

}  // namespace gc::stream_session
