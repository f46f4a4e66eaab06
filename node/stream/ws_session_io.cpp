// A stream's traffic: the bounded send queue, heartbeats, and the client's
// frames.
//
// Outbound: the hub's frames land in an inbox (any thread, under a mutex)
// and are drained on the strand into the send queue; queued frames leave in
// one gathered write. Live frames, held frames and answers the client caused
// (pongs, errors) all count against stream.send_queue_bytes, so a client
// that does not read is closed with 4001 instead of growing the node's
// memory; it resumes with ?since=. Inbound: frames are parsed by
// WsFrameParser with stream.max_frame_bytes, data and control frames are
// rate-limited per connection, at most one pong waits in the queue, and a
// malformed frame gets an error frame (or the RFC 6455 close code), never an
// exception. The node pings at half stream.idle_timeout_s and drops a
// connection silent for the whole of it.
//
// The direct write: at a low rate every delivery used to be its own post to
// the connection's strand, a wake-up of an I/O thread and a send. When the
// strand is idle (nothing queued, no write under way, no replay, no close),
// it sets direct_ok_ under the inbox mutex, and the delivering thread (the
// hub's) then sends the frames itself with one non-blocking sendmsg while
// holding that mutex. The strand clears direct_ok_ under the same mutex
// before it writes, closes or drains, so the two never write at once and
// never reorder: what the strand writes afterwards went into queue_ after
// the direct write returned. When the socket takes less than everything
// (EAGAIN, a full buffer, an error), the rest goes the ordinary way: the
// unwritten part of a frame is kept in tail_ and put at the front of queue_
// by the strand, the remaining frames go to the inbox, and a drain is
// scheduled; an error is then found by the strand's own write.
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

#include "node/common/client_error.h"
#include "node/common/log.h"
#include "node/stream/ws_session.h"

namespace gc::stream_session {

void WsSession::DrainInbox() {
  auto scope = Scope("stream delivery");
  // Double-buffered: the inbox gets back the drained vector's storage, so
  // a busy connection does not allocate a new inbox per drain.
  std::vector<Inbound>& batch = draining_;
  batch.clear();
  bool dropped;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    batch.swap(inbox_);
    inbox_bytes_ = 0;
    scheduled_ = false;
    dropped = dropped_;
    TakeTail();  // a direct write's rest leaves before what follows it
  }
  if (closing_) return;
  if (dropped) {
    ++ep_.slow_consumers_dropped;
    LogWarn("stream dropped: client too slow", {{"user", user()}, {"ip", ip_}, {"last_stream_pos", last_pos_}});
    return CloseWith(kCloseSlowConsumer, "too slow: reconnect with since= the last stream_pos received");
  }
  for (auto& in : batch) {
    if (!in.run) {
      TakeLive(in.frame, in.pos);
      continue;
    }
    for (const auto& [frame, pos] : in.run->frames) TakeLive(frame, pos);
  }
  batch.clear();  // drop the runs now, keep the storage
  if (held_bytes_ > ep_.options.send_queue_bytes) {
    ++ep_.slow_consumers_dropped;
    return CloseWith(kCloseSlowConsumer, "too slow: reconnect with since= the last stream_pos received");
  }
  WriteSoon();  // everything drained leaves in one write
}

void WsSession::TakeLive(const Frame& frame, int64_t pos) {
  if (replaying_) {
    held_.emplace_back(frame, pos);
    held_bytes_ += frame->size();
    return;
  }
  if (pos && pos <= last_pos_) return;  // already sent
  if (pos) last_pos_ = pos;
  Push(frame);
}

void WsSession::Enqueue(const Frame& frame) {
  Push(frame);
  WriteSoon();
}

void WsSession::Push(const Frame& frame) {
  if (closing_) return;
  queue_.push_back(frame);
  queued_bytes_ += frame->size();
}

void WsSession::TakeTail() {
  if (!tail_) return;
  queued_bytes_ += tail_->size();
  queue_.push_front(std::move(tail_));
  tail_.reset();
}

void WsSession::SettleDirect(bool idle) {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  TakeTail();
  direct_ok_ = idle && queue_.empty() && inbox_.empty() && !scheduled_ && !dropped_;
}

bool WsSession::WriteDirect(Inbound& in, size_t& bytes) {
  // The frames the client has not had yet (as in TakeLive), gathered.
  constexpr size_t kMaxFrames = 64;
  const std::pair<Frame, int64_t> single{in.frame, in.pos};
  const std::pair<Frame, int64_t>* frames = in.run ? in.run->frames.data() : &single;
  size_t count = in.run ? in.run->frames.size() : 1;
  if (count > kMaxFrames) return false;  // a burst: the strand's gathered write
  iovec iov[kMaxFrames];
  size_t which[kMaxFrames];
  size_t n = 0, total = 0;
  int64_t pos_after = last_pos_;
  for (size_t i = 0; i < count; ++i) {
    const auto& [frame, pos] = frames[i];
    if (pos && pos <= pos_after) continue;  // already sent
    if (pos) pos_after = pos;
    iov[n] = {const_cast<char*>(frame->data()), frame->size()};
    which[n++] = i;
    total += frame->size();
  }
  if (total == 0) return true;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  ssize_t sent = ::sendmsg(sock_->socket().native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent == static_cast<ssize_t>(total)) {
    last_pos_ = pos_after;
    return true;
  }
  if (sent <= 0) return false;  // nothing went: all of it to the inbox
  // Part went: the rest of the frame it stopped in becomes tail_, the
  // frames after it a run for the inbox.
  auto rest = std::make_shared<FrameRun>();
  size_t done = static_cast<size_t>(sent);
  for (size_t k = 0; k < n; ++k) {
    const auto& [frame, pos] = frames[which[k]];
    if (done >= frame->size()) {
      done -= frame->size();
      if (pos) last_pos_ = pos;
      continue;
    }
    if (done > 0) {
      tail_ = std::make_shared<const std::string>(*frame, done);
      done = 0;
      if (pos) last_pos_ = pos;  // its rest is already committed to the wire
      continue;
    }
    rest->frames.emplace_back(frame, pos);
    rest->bytes += frame->size();
  }
  bytes = rest->bytes + (tail_ ? tail_->size() : 0);
  in = Inbound{nullptr, 0, std::move(rest)};
  return false;
}

void WsSession::WriteNext() {
  SettleDirect(/*idle=*/queue_.empty() && sock_ && !closing_ && !replaying_);
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
  // Straight on the socket (its executor is the connection's strand): the
  // stream has no timeouts after the handshake (expires_never), and Beast's
  // timed stream around it was ~6% of the node's CPU per delivery at 500
  // members (operation wrappers, executor copies) for nothing.
  asio::async_write(sock_->socket(), buffers_, [self = shared_from_this(), bytes](beast::error_code ec, size_t) {
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

void WsSession::CloseWith(uint16_t code, const std::string& reason) {
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
  // No direct write after this; a frame one sent only part of is finished
  // before the close frame.
  SettleDirect(false);
  queue_.push_back(ControlFrame(0x8, payload));
  queued_bytes_ += queue_.back()->size();
  close_sent_ = true;
  if (!writing_) WriteNext();
}

void WsSession::ShutdownAfterClose() {
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

void WsSession::Finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  SettleDirect(false);  // no direct write on a closed (or reused) descriptor
  timer_.cancel();
  beast::error_code ec;
  if (sock_) sock_->socket().close(ec);
  Detach();
}

void WsSession::Heartbeat() {
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

void WsSession::ReadLoop() {
  // Small reads: client frames are small, and an idle connection should
  // cost little memory (the buffer grows for a large frame).
  auto buf = rx_.prepare(1024);
  sock_->socket().async_read_some(buf, [self = shared_from_this()](beast::error_code ec, size_t n) {
    auto scope = self->Scope("stream read");
    if (ec) return self->Finish();  // closed, reset or shut down
    self->rx_.commit(n);
    self->last_rx_ = std::chrono::steady_clock::now();
    if (!self->ParseFrames()) return;
    if (self->finished_) return;
    self->ReadLoop();
  });
}

bool WsSession::Fail(uint16_t code, const std::string& why) {
  LogInfo("stream protocol error", {{"user", user()}, {"ip", ip_}, {"code", static_cast<int>(code)}, {"why", why}});
  CloseWith(code, why);
  rx_.consume(rx_.size());
  return true;  // keep reading until the peer closes or the timer ends it
}

bool WsSession::ParseFrames() {
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

bool WsSession::ControlAllowed() {
  int retry = 0;
  if (control_limiter_.Allow("", MonotonicSeconds(), &retry)) return true;
  Fail(1008, "too many control frames");
  return false;
}

void WsSession::QueuePong(const std::string& payload) {
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

void WsSession::Reply(const Frame& frame) {
  if (queued_bytes_.load() + frame->size() > ep_.options.send_queue_bytes) {
    ++ep_.slow_consumers_dropped;
    return CloseWith(kCloseSlowConsumer, "too slow: the client does not read its answers");
  }
  Enqueue(frame);
}

void WsSession::OnClientFrame(const std::string& text, bool binary) {
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
        Frame f = ErrorFrame(ClientErrorOf(st.error().code).code, st.error().message);
        asio::dispatch(self->executor_, [self, f] { self->Reply(f); });
      }
    });
    return;
  }
  Reply(ErrorFrame("invalid_request", "unknown frame type; expected ping or typing"));
}

}  // namespace gc::stream_session
