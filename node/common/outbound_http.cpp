#include "node/common/outbound_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace gc {

namespace {

using Clock = std::chrono::steady_clock;

bool InV4(uint32_t a, uint32_t net, int bits) {
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (a & mask) == (net & mask);
}

bool PublicV4(uint32_t a) {
  static const struct {
    uint32_t net;
    int bits;
  } kNotPublic[] = {
      {0x00000000, 8},   // 0.0.0.0/8 "this network"
      {0x0A000000, 8},   // 10/8 private
      {0x64400000, 10},  // 100.64/10 shared (CGNAT)
      {0x7F000000, 8},   // 127/8 loopback
      {0xA9FE0000, 16},  // 169.254/16 link-local (cloud metadata lives here)
      {0xAC100000, 12},  // 172.16/12 private
      {0xC0000000, 24},  // 192.0.0/24 protocol assignments
      {0xC0000200, 24},  // 192.0.2/24 documentation
      {0xC0A80000, 16},  // 192.168/16 private
      {0xC6120000, 15},  // 198.18/15 benchmarking
      {0xC6336400, 24},  // 198.51.100/24 documentation
      {0xCB007100, 24},  // 203.0.113/24 documentation
      {0xE0000000, 4},   // 224/4 multicast
      {0xF0000000, 4},   // 240/4 reserved, and broadcast
  };
  for (const auto& r : kNotPublic) {
    if (InV4(a, r.net, r.bits)) return false;
  }
  return true;
}

// One connection with a deadline for everything done on it.
class Exchange {
 public:
  explicit Exchange(Clock::time_point deadline) : deadline_(deadline) {}
  ~Exchange() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }

  Status Connect(const sockaddr* addr, socklen_t len, const std::string& what) {
    fd_ = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return Error::Unavailable("socket failed");
    if (connect(fd_, addr, len) != 0 && errno != EINPROGRESS) return Error::Unavailable("cannot connect to " + what);
    if (!Wait(POLLOUT)) return Error::Unavailable("no connection to " + what + " in time");
    int err = 0;
    socklen_t elen = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err != 0) return Error::Unavailable("cannot connect to " + what);
    return OkStatus();
  }

  Status StartTls(const std::string& host, const std::string& what) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return Error::Internal("TLS unavailable");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_default_verify_paths(ctx_);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    SSL_set1_host(ssl_, host.c_str());
    while (true) {
      int rc = SSL_connect(ssl_);
      if (rc == 1) return OkStatus();
      int e = SSL_get_error(ssl_, rc);
      if ((e == SSL_ERROR_WANT_READ && Wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && Wait(POLLOUT))) continue;
      long v = SSL_get_verify_result(ssl_);
      return Error::Unavailable("TLS with " + what + " failed" +
                                (v != X509_V_OK ? std::string(": ") + X509_verify_cert_error_string(v) : ""));
    }
  }

  bool WriteAll(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n;
      if (ssl_) {
        int rc = SSL_write(ssl_, data.data() + sent, static_cast<int>(data.size() - sent));
        if (rc <= 0) {
          int e = SSL_get_error(ssl_, rc);
          if ((e == SSL_ERROR_WANT_READ && Wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && Wait(POLLOUT))) continue;
          return false;
        }
        n = rc;
      } else {
        n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && Wait(POLLOUT)) continue;
        if (n <= 0) return false;
      }
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the peer closes, the cap or the deadline; false on the
  // deadline or an error.
  bool ReadAll(std::string* out, size_t cap) {
    char buf[8192];
    while (out->size() < cap) {
      ssize_t n;
      if (ssl_) {
        int rc = SSL_read(ssl_, buf, sizeof buf);
        if (rc <= 0) {
          int e = SSL_get_error(ssl_, rc);
          if (e == SSL_ERROR_ZERO_RETURN) return true;
          if ((e == SSL_ERROR_WANT_READ && Wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && Wait(POLLOUT))) continue;
          return e == SSL_ERROR_SYSCALL && !out->empty();  // closed without close_notify
        }
        n = rc;
      } else {
        n = recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && Wait(POLLIN)) continue;
        if (n == 0) return true;
        if (n < 0) return false;
      }
      out->append(buf, static_cast<size_t>(std::min<size_t>(static_cast<size_t>(n), cap - out->size())));
    }
    return true;
  }

 private:
  // Waits for `events` until the deadline.
  bool Wait(short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, events, 0};
    int rc;
    do {
      rc = poll(&p, 1, static_cast<int>(left));
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
  }

  Clock::time_point deadline_;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace

bool IsPublicAddress(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    return PublicV4(ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr));
  }
  if (addr->sa_family != AF_INET6) return false;
  const unsigned char* b = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
  static const unsigned char kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (memcmp(b, kV4Mapped, 12) == 0 || memcmp(b, kNat64, 12) == 0) {
    uint32_t v4 = (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
    return PublicV4(v4);
  }
  bool zero_prefix = true;  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
  for (int i = 0; i < 12; ++i) zero_prefix = zero_prefix && b[i] == 0;
  if (zero_prefix) return false;
  if ((b[0] & 0xfe) == 0xfc) return false;                  // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;  // fe80::/10 link-local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return false;  // fec0::/10 site-local (deprecated)
  if (b[0] == 0xff) return false;                           // multicast
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // 2001:db8::/32 documentation
  if (b[0] == 0x20 && b[1] == 0x02) return false;  // 6to4 can embed any IPv4 address
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return false;  // Teredo, likewise
  return true;
}

Result<std::vector<std::pair<sockaddr_storage, socklen_t>>> ResolveAllowed(const std::string& host,
                                                                           const std::string& port,
                                                                           const OutboundPolicy& policy) {
  // getaddrinfo has no deadline of its own; the system resolver's timeouts
  // bound it (resolv.conf), and the callers run on threads of their own.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
    return Error::Unavailable("cannot resolve " + host);
  }
  std::vector<std::pair<sockaddr_storage, socklen_t>> addrs;
  bool refused = false;
  for (addrinfo* a = res; a; a = a->ai_next) {
    if (!policy.allow_private && !IsPublicAddress(a->ai_addr)) refused = true;
    sockaddr_storage ss{};
    memcpy(&ss, a->ai_addr, a->ai_addrlen);
    addrs.emplace_back(ss, a->ai_addrlen);
  }
  freeaddrinfo(res);
  // A name with any non-public address is refused whole: a mix is how a
  // rebinding attack would look.
  if (refused) return Error::Unavailable(host + " resolves to an address that is not public");
  return addrs;
}

const char* TrustedCaFile() {
  const char* file = std::getenv("SSL_CERT_FILE");
  return file && *file ? file : nullptr;
}

Result<std::string> HttpFetch(const std::string& base_url, const std::string& path, const OutboundPolicy& policy,
                              const std::string* post_body) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(policy.deadline_ms);
  bool tls = base_url.rfind("https://", 0) == 0;
  if (!tls && base_url.rfind("http://", 0) != 0) return Error::Unavailable("not an http(s) URL: " + base_url);
  std::string hostport = base_url.substr(tls ? 8 : 7);
  if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  std::string host = hostport, port = tls ? "443" : "80";
  if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
    auto close = hostport.find(']');
    if (close == std::string::npos) return Error::Unavailable("malformed host in " + base_url);
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
  } else if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return Error::Unavailable("malformed host in " + base_url);
  }
  auto resolved = ResolveAllowed(host, port, policy);
  if (!resolved.ok()) return resolved.error();
  const auto& addrs = *resolved;

  std::unique_ptr<Exchange> x;
  Status connected = Error::Unavailable("cannot connect to " + hostport);
  for (const auto& [ss, len] : addrs) {
    auto attempt = std::make_unique<Exchange>(deadline);
    connected = attempt->Connect(reinterpret_cast<const sockaddr*>(&ss), len, hostport);
    if (connected.ok()) {
      x = std::move(attempt);
      break;
    }
  }
  if (!x) return connected.error();
  if (tls) GC_TRY(x->StartTls(host, hostport));

  std::string req = std::string(post_body ? "POST " : "GET ") + path + " HTTP/1.1\r\nHost: " + hostport +
                    "\r\nConnection: close\r\nAccept: application/json\r\n";
  if (post_body) {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(post_body->size()) + "\r\n\r\n" +
           *post_body;
  } else {
    req += "\r\n";
  }
  if (!x->WriteAll(req)) return Error::Unavailable("cannot send to " + hostport);
  std::string resp;
  bool complete = x->ReadAll(&resp, kMaxAnswerBytes + 4096);
  auto head_end = resp.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return Error::Unavailable(hostport + path + (complete ? " gave no answer" : " did not answer in time"));
  }
  std::string status = resp.substr(0, resp.find("\r\n"));
  if (status.rfind("HTTP/1.1 403", 0) == 0 || status.rfind("HTTP/1.0 403", 0) == 0) {
    return Error::Forbidden(hostport + " refused: " + resp.substr(head_end + 4, 300));
  }
  // No redirects: anything but 200 is a failure.
  if (status.rfind("HTTP/1.1 200", 0) != 0 && status.rfind("HTTP/1.0 200", 0) != 0) {
    return Error::Unavailable(hostport + path + " answered " + status.substr(0, 100));
  }
  std::string head = resp.substr(0, head_end);
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    return Error::Unavailable("chunked answers are not supported");
  }
  std::string body = resp.substr(head_end + 4);
  if (!complete) return Error::Unavailable(hostport + path + " did not finish its answer in time");
  if (body.size() > kMaxAnswerBytes) return Error::Unavailable(hostport + path + " answered more than 64 KiB");
  return body;
}

}  // namespace gc
