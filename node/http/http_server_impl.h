// The HTTP server's shared state: the io_context and its threads, the
// acceptor, the open sessions (so that Stop can close the idle ones), and the
// connection accounting (in all, and per client address).
//
// Internal to node/http: only http_server.cpp and http_session.cpp include it.
// A connection from one address is counted by a Hold, held by the HTTP
// session and handed over to the stream session on a WebSocket upgrade; the
// counts are shared with the holds, which may outlive the server (a stream
// session destroyed after shutdown).
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include "node/http/http_server.h"

namespace gc {

class HttpSession;

struct HttpServer::Impl {
  HttpServerOptions options;
  Gateway& gateway;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  // Keeps run() going while every session waits on a worker (no pending I/O):
  // without it the threads would exit during shutdown with answers unsent.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  std::unordered_set<std::string> trusted;
  std::mutex sessions_mu;
  std::list<std::weak_ptr<HttpSession>> sessions;  // GUARDED_BY(sessions_mu)

  struct PerIp {
    std::mutex mu;
    std::unordered_map<std::string, int> open;  // GUARDED_BY(mu)
  };
  struct Hold {
    Hold() = default;
    Hold(std::shared_ptr<PerIp> c, std::string i) : counts(std::move(c)), ip(std::move(i)) {}
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    std::shared_ptr<PerIp> counts;  // null for a trusted proxy
    std::string ip;
    ~Hold() {
      if (!counts) return;
      std::lock_guard<std::mutex> lock(counts->mu);
      auto it = counts->open.find(ip);
      if (it != counts->open.end() && --it->second <= 0) counts->open.erase(it);
    }
  };
  std::shared_ptr<PerIp> per_ip = std::make_shared<PerIp>();

  Impl(HttpServerOptions o, Gateway& g)
      : options(std::move(o)), gateway(g), ioc(options.threads), acceptor(boost::asio::make_strand(ioc)) {
    for (auto& t : options.trusted_proxies) trusted.insert(t);
  }

  // One connection from `ip`, counted until the returned hold is released
  // (by the HTTP session, or the stream session it hands over to); nullptr
  // if `ip` is over max_connections_per_ip. Trusted proxies are not counted.
  std::shared_ptr<Hold> HoldConnection(const std::string& ip);
  void DoAccept();
  void Track(const std::shared_ptr<HttpSession>& s);
};

}  // namespace gc
