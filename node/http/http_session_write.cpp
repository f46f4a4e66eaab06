// HttpSession, the writing side: an answer's status line and headers, its
// body (in memory or streamed from a file), and the end of a connection.
//
// The lingering close: after an answer that ends the connection, half-close,
// then read and discard whatever the client still sends (the rest of a
// refused body), so that it gets to read our answer: closing a socket with
// unread data makes the kernel send a reset, and a client still writing its
// body never sees the 413. Like nginx's lingering close, it is bounded:
// kLingerBytes in all, kLingerIdle without data, kLingerTotal overall.
// Nothing read here is ever parsed.
#include <array>

#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/write.hpp>

#include "node/common/log.h"
#include "node/http/http_session.h"
#include "node/http/http_types.h"

namespace gc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr size_t kLingerBytes = 64u << 20;
constexpr auto kLingerIdle = std::chrono::seconds(5);
constexpr auto kLingerTotal = std::chrono::seconds(30);
}  // namespace

// Status line and headers common to every answer; true if the connection
// stays open after it.
template <class Res>
bool HttpSession::FillHead(Res& res, HttpResponse& resp) {
  res.version(11);
  res.result(static_cast<unsigned>(resp.status));
  if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
  res.set("X-Request-Id", request_id_);
  res.set("X-Content-Type-Options", "nosniff");
  bool has_cache_control = false;
  for (auto& [k, v] : resp.headers) {
    if (beast::iequals(k, "cache-control")) has_cache_control = true;
    res.set(k, v);
  }
  if (!has_cache_control) res.set(http::field::cache_control, "no-store");
  bool keep = keep_alive_ && !resp.close && !server_.stopping.load();
  res.keep_alive(keep);
  return keep;
}

void HttpSession::Write(HttpResponse resp) {
  if (resp.file) {
    if (head_request_) {
      auto res = std::make_shared<http::response<http::empty_body>>();
      bool keep = FillHead(*res, resp);
      res->content_length(resp.file->length);
      return SendResponse(res, keep);
    }
    auto res = std::make_shared<http::response<FileRangeBody>>();
    bool keep = FillHead(*res, resp);
    res->body() = std::move(resp.file);
    res->prepare_payload();
    return SendResponse(res, keep);
  }
  bool bodiless_status = resp.status < 200 || resp.status == 204 || resp.status == 304;
  if (resp.headers.empty() && !(bodiless_status && !resp.body.empty())) return WritePlain(std::move(resp));
  auto res = std::make_shared<http::response<http::string_body>>();
  bool keep = FillHead(*res, resp);
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

// The usual answer (a JSON body in memory, no headers of its own) without
// Beast's serializer: the head FillHead would make, in the same order (the
// serializer's field list, per-answer allocations and buffer views were
// half of the node's CPU for writing an answer at ingest5), then the head
// and the body in one gathered write.
void HttpSession::WritePlain(HttpResponse resp) {
  bool keep = keep_alive_ && !resp.close && !server_.stopping.load();
  size_t length = resp.body.size();
  if (head_request_) resp.body.clear();  // Content-Length of the GET answer, no body
  std::string& head = out_head_;
  head.clear();
  auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(resp.status)));
  head += "HTTP/1.1 ";
  head += std::to_string(resp.status);
  head += ' ';
  head.append(reason.data(), reason.size());
  head += "\r\n";
  if (!resp.content_type.empty()) {
    head += "Content-Type: ";
    head += resp.content_type;
    head += "\r\n";
  }
  head += "X-Request-Id: ";
  head += request_id_;
  head += "\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";
  if (!keep) head += "Connection: close\r\n";
  head += "Content-Length: ";
  head += std::to_string(length);
  head += "\r\n\r\n";
  out_body_ = std::move(resp.body);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(out_head_), asio::buffer(out_body_)};
  stream_.expires_after(std::chrono::seconds(server_.options.idle_timeout_s));
  asio::async_write(stream_, buffers, [self = shared_from_this(), keep](beast::error_code ec, size_t) {
    if (ec) return self->Close();
    if (!keep) return self->LingerClose();
    self->WaitForRequest();
  });
}

template <class Res>
void HttpSession::SendResponse(std::shared_ptr<Res> res, bool keep) {
  stream_.expires_after(std::chrono::seconds(server_.options.idle_timeout_s));
  http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, size_t) {
    if (ec) return self->Close();
    if (!keep) return self->LingerClose();
    self->WaitForRequest();
  });
}

void HttpSession::WriteError(int status, std::string_view code, const std::string& message,
                             const std::string& request_id) {
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

void HttpSession::LingerClose() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  drained_ = 0;
  linger_until_ = std::chrono::steady_clock::now() + kLingerTotal;
  Drain();
}

void HttpSession::Drain() {
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

void HttpSession::Close() {
  beast::error_code ec;
  stream_.socket().close(ec);
}

}  // namespace gc
