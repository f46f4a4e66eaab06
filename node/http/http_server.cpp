// HttpServer: the listening socket, the accept loop, the I/O threads and a
// graceful stop. Each accepted connection becomes an HttpSession
// (http_session.h) once it is within the connection limits (in all, and per
// client address: HttpServer::Impl::HoldConnection).
#include "node/http/http_server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

#include "node/common/barrier.h"
#include "node/common/log.h"
#include "node/http/http_server_impl.h"
#include "node/http/http_session.h"

namespace gc {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

std::shared_ptr<HttpServer::Impl::Hold> HttpServer::Impl::HoldConnection(const std::string& ip) {
  if (trusted.count(ip)) return std::make_shared<Hold>();
  {
    std::lock_guard<std::mutex> lock(per_ip->mu);
    int& n = per_ip->open[ip];
    if (n >= options.max_connections_per_ip) return nullptr;
    ++n;
  }
  return std::make_shared<Hold>(per_ip, ip);
}

void HttpServer::Impl::Track(const std::shared_ptr<HttpSession>& s) {
  std::lock_guard<std::mutex> lock(sessions_mu);
  // Forget finished sessions as we go so the list stays short.
  if (sessions.size() > 64 && (sessions.size() & 63) == 0) {
    sessions.remove_if([](const std::weak_ptr<HttpSession>& w) { return w.expired(); });
  }
  sessions.push_back(s);
}

void HttpServer::Impl::DoAccept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping.load()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // EMFILE and friends: back off instead of spinning.
      LogWarn("accept failed", {{"error", ec.message()}});
      auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](beast::error_code) { DoAccept(); });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    int n = connections.fetch_add(1) + 1;
    auto session = std::make_shared<HttpSession>(std::move(socket), *this);
    std::shared_ptr<void> hold = n > options.max_connections ? nullptr : HoldConnection(session->remote_ip());
    if (n > options.max_connections) {
      session->RejectBusy("too many connections, retry later");
    } else if (!hold) {
      session->RejectBusy("too many connections from your address, retry later");
    } else {
      session->set_hold(std::move(hold));
      Track(session);
      session->Start();
    }
    DoAccept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, Gateway& gateway)
    : impl_(std::make_unique<Impl>(std::move(options), gateway)) {}

HttpServer::~HttpServer() { Stop(0); }

Status HttpServer::Listen() {
  const std::string& listen = impl_->options.listen;
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Error::Invalid("http.listen must be host:port, got " + listen);
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = listen.substr(colon + 1);
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
  if (ec || results.empty()) return Error::Invalid("cannot resolve http.listen " + listen + ": " + ec.message());
  tcp::endpoint ep = results.begin()->endpoint();
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (ec) return Error::Unavailable("cannot listen on " + listen + ": " + ec.message());
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error::Unavailable("cannot listen on " + listen + ": " + ec.message());
  return OkStatus();
}

std::string HttpServer::local_endpoint() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "";
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

void HttpServer::Start() {
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->DoAccept();
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.push_back(SpawnGuarded("gc-http-io", [this] { impl_->ioc.run(); }));
  }
}

void HttpServer::Stop(int grace_ms) {
  if (impl_->threads.empty()) return;
  impl_->stopping.store(true);
  asio::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  {
    std::lock_guard<std::mutex> lock(impl_->sessions_mu);
    for (auto& w : impl_->sessions) {
      if (auto s = w.lock()) s->ShutdownIfIdle();
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (impl_->connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

int HttpServer::connections() const { return impl_->connections.load(); }

}  // namespace gc
