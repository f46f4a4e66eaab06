// Blocking HTTP/1.1 clients for black-box tests of a node on 127.0.0.1.
//
// HttpClient speaks well-formed HTTP over one keep-alive connection, like a
// simple API client. RawConnection sends arbitrary bytes and reads whatever
// comes back, for malformed requests, pipelining and request smuggling tests.
// Both are plain POSIX sockets on purpose: Beast would cost every test binary
// seconds of compile time, and an independent client catches bugs that a
// client sharing the server's parser would not.
//
// Not thread-safe: use one client per thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gc::test {

struct HttpResponse {
  int status = 0;
  std::string reason;   // e.g. "OK"
  std::string version;  // e.g. "HTTP/1.1"
  // Lowercase names; a repeated header's values are joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;  // decoded (chunked framing removed)

  // Parses the body; throws nlohmann::json::parse_error if it is not JSON.
  nlohmann::json json() const;
  // The value of header `name` (any case), or "" if absent.
  std::string header(std::string_view name) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  // Does not connect yet; the first request does.
  explicit HttpClient(int port);
  ~HttpClient();
  HttpClient(HttpClient&& other) noexcept;
  HttpClient& operator=(HttpClient&& other) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its response (interim 1xx responses other
  // than 101 are skipped). Adds Host; Content-Length when `body` is non-empty
  // or the method is POST, PUT or PATCH; Content-Type: application/json when
  // `body` is non-empty. A header given in `headers` (any case) replaces the
  // added one. Any status is returned, not thrown.
  //
  // Throws std::runtime_error when the connection fails, the response is
  // malformed, the server closes the connection or resets it before a full
  // response, or no full response arrives within timeout(). A request on a
  // reused keep-alive connection that the server had closed meanwhile (no
  // response byte received) is retried once on a new connection; a request on
  // a fresh connection never is. The connection is closed after a response
  // that says `Connection: close` or whose body ends at EOF.
  HttpResponse Request(std::string_view method, std::string_view path, std::string_view body = {},
                       const HttpHeaders& headers = {});

  // JSON API shorthands: `token` non-empty adds "Authorization: Bearer TOKEN".
  // A null `body` (what `{}` converts to) sends no body; send an empty object
  // with nlohmann::json::object().
  HttpResponse Get(std::string_view path, std::string_view token = {});
  HttpResponse Post(std::string_view path, const nlohmann::json& body = nullptr,
                    std::string_view token = {});
  HttpResponse Put(std::string_view path, const nlohmann::json& body = nullptr,
                   std::string_view token = {});
  HttpResponse Patch(std::string_view path, const nlohmann::json& body = nullptr,
                     std::string_view token = {});
  HttpResponse Delete(std::string_view path, std::string_view token = {});
  // A non-JSON body, e.g. a media upload.
  HttpResponse PostRaw(std::string_view path, std::string_view body, std::string_view content_type,
                       std::string_view token = {});

  // Whole-exchange limit for one request (send + full response); default 10 s.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Drops the keep-alive connection; the next request opens a new one.
  void Close();
  int port() const { return port_; }
  // Connections opened so far: lets tests check that keep-alive works.
  int connections_opened() const { return connections_opened_; }

 private:
  int port_;
  int fd_ = -1;
  std::string buffer_;  // bytes received but not yet consumed
  std::chrono::milliseconds timeout_{10000};
  int connections_opened_ = 0;
};

class RawConnection {
 public:
  // Connects at once; throws std::runtime_error if the connection is refused.
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&& other) noexcept;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends all of `bytes`. Returns false if the peer has closed or reset the
  // connection (a normal outcome when testing rejection); throws
  // std::runtime_error on other errors or if the peer stops reading for 10 s.
  bool Send(std::string_view bytes);
  // Half-closes: the peer sees EOF on its read side.
  void ShutdownWrite();

  // Returns bytes that already arrived, or else waits up to `timeout_ms` for
  // some. "" means nothing arrived (timeout or the peer closed; see closed()).
  std::string ReadSome(int timeout_ms);
  // Everything until the peer closes or resets, or the timeout passes.
  std::string ReadUntilClosed(int timeout_ms);
  // True if EOF or RST is observed within `timeout_ms`. Bytes read while
  // waiting stay buffered for the Read* calls.
  bool PeerClosed(int timeout_ms);
  // Parses up to `n` consecutive responses (pipelining), waiting at most
  // `timeout_ms` overall. Returns fewer when the time runs out or the peer
  // closes first, so tests can assert on the count. `head`: responses to HEAD
  // requests (no bodies). Throws std::runtime_error on malformed responses.
  std::vector<HttpResponse> ReadResponses(size_t n, int timeout_ms, bool head = false);

  // EOF or RST has been observed.
  bool closed() const { return closed_; }

 private:
  // Reads once, waiting until `deadline`; returns false on timeout or close.
  bool Fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;  // received, not yet returned
  bool closed_ = false;
};

}  // namespace gc::test
