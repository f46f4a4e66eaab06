// HttpSession, the reading side: from the first byte of a request to its
// dispatch (to the Gateway, or to the stream endpoint on an upgrade). The
// answers and the lingering close are in http_session_write.cpp.
#include "node/http/http_session.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "node/common/barrier.h"
#include "node/common/log.h"
#include "node/common/random_pool.h"
#include "node/http/gateway.h"
#include "node/http/request_head.h"
#include "node/http/upgrade_handler.h"

namespace gc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// 64 random bits in hex, pooled (a getrandom() per request was 1% of the
// node's CPU at ingest5).
std::string NewRequestId() {
  unsigned char b[8];
  PooledRandomBytes(b, sizeof b);
  char hex[2 * sizeof b + 1];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  return std::string(hex, 2 * sizeof b);
}

// The client's X-Request-Id if it is a valid one, else a new id.
template <class Req>
std::string RequestIdFrom(const Req& req) {
  auto it = req.find("x-request-id");
  if (it != req.end()) {
    std::string_view v(it->value().data(), it->value().size());
    if (ValidRequestId(v)) return std::string(v);
  }
  return NewRequestId();
}

}  // namespace

HttpSession::HttpSession(tcp::socket&& socket, HttpServer::Impl& server)
    : stream_(std::move(socket)), server_(server) {
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  remote_ip_ = ec ? "unknown" : ep.address().to_string();
}

HttpSession::~HttpSession() { server_.connections.fetch_sub(1); }

void HttpSession::Start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); });
}

void HttpSession::ShutdownIfIdle() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    if (self->idle_) {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    }
  });
}

void HttpSession::RejectBusy(const char* why) {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this(), why] {
    self->WriteError(503, "unavailable", why, "");
  });
}

// Between requests: wait for the first byte with the idle timeout. Once a
// request has begun, the whole head must arrive within the header timeout.
void HttpSession::WaitForRequest() {
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

void HttpSession::ReadHeader() {
  idle_ = false;
  upload_parser_.reset();
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

void HttpSession::OnHeader(beast::error_code ec) {
  HandlerScope scope("http request head", request_id_);
  if (ec) {
    OnReadError(ec);
    return;
  }
  auto& req = parser_->get();
  std::string_view method(req.method_string().data(), req.method_string().size());
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  size_t limit = server_.gateway.BodyLimit(method, path);
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
  bool expect_continue = beast::iequals(req[http::field::expect], "100-continue");
  if (server_.gateway.BodyToFile(method, path)) {
    // Every such route needs a valid token: it is checked from the head, so
    // a request with a missing or wrong one is refused before its body
    // costs the node any disk, and gets no 100 Continue. The 401 ends the
    // connection with the bounded lingering close, like a 413.
    std::string authorization(req[http::field::authorization]);
    server_.gateway.CheckTokenBeforeBody(
        authorization, [self = shared_from_this(), limit, expect_continue](std::optional<Error> refused) {
          asio::post(self->stream_.get_executor(), [self, limit, expect_continue, refused = std::move(refused)] {
            if (refused) {
              bool unauthorized = refused->code == ErrorCode::kUnauthorized;
              return self->WriteError(unauthorized ? 401 : 503, unauthorized ? "unauthorized" : "unavailable",
                                      refused->message, self->request_id_);
            }
            if (self->ReadBodyToFile(limit)) self->StartBody(expect_continue);
          });
        });
    return;
  }
  StartBody(expect_continue);
}

void HttpSession::StartBody(bool expect_continue) {
  if (expect_continue) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_.socket(), asio::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->ReadBody();
    });
    return;
  }
  ReadBody();
}

bool HttpSession::ReadBodyToFile(size_t limit) {
  auto file = std::make_shared<UploadedFile>();
  if (!server_.options.upload_dir.empty()) {
    std::string tmpl = server_.options.upload_dir + "/upload-XXXXXX";
    int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd >= 0) {
      file->fd = fd;
      file->path = tmpl;
    } else {
      LogError("cannot create an upload file", {{"dir", server_.options.upload_dir}, {"error", strerror(errno)}});
    }
  }
  if (file->fd < 0) {
    WriteError(503, "unavailable", "uploads cannot be stored right now", request_id_);
    return false;
  }
  upload_parser_.emplace(std::move(*parser_));
  parser_.reset();
  upload_parser_->body_limit(limit);
  upload_parser_->get().body().file = std::move(file);
  return true;
}

void HttpSession::ReadBody() {
  stream_.expires_after(std::chrono::seconds(server_.options.idle_timeout_s));
  if (upload_parser_) {
    http::async_read(stream_, buffer_, *upload_parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnRequest();
    });
    return;
  }
  http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return self->OnReadError(ec);
    self->OnRequest();
  });
}

void HttpSession::OnReadError(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::operation_aborted) {
    Close();
  } else if (ec == beast::error::timeout) {
    // A request started but did not finish in time (slowloris). The stream
    // has already closed the socket, so there is no one to answer.
    LogInfo("http request timed out", {{"ip", remote_ip_}});
    Close();
  } else if (ec.category() == boost::system::generic_category()) {
    // Writing an upload to disk failed (disk full, quota): the body was not
    // stored; the rest of it is drained, never parsed.
    LogError("upload write failed", {{"request_id", request_id_}, {"error", ec.message()}});
    WriteError(503, "unavailable", "the upload could not be written to disk: " + ec.message(), request_id_);
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

void HttpSession::OnRequest() {
  HandlerScope scope("http request", request_id_);
  if (upload_parser_) {
    auto msg = upload_parser_->release();
    upload_parser_.reset();
    HttpRequest r;
    r.upload = std::move(msg.body().file);
    return Dispatch(msg, std::move(r));
  }
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
  r.body = std::move(msg.body());
  Dispatch(msg, std::move(r));
}

template <class Msg>
void HttpSession::Dispatch(Msg& msg, HttpRequest r) {
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  SplitTarget(r.target, &r.path, &r.query);
  r.headers.reserve(8);
  for (const auto& f : msg) r.headers.emplace_back(LowerHeaderName(f.name_string()), std::string(f.value()));
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

}  // namespace gc
