// HttpSession: one client connection of the HttpServer, from its first byte
// to its close. All its handlers run on its strand.
//
// Requests on a connection are read and answered strictly one after another
// (keep-alive, pipelining: responses keep their order). Between requests the
// session waits with the idle timeout; once a request has begun, its head
// must arrive within the header timeout. The route's body limit is checked
// against Content-Length before any body byte is read; a body_to_file route
// reads its body into an UploadBody (file_bodies.h). A WebSocket upgrade of
// /api/v1/stream is handed, with the socket and the address's connection
// hold, to the UpgradeHandler. Everything else goes to the Gateway, whose
// answer may come from another thread and is posted back to the strand.
//
// After an answer that ends the connection (413, 400, 431, 503, or
// Connection: close) the session closes with a bounded lingering close: the
// rest of a refused body is read and discarded, never parsed as requests
// (the request smuggling Pistache allowed: ARCHITECTURE.md).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "node/http/file_bodies.h"
#include "node/http/http_server_impl.h"

namespace gc {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, HttpServer::Impl& server);
  ~HttpSession();

  void Start();
  // Called on shutdown: close now if between requests, else after the answer.
  void ShutdownIfIdle();
  // Rejects a connection over a limit with a 503 and closes it.
  void RejectBusy(const char* why);

  const std::string& remote_ip() const { return remote_ip_; }
  void set_hold(std::shared_ptr<void> h) { hold_ = std::move(h); }

 private:
  using error_code = boost::beast::error_code;

  // Reading (http_session.cpp).
  void WaitForRequest();
  void ReadHeader();
  void OnHeader(error_code ec);
  // A body_to_file route whose token was accepted: the same head, a body
  // that goes to a new file in upload_dir. False if it answered (no file)
  // instead.
  bool ReadBodyToFile(size_t limit);
  // Reads the body, after a 100 Continue if the client asked for one.
  void StartBody(bool expect_continue);
  void ReadBody();
  void OnReadError(error_code ec);
  void OnRequest();
  template <class Msg>
  void Dispatch(Msg& msg, HttpRequest r);

  // Writing and closing (http_session_write.cpp).
  template <class Res>
  bool FillHead(Res& res, HttpResponse& resp);
  void Write(HttpResponse resp);
  // Write for an in-memory body with no headers of its own (most answers).
  void WritePlain(HttpResponse resp);
  template <class Res>
  void SendResponse(std::shared_ptr<Res> res, bool keep);
  // An answer that ends the connection (413, 400, 431, 503).
  void WriteError(int status, std::string_view code, const std::string& message, const std::string& request_id);
  void LingerClose();
  void Drain();
  void Close();

  boost::beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<boost::beast::http::request_parser<UploadBody>> upload_parser_;  // a body_to_file request
  std::string remote_ip_;
  std::string request_id_;
  std::string out_head_, out_body_;  // WritePlain's answer while it is written
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool idle_ = true;
  size_t drained_ = 0;
  std::chrono::steady_clock::time_point linger_until_;
  std::shared_ptr<void> hold_;  // this address's connection count
};

}  // namespace gc
