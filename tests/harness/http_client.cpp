#include "tests/harness/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace gc::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeadBytes = 1 << 20;  // a node never sends a head this large
constexpr std::chrono::seconds kSocketTimeout{10};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True if the comma-separated header value has `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  std::string lower = Lower(value);
  std::string_view rest = lower;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (Trim(rest.substr(0, comma)) == token) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

int MillisUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

void SetTimeouts(int fd) {
  // poll() with a deadline guards every read; these bound a blocked send and
  // back up the reads in case someone calls recv directly.
  timeval tv{};
  tv.tv_sec = kSocketTimeout.count();
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SetTimeouts(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " +
                             std::strerror(err));
  }
  return fd;
}

enum class ReadResult { kData, kEof, kReset, kTimeout };

// Appends what one recv returns, waiting for data until `deadline`.
ReadResult ReadInto(int fd, std::string& buf, Clock::time_point deadline) {
  char chunk[65536];
  for (;;) {
    int wait_ms = MillisUntil(deadline);
    pollfd pfd{fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, wait_ms);
    if (ready < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    if (ready <= 0) {
      if (wait_ms == 0) return ReadResult::kTimeout;
      continue;  // EINTR or a spurious wakeup: the deadline bounds the loop
    }
    ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      return ReadResult::kData;
    }
    if (n == 0) return ReadResult::kEof;
    if (errno == ECONNRESET || errno == EPIPE) return ReadResult::kReset;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
    throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
  }
}

// Sends everything; false if the peer closed or reset the connection.
bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      throw std::runtime_error("send: the peer stopped reading (timed out)");
    }
    throw std::runtime_error(std::string("send: ") + std::strerror(errno));
  }
  return true;
}

// A kept-alive connection the server closed while idle shows EOF (or RST, or
// stray bytes such as a 408) before we send anything.
bool StaleConnection(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  return true;
}

enum class Parse { kNeedMore, kDone };

// Parses one response from the front of `buf`; on kDone removes it from
// `buf`. `eof`: no more bytes will arrive, which completes a body delimited
// by the connection closing. Throws std::runtime_error on malformed input.
Parse ParseResponse(std::string& buf, bool eof, bool head, HttpResponse* out, bool* close_after) {
  size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (buf.size() > kMaxHeadBytes) throw std::runtime_error("response head too large");
    return Parse::kNeedMore;
  }
  HttpResponse r;
  std::string_view head_text(buf.data(), head_end);
  size_t line_end = head_text.find("\r\n");
  std::string_view status_line = head_text.substr(0, line_end);
  // HTTP-version SP 3DIGIT SP reason
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11]))) {
    throw std::runtime_error("malformed status line: " + std::string(status_line.substr(0, 200)));
  }
  r.version = std::string(status_line.substr(0, 8));
  r.status = std::stoi(std::string(status_line.substr(9, 3)));
  if (status_line.size() > 13) r.reason = std::string(status_line.substr(13));

  std::string_view rest =
      line_end == std::string_view::npos ? std::string_view{} : head_text.substr(line_end + 2);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw std::runtime_error("malformed header line: " + std::string(line.substr(0, 200)));
    }
    std::string name = Lower(line.substr(0, colon));
    std::string value(Trim(line.substr(colon + 1)));
    auto [it, inserted] = r.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }

  bool close = HasToken(r.header("connection"), "close") ||
               (r.version == "HTTP/1.0" && !HasToken(r.header("connection"), "keep-alive"));
  size_t body_start = head_end + 4;
  size_t consumed = 0;
  bool no_body = head || (r.status >= 100 && r.status < 200) || r.status == 204 || r.status == 304;
  std::string te = r.header("transfer-encoding");
  if (no_body) {
    consumed = body_start;
  } else if (!te.empty()) {
    if (!HasToken(te, "chunked")) throw std::runtime_error("unsupported transfer-encoding: " + te);
    size_t pos = body_start;
    std::string body;
    for (;;) {
      size_t eol = buf.find("\r\n", pos);
      if (eol == std::string::npos) return Parse::kNeedMore;
      std::string size_text(Trim(std::string_view(buf).substr(pos, eol - pos)));
      size_text = size_text.substr(0, size_text.find(';'));  // drop chunk extensions
      if (size_text.empty() || size_text.size() > 15 ||
          !std::all_of(size_text.begin(), size_text.end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
        throw std::runtime_error("malformed chunk size: " + size_text.substr(0, 40));
      }
      size_t size = std::stoull(size_text, nullptr, 16);
      pos = eol + 2;
      if (size == 0) {
        // Trailer fields, then an empty line.
        if (buf.compare(pos, 2, "\r\n") == 0) {
          consumed = pos + 2;
        } else {
          size_t trailers_end = buf.find("\r\n\r\n", pos);
          if (trailers_end == std::string::npos) return Parse::kNeedMore;
          consumed = trailers_end + 4;
        }
        break;
      }
      if (buf.size() < pos + size + 2) return Parse::kNeedMore;
      if (buf.compare(pos + size, 2, "\r\n") != 0) {
        throw std::runtime_error("chunk data not followed by CRLF");
      }
      body.append(buf, pos, size);
      pos += size + 2;
    }
    r.body = std::move(body);
  } else if (std::string cl = r.header("content-length"); !cl.empty()) {
    if (cl.size() > 15 || !std::all_of(cl.begin(), cl.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      throw std::runtime_error("malformed content-length: " + cl.substr(0, 40));
    }
    size_t length = std::stoull(cl);
    if (buf.size() < body_start + length) return Parse::kNeedMore;
    r.body = buf.substr(body_start, length);
    consumed = body_start + length;
  } else {
    // No framing: the body runs until the server closes the connection.
    if (!eof) return Parse::kNeedMore;
    r.body = buf.substr(body_start);
    consumed = buf.size();
    close = true;
  }
  buf.erase(0, consumed);
  *out = std::move(r);
  *close_after = close;
  return Parse::kDone;
}

bool HasHeader(const HttpHeaders& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return Lower(h.first) == name; });
}

HttpHeaders WithToken(std::string_view token, HttpHeaders headers = {}) {
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + std::string(token));
  return headers;
}

}  // namespace

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body); }

std::string HttpResponse::header(std::string_view name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(int port) : port_(port) {}

HttpClient::~HttpClient() { Close(); }

HttpClient::HttpClient(HttpClient&& other) noexcept
    : port_(other.port_),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      timeout_(other.timeout_),
      connections_opened_(other.connections_opened_) {}

HttpClient& HttpClient::operator=(HttpClient&& other) noexcept {
  if (this != &other) {
    Close();
    port_ = other.port_;
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    timeout_ = other.timeout_;
    connections_opened_ = other.connections_opened_;
  }
  return *this;
}

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

HttpResponse HttpClient::Request(std::string_view method, std::string_view path,
                                 std::string_view body, const HttpHeaders& headers) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  if (!HasHeader(headers, "host")) request += "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  bool method_has_body = method == "POST" || method == "PUT" || method == "PATCH";
  if (!body.empty() && !HasHeader(headers, "content-type")) {
    request += "Content-Type: application/json\r\n";
  }
  if ((!body.empty() || method_has_body) && !HasHeader(headers, "content-length") &&
      !HasHeader(headers, "transfer-encoding")) {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request.append(body);
  bool head = method == "HEAD";

  for (int attempt = 0;; ++attempt) {
    bool reused = fd_ >= 0;
    if (reused && StaleConnection(fd_)) {
      Close();
      reused = false;
    }
    if (fd_ < 0) {
      fd_ = ConnectLoopback(port_);
      ++connections_opened_;
    }
    buffer_.clear();
    auto deadline = Clock::now() + timeout_;
    // A failed send is not final: the server may have answered early (413)
    // before closing, so read whatever it sent.
    bool sent = SendAll(fd_, request);
    std::string failure;
    for (;;) {
      HttpResponse response;
      bool close_after = false;
      if (ParseResponse(buffer_, false, head, &response, &close_after) == Parse::kDone) {
        if (response.status >= 100 && response.status < 200 && response.status != 101) continue;
        // After 101 the connection speaks another protocol; never reuse it.
        if (close_after || response.status == 101) Close();
        return response;
      }
      ReadResult result = ReadInto(fd_, buffer_, deadline);
      if (result == ReadResult::kData) continue;
      if (result == ReadResult::kTimeout) {
        Close();
        throw std::runtime_error(std::string(method) + " " + std::string(path) +
                                 ": no complete response within " +
                                 std::to_string(timeout_.count()) + " ms");
      }
      if (result == ReadResult::kEof &&
          ParseResponse(buffer_, true, head, &response, &close_after) == Parse::kDone) {
        Close();
        return response;
      }
      failure = result == ReadResult::kEof ? "connection closed" : "connection reset";
      if (!sent) failure += " while sending";
      break;
    }
    bool nothing_received = buffer_.empty();
    size_t partial = buffer_.size();
    Close();
    if (reused && nothing_received && attempt == 0) continue;
    throw std::runtime_error(std::string(method) + " " + std::string(path) + ": " + failure +
                             " before a complete response (" + std::to_string(partial) +
                             " bytes received)");
  }
}

HttpResponse HttpClient::Get(std::string_view path, std::string_view token) {
  return Request("GET", path, {}, WithToken(token));
}

HttpResponse HttpClient::Post(std::string_view path, const nlohmann::json& body,
                              std::string_view token) {
  return Request("POST", path, body.is_null() ? std::string() : body.dump(), WithToken(token));
}

HttpResponse HttpClient::Put(std::string_view path, const nlohmann::json& body,
                             std::string_view token) {
  return Request("PUT", path, body.is_null() ? std::string() : body.dump(), WithToken(token));
}

HttpResponse HttpClient::Patch(std::string_view path, const nlohmann::json& body,
                               std::string_view token) {
  return Request("PATCH", path, body.is_null() ? std::string() : body.dump(), WithToken(token));
}

HttpResponse HttpClient::Delete(std::string_view path, std::string_view token) {
  return Request("DELETE", path, {}, WithToken(token));
}

HttpResponse HttpClient::PostRaw(std::string_view path, std::string_view body,
                                 std::string_view content_type, std::string_view token) {
  return Request("POST", path, body, WithToken(token, {{"Content-Type", std::string(content_type)}}));
}

RawConnection::RawConnection(int port) : fd_(ConnectLoopback(port)) {}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      closed_(other.closed_) {}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    closed_ = other.closed_;
  }
  return *this;
}

bool RawConnection::Send(std::string_view bytes) {
  if (!SendAll(fd_, bytes)) {
    closed_ = true;
    return false;
  }
  return true;
}

void RawConnection::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

bool RawConnection::Fill(Clock::time_point deadline) {
  if (closed_) return false;
  ReadResult result = ReadInto(fd_, buffer_, deadline);
  if (result == ReadResult::kEof || result == ReadResult::kReset) closed_ = true;
  return result == ReadResult::kData;
}

std::string RawConnection::ReadSome(int timeout_ms) {
  if (buffer_.empty()) Fill(Clock::now() + std::chrono::milliseconds(timeout_ms));
  return std::exchange(buffer_, {});
}

std::string RawConnection::ReadUntilClosed(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Fill(deadline)) {
  }
  return std::exchange(buffer_, {});
}

bool RawConnection::PeerClosed(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Fill(deadline)) {
  }
  return closed_;
}

std::vector<HttpResponse> RawConnection::ReadResponses(size_t n, int timeout_ms, bool head) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<HttpResponse> responses;
  while (responses.size() < n) {
    HttpResponse response;
    bool close_after = false;
    if (ParseResponse(buffer_, closed_, head, &response, &close_after) == Parse::kDone) {
      responses.push_back(std::move(response));
      continue;
    }
    if (closed_) break;
    if (!Fill(deadline) && !closed_) break;  // timed out
  }
  return responses;
}

}  // namespace gc::test
