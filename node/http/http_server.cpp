#include "node/http/http_server.h"

#include <sodium.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "node/common/barrier.h"
#include "node/common/log.h"
#include "node/http/gateway.h"
#include "node/http/http_types.h"
#include "node/http/request_head.h"
#include "node/http/upgrade_handler.h"

namespace gc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string NewRequestId() {
  unsigned char b[8];
  randombytes_buf(b, sizeof b);
  char hex[17];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  return hex;
}

class Session;

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Gateway& gateway;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  // Keeps run() going while every session waits on a worker (no pending I/O):
  // without it the threads would exit during shutdown with answers unsent.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  std::unordered_set<std::string> trusted;
  std::mutex sessions_mu;
  std::list<std::weak_ptr<Session>> sessions;  // GUARDED_BY(sessions_mu)
  // Open connections by client address; shared with the holds, which may
  // outlive the server (a stream session destroyed after shutdown).
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

  // One connection from `ip`, counted until the returned hold is released
  // (by the HTTP session, or the stream session it hands over to); nullptr
  // if `ip` is over max_connections_per_ip. Trusted proxies are not counted.
  std::shared_ptr<Hold> HoldConnection(const std::string& ip) {
    if (trusted.count(ip)) return std::make_shared<Hold>();
    {
      std::lock_guard<std::mutex> lock(per_ip->mu);
      int& n = per_ip->open[ip];
      if (n >= options.max_connections_per_ip) return nullptr;
      ++n;
    }
    return std::make_shared<Hold>(per_ip, ip);
  }

  Impl(HttpServerOptions o, Gateway& g)
      : options(std::move(o)), gateway(g), ioc(options.threads), acceptor(asio::make_strand(ioc)) {
    for (auto& t : options.trusted_proxies) trusted.insert(t);
  }
  void DoAccept();
  void Track(const std::shared_ptr<Session>& s);
};

namespace {

// One client connection. All its handlers run on its strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    remote_ip_ = ec ? "unknown" : ep.address().to_string();
  }
  ~Session() { server_.connections.fetch_sub(1); }

  void Start() { asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); }); }

  // Called on shutdown: close now if between requests, else after the answer.
  void ShutdownIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.close();
      }
    });
  }

  // Rejects a connection over a limit with a 503 and closes it.
  void RejectBusy(const char* why) {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), why] {
      self->WriteError(503, "unavailable", why, "");
    });
  }

  const std::string& remote_ip() const { return remote_ip_; }
  void set_hold(std::shared_ptr<void> h) { hold_ = std::move(h); }

 private:
  // Between requests: wait for the first byte with the idle timeout. Once a
  // request has begun, the whole head must arrive within the header timeout.
  void WaitForRequest() {
    if (server_.stopping.load()) {
      Close();
      return;
    }
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    idle_ = true;
    stream_.expires_after(std::chrono::seconds(server_.options.idle_timeout_s));
    stream_.async_read_some(buffer_.prepare(8192), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->buffer_.commit(n);
      if (ec) {
        self->Close();
        return;
      }
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    idle_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    // The route's own limit is checked against Content-Length after the head;
    // this bound only stops the parser from rejecting before we can answer.
    parser_->body_limit(server_.options.max_any_body);
    stream_.expires_after(std::chrono::milliseconds(server_.options.header_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnHeader(ec);
    });
  }

  void OnHeader(beast::error_code ec) {
    HandlerScope scope("http request head", request_id_);
    if (ec) {
      OnReadError(ec);
      return;
    }
    auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    size_t limit = server_.gateway.BodyLimit(std::string_view(req.method_string().data(), req.method_string().size()), path);
    request_id_ = RequestIdFrom(req);
    if (auto len = parser_->content_length(); len && *len > limit) {
      WriteError(413, "payload_too_large",
                 "request body of " + std::to_string(*len) + " bytes is over the limit of " + std::to_string(limit) +
                     " bytes",
                 request_id_);
      return;
    }
    parser_->body_limit(limit);
    if (parser_->is_done()) {
      OnRequest();
      return;
    }
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_.socket(), asio::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(std::chrono::seconds(server_.options.idle_timeout_s));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnRequest();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      Close();
    } else if (ec == beast::error::timeout) {
      // A request started but did not finish in time (slowloris). The stream
      // has already closed the socket, so there is no one to answer.
      LogInfo("http request timed out", {{"ip", remote_ip_}});
      Close();
    } else if (ec == http::error::body_limit) {
      WriteError(413, "payload_too_large", "request body is over the limit", request_id_);
    } else if (ec == http::error::header_limit) {
      WriteError(431, "invalid_request", "request header fields too large", request_id_);
    } else if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      WriteError(400, "invalid_request", std::string("malformed HTTP request: ") + ec.message(), request_id_);
    } else {
      Close();
    }
  }

  std::string RequestIdFrom(const http::request<http::string_body>& req) {
    auto it = req.find("x-request-id");
    if (it != req.end()) {
      std::string_view v(it->value().data(), it->value().size());
      if (ValidRequestId(v)) return std::string(v);
    }
    return NewRequestId();
  }

  void OnRequest() {
    HandlerScope scope("http request", request_id_);
    auto msg = parser_->release();
    if (server_.options.stream && beast::websocket::is_upgrade(msg)) {
      std::string_view t(msg.target().data(), msg.target().size());
      if (t.substr(0, t.find('?')) == "/api/v1/stream") {
        // The stream takes the connection over; this session ends here.
        server_.options.stream->Accept(std::move(stream_), std::move(msg), remote_ip_, request_id_, std::move(hold_));
        return;
      }
    }
    HttpRequest r;
    r.method = std::string(msg.method_string());
    r.target = std::string(msg.target());
    SplitTarget(r.target, &r.path, &r.query);
    r.headers.reserve(8);
    for (const auto& f : msg) r.headers.emplace_back(LowerHeaderName(f.name_string()), std::string(f.value()));
    r.body = std::move(msg.body());
    r.keep_alive = msg.keep_alive() && msg.version() >= 11;
    head_request_ = msg.method() == http::verb::head;
    r.request_id = request_id_;
    r.remote_ip = remote_ip_;
    if (!server_.trusted.empty() && server_.trusted.count(remote_ip_)) {
      std::string_view xff = r.header("x-forwarded-for");
      std::string_view last = ForwardedClient(xff);
      if (!last.empty()) r.remote_ip = std::string(last);
    }
    keep_alive_ = r.keep_alive;
    // The gateway may answer on another thread; hop back to the strand.
    stream_.expires_never();
    server_.gateway.Handle(std::move(r), [self = shared_from_this()](HttpResponse resp) {
      asio::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
        self->Write(std::move(resp));
      });
    });
  }

  void Write(HttpResponse resp) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(resp.status));
    if (!resp.content_type.empty()) res->set(http::field::content_type, resp.content_type);
    res->set("X-Request-Id", request_id_);
    res->set("X-Content-Type-Options", "nosniff");
    bool has_cache_control = false;
    for (auto& [k, v] : resp.headers) {
      if (beast::iequals(k, "cache-control")) has_cache_control = true;
      res->set(k, v);
    }
    if (!has_cache_control) res->set(http::field::cache_control, "no-store");
    bool keep = keep_alive_ && !resp.close && !server_.stopping.load();
    res->keep_alive(keep);
    res->body() = std::move(resp.body);
    res->prepare_payload();
    if (head_request_) {
      // Keep Content-Length of the GET answer, send no body.
      auto len = res->body().size();
      res->body().clear();
      res->content_length(len);
    }
    SendResponse(res, keep);
  }

  void SendResponse(std::shared_ptr<http::response<http::string_body>> res, bool keep) {
    stream_.expires_after(std::chrono::seconds(server_.options.idle_timeout_s));
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (!keep) return self->LingerClose();
      self->WaitForRequest();
    });
  }

  // An answer that ends the connection (413, 400, 408, 503).
  void WriteError(int status, std::string_view code, const std::string& message, const std::string& request_id) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(status));
    res->set(http::field::content_type, "application/json");
    res->set(http::field::cache_control, "no-store");
    if (!request_id.empty()) res->set("X-Request-Id", request_id);
    res->keep_alive(false);
    res->body() = ErrorBody(code, message);
    res->prepare_payload();
    LogInfo("http rejected", {{"request_id", request_id}, {"status", status}, {"ip", remote_ip_}, {"reason", message}});
    SendResponse(res, false);
  }

  // Half-close, then read and discard whatever the client still sends (the
  // rest of a refused body), so that it gets to read our answer: closing a
  // socket with unread data makes the kernel send a reset, and a client still
  // writing its body never sees the 413. Like nginx's lingering close, this
  // is bounded: kLingerBytes in all, kLingerIdle without data, kLingerTotal
  // overall. Nothing read here is ever parsed.
  static constexpr size_t kLingerBytes = 64u << 20;
  static constexpr auto kLingerIdle = std::chrono::seconds(5);
  static constexpr auto kLingerTotal = std::chrono::seconds(30);

  void LingerClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    drained_ = 0;
    linger_until_ = std::chrono::steady_clock::now() + kLingerTotal;
    Drain();
  }

  void Drain() {
    buffer_.clear();
    auto left = linger_until_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return Close();
    stream_.expires_after(std::min<std::chrono::steady_clock::duration>(left, kLingerIdle));
    stream_.async_read_some(buffer_.prepare(65536), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kLingerBytes) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_ip_;
  std::string request_id_;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool idle_ = true;
  size_t drained_ = 0;
  std::chrono::steady_clock::time_point linger_until_;
  std::shared_ptr<void> hold_;  // this address's connection count
};

}  // namespace

void HttpServer::Impl::Track(const std::shared_ptr<Session>& s) {
  std::lock_guard<std::mutex> lock(sessions_mu);
  // Forget finished sessions as we go so the list stays short.
  if (sessions.size() > 64 && (sessions.size() & 63) == 0) {
    sessions.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
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
    auto session = std::make_shared<Session>(std::move(socket), *this);
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
