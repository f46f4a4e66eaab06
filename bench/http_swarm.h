// HttpSwarm: many keep-alive HTTP/1.1 connections driven by one epoll loop
// on the calling thread, so that hundreds of requests can be in flight
// without a thread each (the load generator must not need more CPU than the
// node it measures). Each connection asks `next` for its request, sends it,
// waits for the whole answer (Content-Length bodies only, as the node
// sends), reports it to `answer` with its latency, and asks again; `next`
// returning false closes that connection. Run returns when all are closed.
#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace lg {

inline int64_t MonoNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct SwarmRequest {
  std::string method, path, body, token;
};

class HttpSwarm {
 public:
  using Next = std::function<bool(int conn, SwarmRequest* out)>;
  using Answer = std::function<void(int conn, int status, int64_t latency_ns, std::string_view body)>;
  // `connect` opens one blocking TCP connection to the node.
  static void Run(const std::function<int()>& connect, int conns, const Next& next, const Answer& answer) {
    struct Conn {
      int fd = -1;
      std::string in;
      int64_t sent_ns = 0;
    };
    int ep = epoll_create1(EPOLL_CLOEXEC);
    std::vector<Conn> cs(static_cast<size_t>(conns));
    int open = 0;
    auto send_next = [&](int i) {
      SwarmRequest r;
      if (!next(i, &r)) {
        close(cs[i].fd);
        cs[i].fd = -1;
        --open;
        return;
      }
      std::string req = r.method + " " + r.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
      if (!r.token.empty()) req += "Authorization: Bearer " + r.token + "\r\n";
      req += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
      cs[i].sent_ns = MonoNs();
      size_t off = 0;
      while (off < req.size()) {
        ssize_t n = send(cs[i].fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
        if (n <= 0) {
          perror("send");
          exit(1);
        }
        off += static_cast<size_t>(n);
      }
    };
    for (int i = 0; i < conns; ++i) {
      cs[i].fd = connect();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
      ++open;
    }
    for (int i = 0; i < conns; ++i) send_next(i);
    std::vector<epoll_event> events(256);
    char buf[65536];
    while (open > 0) {
      int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
      for (int k = 0; k < n; ++k) {
        int i = static_cast<int>(events[k].data.u32);
        Conn& c = cs[i];
        if (c.fd < 0) continue;
        ssize_t got = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN)) {
          fprintf(stderr, "the node closed a connection\n");
          exit(1);
        }
        if (got < 0) continue;
        c.in.append(buf, static_cast<size_t>(got));
        size_t head_end = c.in.find("\r\n\r\n");
        if (head_end == std::string::npos) continue;
        size_t cl = c.in.find("Content-Length: ");
        if (cl == std::string::npos || cl > head_end) cl = c.in.find("content-length: ");
        size_t len = cl == std::string::npos || cl > head_end ? 0 : std::strtoul(c.in.c_str() + cl + 16, nullptr, 10);
        if (c.in.size() < head_end + 4 + len) continue;
        int status = std::atoi(c.in.c_str() + 9);
        answer(i, status, MonoNs() - c.sent_ns, std::string_view(c.in).substr(head_end + 4, len));
        c.in.erase(0, head_end + 4 + len);
        send_next(i);
      }
    }
    close(ep);
  }
};

}  // namespace lg
