#include "federation/transport.h"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <string>
#include <string_view>
#include <vector>

#include "node/common/barrier.h"
#include "node/common/log.h"

namespace gc {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

std::string Recv(void* socket, bool* more, size_t limit, bool* too_big, std::string* user_id = nullptr) {
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  std::string out;
  if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) >= 0) {
    if (user_id) {
      // Set by our ZAP handler: the peer the CURVE key belongs to.
      const char* u = zmq_msg_gets(&msg, "User-Id");
      *user_id = u ? u : "";
    }
    size_t n = zmq_msg_size(&msg);
    if (n > limit) {
      if (too_big) *too_big = true;
    } else {
      out.assign(static_cast<const char*>(zmq_msg_data(&msg)), n);
    }
    *more = zmq_msg_more(&msg);
  } else {
    *more = false;
  }
  zmq_msg_close(&msg);
  return out;
}

// Reads every part of the next message (empty if none).
std::vector<std::string> RecvAll(void* socket, size_t limit, bool* too_big, std::string* user_id = nullptr) {
  std::vector<std::string> parts;
  bool more = true;
  while (more && parts.size() < 16) parts.push_back(Recv(socket, &more, limit, too_big, user_id));
  while (more) Recv(socket, &more, limit, too_big);  // drain the rest of an odd message
  return parts;
}

bool SendParts(void* socket, const std::vector<std::string>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    int flags = ZMQ_DONTWAIT | (i + 1 < parts.size() ? ZMQ_SNDMORE : 0);
    if (zmq_send(socket, parts[i].data(), parts[i].size(), flags) < 0) return false;
  }
  return true;
}

// ZMTP heartbeats (PING/PONG every 2 s, 6 s without traffic closes the
// connection): a connection whose other end vanished without a FIN or RST
// (a partition, a frozen or killed peer behind a NAT or proxy) is closed
// and, on the connecting side, made again, instead of swallowing frames
// until TCP gives up many minutes later.
// At log level debug, one line per frame in or out (its first 160 bytes:
// version, id and type), to see where frames stop between two nodes.
void TraceFrame(std::string_view what, const std::string& peer, const std::string& frame) {
  if (LogEnabled(LogLevel::kDebug)) LogDebug(what, {{"peer", peer}, {"frame", frame.substr(0, 160)}});
}

void SetHeartbeat(void* socket) {
  int ivl = 2000, timeout = 6000, ttl = 6000;
  zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
  zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
  zmq_setsockopt(socket, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
}

}  // namespace

std::string Z85Key(const std::string& raw32) {
  char out[41];
  if (raw32.size() != 32 || !zmq_z85_encode(out, reinterpret_cast<const uint8_t*>(raw32.data()), 32)) return {};
  return std::string(out, 40);
}

FederationTransport::FederationTransport(std::string self_name, std::string public_key, std::string secret_key,
                                         size_t max_frame)
    : self_name_(std::move(self_name)),
      public_key_(std::move(public_key)),
      secret_key_(std::move(secret_key)),
      max_frame_(max_frame) {
  ctx_ = zmq_ctx_new();
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

FederationTransport::~FederationTransport() {
  Stop();
  if (router_) zmq_close(router_);
  if (zap_) zmq_close(zap_);
  for (auto& [name, d] : dealers_) zmq_close(d.socket);
  if (ctx_) zmq_ctx_term(ctx_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status FederationTransport::Bind(const std::string& endpoint) {
  // The ZAP handler must exist before any CURVE handshake.
  zap_ = zmq_socket(ctx_, ZMQ_REP);
  int zero = 0;
  zmq_setsockopt(zap_, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_bind(zap_, kZapEndpoint) != 0) return Error::Internal(std::string("zap bind: ") + zmq_strerror(errno));

  router_ = zmq_socket(ctx_, ZMQ_ROUTER);
  int one = 1;
  std::string z85 = Z85Key(secret_key_);
  int64_t max_msg = static_cast<int64_t>(max_frame_);
  int hwm = 10000;
  zmq_setsockopt(router_, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(router_, ZMQ_CURVE_SERVER, &one, sizeof one);
  zmq_setsockopt(router_, ZMQ_CURVE_SECRETKEY, z85.data(), z85.size());
  zmq_setsockopt(router_, ZMQ_ZAP_DOMAIN, "groupchat", 9);
  // A frame over the limit makes libzmq drop that connection: the peer's
  // other frames are not affected, and nothing oversized reaches the node.
  zmq_setsockopt(router_, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
  // Send to a vanished peer fails (EHOSTUNREACH) instead of vanishing silently.
  zmq_setsockopt(router_, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  // A restarted peer reconnecting with the same name takes over its route.
  zmq_setsockopt(router_, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
  zmq_setsockopt(router_, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(router_, ZMQ_RCVHWM, &hwm, sizeof hwm);
  SetHeartbeat(router_);
  if (zmq_bind(router_, endpoint.c_str()) != 0) {
    return Error::Unavailable("cannot listen on " + endpoint + ": " + zmq_strerror(errno));
  }
  char buf[256];
  size_t len = sizeof buf;
  zmq_getsockopt(router_, ZMQ_LAST_ENDPOINT, buf, &len);
  endpoint_ = std::string(buf, len > 0 ? len - 1 : 0);
  return OkStatus();
}

void FederationTransport::Start(Handlers handlers) {
  handlers_ = std::move(handlers);
  thread_ = SpawnGuarded("gc-fed-io", [this] { Loop(); });
}

void FederationTransport::Stop() {
  if (stop_.exchange(true)) return;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void FederationTransport::Post(Command c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (commands_.size() > 100000) {
      LogWarn("federation transport queue full, dropping a frame", {{"peer", c.peer}});
      return;  // acknowledgements make the sender try again
    }
    commands_.push_back(std::move(c));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void FederationTransport::Send(const std::string& peer, const std::string& endpoint, const std::string& server_key,
                               std::string frame) {
  Post({Command::kSend, peer, endpoint, server_key, std::move(frame)});
}

void FederationTransport::Reply(const std::string& peer, std::string frame) {
  Post({Command::kReply, peer, {}, {}, std::move(frame)});
}

void FederationTransport::Drop(const std::string& peer) { Post({Command::kDrop, peer, {}, {}, {}}); }

void* FederationTransport::DealerFor(const Command& c) {
  auto it = dealers_.find(c.peer);
  if (it != dealers_.end() && (it->second.endpoint != c.endpoint || it->second.server_key != c.server_key)) {
    zmq_close(it->second.socket);  // the peer moved or rotated its key
    dealers_.erase(it);
    it = dealers_.end();
  }
  if (it != dealers_.end()) return it->second.socket;
  void* s = zmq_socket(ctx_, ZMQ_DEALER);
  int zero = 0, hwm = 10000, ivl = 200, ivl_max = 5000;
  std::string server = Z85Key(c.server_key), pub = Z85Key(public_key_), sec = Z85Key(secret_key_);
  int64_t max_msg = static_cast<int64_t>(max_frame_);
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_ROUTING_ID, self_name_.data(), self_name_.size());
  zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server.data(), server.size());
  zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub.data(), pub.size());
  zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec.data(), sec.size());
  zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
  zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
  SetHeartbeat(s);
  if (zmq_connect(s, c.endpoint.c_str()) != 0) {
    LogWarn("federation connect failed", {{"peer", c.peer}, {"endpoint", c.endpoint}, {"error", zmq_strerror(errno)}});
    zmq_close(s);
    return nullptr;
  }
  dealers_[c.peer] = Dealer{s, c.endpoint, c.server_key};
  return s;
}

void FederationTransport::RunCommands() {
  uint64_t n;
  (void)!read(wake_fd_, &n, sizeof n);
  std::deque<Command> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    todo.swap(commands_);
  }
  for (Command& c : todo) {
    if (c.kind == Command::kDrop) {
      auto it = dealers_.find(c.peer);
      if (it != dealers_.end()) {
        zmq_close(it->second.socket);
        dealers_.erase(it);
      }
      continue;
    }
    if (c.kind == Command::kReply) {
      TraceFrame("federation answer out", c.peer, c.frame);
      if (!SendParts(router_, {c.peer, c.frame})) {
        LogWarn("federation answer not sent", {{"peer", c.peer}, {"error", zmq_strerror(errno)}});
      } else {
        ++frames_out;
      }
      continue;
    }
    void* s = DealerFor(c);
    if (!s) continue;
    TraceFrame("federation request out", c.peer, c.frame);
    // A DEALER queues while disconnected; beyond its high-water mark the
    // frame is dropped here and resent by the caller's retry.
    if (zmq_send(s, c.frame.data(), c.frame.size(), ZMQ_DONTWAIT) < 0) {
      LogWarn("federation frame not queued", {{"peer", c.peer}, {"error", zmq_strerror(errno)}});
    } else {
      ++frames_out;
    }
  }
}

void FederationTransport::HandleZap() {
  auto parts = RecvAll(zap_, 4096, nullptr);
  if (parts.size() < 6) return;  // not a ZAP request; REP needs no answer then
  // version, request_id, domain, address, routing id, mechanism, credentials...
  const std::string& request_id = parts[1];
  std::string peer;
  bool ok = parts.size() >= 7 && parts[0] == "1.0" && parts[5] == "CURVE" && parts[6].size() == 32 &&
            handlers_.admit && !(peer = handlers_.admit(parts[6])).empty();
  if (!ok) {
    ++zap_denied;
    LogWarn("federation connection refused: not the key of an admitted peer", {{"address", parts[3]}});
  }
  SendParts(zap_, {"1.0", request_id, ok ? "200" : "400", ok ? "OK" : "not an admitted peer", peer, ""});
}

void FederationTransport::HandleRouter() {
  bool too_big = false;
  std::string user_id;
  auto parts = RecvAll(router_, max_frame_, &too_big, &user_id);
  if (parts.size() != 2 || too_big) {
    LogWarn("federation frame refused: malformed envelope", {{"parts", static_cast<int64_t>(parts.size())}});
    return;
  }
  // The routing id a client sets is only a claim; the ZAP user id is what
  // its key proved. They must agree, so answers go to the right peer.
  if (user_id.empty() || parts[0] != user_id) {
    LogWarn("federation frame refused: routing id is not the authenticated peer",
            {{"claimed", parts[0]}, {"peer", user_id}});
    return;
  }
  ++frames_in;
  TraceFrame("federation request in", user_id, parts[1]);
  // A frame whose handling throws is dropped (the barrier logs it); the
  // peer's acknowledgements make it send again or give up.
  if (handlers_.on_request) Guard("federation request", user_id, [&] { handlers_.on_request(user_id, std::move(parts[1])); });
}

void FederationTransport::HandleDealer(const std::string& peer, void* socket) {
  bool too_big = false;
  auto parts = RecvAll(socket, max_frame_, &too_big);
  if (parts.size() != 1 || too_big) return;
  ++frames_in;
  TraceFrame("federation answer in", peer, parts[0]);
  if (handlers_.on_answer) Guard("federation answer", peer, [&] { handlers_.on_answer(peer, std::move(parts[0])); });
}

void FederationTransport::Loop() {
  std::vector<zmq_pollitem_t> items;
  std::vector<std::string> names;
  while (!stop_) {
    items.clear();
    names.clear();
    items.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
    items.push_back({zap_, 0, ZMQ_POLLIN, 0});
    items.push_back({router_, 0, ZMQ_POLLIN, 0});
    for (auto& [name, d] : dealers_) {
      items.push_back({d.socket, 0, ZMQ_POLLIN, 0});
      names.push_back(name);
    }
    int rc = zmq_poll(items.data(), static_cast<int>(items.size()), 1000);
    if (rc < 0) {
      if (errno == ETERM) return;
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      for (int i = 0; i < 64; ++i) {
        HandleZap();
        int ev = 0;
        size_t len = sizeof ev;
        zmq_getsockopt(zap_, ZMQ_EVENTS, &ev, &len);
        if (!(ev & ZMQ_POLLIN)) break;
      }
    }
    auto drain = [&](void* s, const std::function<void()>& one) {
      for (int i = 0; i < 256; ++i) {
        int ev = 0;
        size_t len = sizeof ev;
        zmq_getsockopt(s, ZMQ_EVENTS, &ev, &len);
        if (!(ev & ZMQ_POLLIN)) break;
        one();
      }
    };
    if (items[2].revents & ZMQ_POLLIN) drain(router_, [&] { HandleRouter(); });
    for (size_t i = 0; i < names.size(); ++i) {
      if (!(items[3 + i].revents & ZMQ_POLLIN)) continue;
      auto it = dealers_.find(names[i]);
      if (it == dealers_.end()) continue;
      void* s = it->second.socket;
      std::string peer = names[i];
      drain(s, [&] { HandleDealer(peer, s); });
    }
    if (items[0].revents & ZMQ_POLLIN) RunCommands();
  }
}

}  // namespace gc
