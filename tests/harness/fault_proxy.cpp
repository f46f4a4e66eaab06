#include "tests/harness/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <memory>
#include <stdexcept>
#include <vector>

namespace gc::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxPending = 1 << 20;  // per direction; past it the proxy stops reading

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void Reset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

struct Chunk {
  std::string data;
  Clock::time_point due;
};

// One direction of a relayed connection.
struct Half {
  int from = -1, to = -1;
  std::deque<Chunk> pending;
  size_t pending_bytes = 0;
  bool eof = false;       // `from` has closed its side
  bool shut = false;      // ... and that was passed on
  double tokens = 0;      // kBandwidth
  Clock::time_point refilled = Clock::now();
};

struct Pair {
  int client = -1, server = -1;
  Half to_node, from_node;
  bool dead = false;
};

}  // namespace

FaultProxy::FaultProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 64) != 0) {
    close(listen_fd_);
    throw std::runtime_error("fault proxy: cannot listen");
  }
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  NonBlocking(listen_fd_);
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("fault proxy: pipe");
  thread_ = std::thread([this] { Loop(); });
}

FaultProxy::~FaultProxy() { Stop(); }

void FaultProxy::Stop() {
  if (stop_.exchange(true)) return;
  (void)!write(wake_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

void FaultProxy::Set(Direction d, Setting s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (d != Direction::kFromNode) to_node_ = s;
    if (d != Direction::kToNode) from_node_ = s;
    ++generation_;
  }
  (void)!write(wake_[1], "x", 1);
}

std::string FaultProxy::Describe(Fault f) {
  switch (f) {
    case Fault::kPass: return "pass";
    case Fault::kDelay: return "delay";
    case Fault::kBandwidth: return "bandwidth";
    case Fault::kBlackHole: return "black-hole";
    case Fault::kDrop: return "drop";
    case Fault::kReset: return "reset";
  }
  return "?";
}

void FaultProxy::Loop() {
  std::vector<std::unique_ptr<Pair>> pairs;
  uint64_t seen_generation = 0;
  auto close_pair = [](Pair& p, bool reset) {
    if (p.dead) return;
    p.dead = true;
    if (reset) {
      Reset(p.client);
      Reset(p.server);
    } else {
      close(p.client);
      close(p.server);
    }
  };
  while (!stop_.load()) {
    Setting to_node, from_node;
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(mu_);
      to_node = to_node_;
      from_node = from_node_;
      generation = generation_;
    }
    auto connection_fault = [&](Fault f) { return to_node.fault == f || from_node.fault == f; };
    if (generation != seen_generation) {
      seen_generation = generation;
      if (connection_fault(Fault::kReset) || connection_fault(Fault::kDrop)) {
        for (auto& p : pairs) close_pair(*p, connection_fault(Fault::kReset));
      }
    }
    pairs.erase(std::remove_if(pairs.begin(), pairs.end(), [](const auto& p) { return p->dead; }), pairs.end());

    // Move what is due; compute the next wake-up.
    auto now = Clock::now();
    auto next = now + std::chrono::milliseconds(50);
    auto flush = [&](Half& h, const Setting& s, Pair& p) {
      if (s.fault == Fault::kBlackHole) return;
      if (s.fault == Fault::kBandwidth) {
        double dt = std::chrono::duration<double>(now - h.refilled).count();
        h.tokens = std::min<double>(h.tokens + dt * static_cast<double>(s.bytes_per_s),
                                    std::max<double>(1.0, static_cast<double>(s.bytes_per_s) / 20));
        h.refilled = now;
      }
      while (!h.pending.empty() && !p.dead) {
        Chunk& c = h.pending.front();
        if (c.due > now) {
          next = std::min(next, c.due);
          return;
        }
        size_t n = c.data.size();
        if (s.fault == Fault::kBandwidth) {
          if (h.tokens < 1) {
            next = std::min(next, now + std::chrono::milliseconds(20));
            return;
          }
          n = std::min<size_t>(n, static_cast<size_t>(h.tokens));
        }
        ssize_t w = send(h.to, c.data.data(), n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (w <= 0) return close_pair(p, false);
        relayed_ += w;
        if (s.fault == Fault::kBandwidth) h.tokens -= static_cast<double>(w);
        h.pending_bytes -= static_cast<size_t>(w);
        c.data.erase(0, static_cast<size_t>(w));
        if (c.data.empty()) h.pending.pop_front();
      }
      if (h.pending.empty() && h.eof && !h.shut) {
        h.shut = true;
        shutdown(h.to, SHUT_WR);
      }
    };
    for (auto& p : pairs) {
      flush(p->to_node, to_node, *p);
      flush(p->from_node, from_node, *p);
      if (p->to_node.shut && p->from_node.shut) close_pair(*p, false);
    }

    std::vector<pollfd> fds;
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    auto events = [&](const Half& h, const Setting& s) -> short {
      short e = 0;
      if (s.fault != Fault::kBlackHole && !h.eof && h.pending_bytes < kMaxPending) e |= POLLIN;
      return e;
    };
    for (auto& p : pairs) {
      if (p->dead) continue;
      short c = events(p->to_node, to_node), sv = events(p->from_node, from_node);
      if (!p->to_node.pending.empty() && to_node.fault != Fault::kBlackHole) sv |= POLLOUT;
      if (!p->from_node.pending.empty() && from_node.fault != Fault::kBlackHole) c |= POLLOUT;
      fds.push_back({p->client, c, 0});
      fds.push_back({p->server, sv, 0});
    }
    int timeout = static_cast<int>(
        std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count()));
    int rc = poll(fds.data(), fds.size(), timeout);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    {  // a Set that came while this round waited applies to what it read
      std::lock_guard<std::mutex> lock(mu_);
      to_node = to_node_;
      from_node = from_node_;
    }
    if (fds[0].revents) {
      char buf[64];
      while (read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    if (fds[1].revents & POLLIN) {
      while (true) {
        int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) break;
        {  // a Set may have come meanwhile: each connection meets the newest setting
          std::lock_guard<std::mutex> lock(mu_);
          to_node = to_node_;
          from_node = from_node_;
        }
        if (connection_fault(Fault::kReset)) {
          Reset(c);
          continue;
        }
        if (connection_fault(Fault::kDrop)) {
          close(c);
          continue;
        }
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(target_port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {  // loopback: at once
          close(s);
          Reset(c);
          continue;
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        NonBlocking(c);
        NonBlocking(s);
        auto p = std::make_unique<Pair>();
        p->client = c;
        p->server = s;
        p->to_node.from = c;
        p->to_node.to = s;
        p->from_node.from = s;
        p->from_node.to = c;
        pairs.push_back(std::move(p));
      }
    }
    // Read what arrived; it is written on the next round (after its delay).
    size_t i = 2;
    for (auto& p : pairs) {
      if (p->dead) continue;
      if (i + 1 >= fds.size()) break;
      const pollfd& cfd = fds[i++];
      const pollfd& sfd = fds[i++];
      auto take = [&](Half& h, const pollfd& f, const Setting& s) {
        if (p->dead || !(f.revents & (POLLIN | POLLHUP | POLLERR))) return;
        if (s.fault == Fault::kBlackHole || h.eof) return;
        char buf[65536];
        ssize_t n = recv(h.from, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) return close_pair(*p, true);
        if (n == 0) {
          h.eof = true;
          return;
        }
        auto due = Clock::now() + std::chrono::milliseconds(s.fault == Fault::kDelay ? s.delay_ms : 0);
        h.pending.push_back({std::string(buf, static_cast<size_t>(n)), due});
        h.pending_bytes += static_cast<size_t>(n);
      };
      take(p->to_node, cfd, to_node);
      take(p->from_node, sfd, from_node);
    }
  }
  for (auto& p : pairs) close_pair(*p, false);
}

}  // namespace gc::test
