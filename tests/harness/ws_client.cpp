#include "tests/harness/ws_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

namespace gc::test {

namespace {
std::string UrlEncode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}
}  // namespace

std::string StreamTarget(const std::string& token, std::optional<int64_t> since) {
  std::string t = "/api/v1/stream?access_token=" + UrlEncode(token);
  if (since) t += "&since=" + std::to_string(*since);
  return t;
}

WsClient::WsClient(int port, const std::string& target, const HttpHeaders& headers) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
    throw std::runtime_error(std::string("connect failed: ") + strerror(errno));
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  SendRaw(req);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(deadline)) throw std::runtime_error("no handshake answer: " + buffer_);
  }
  std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  if (head.size() < 12) throw std::runtime_error("bad handshake answer: " + head);
  status_ = std::stoi(head.substr(9, 3));
  if (status_ != 101) {
    // Read the refusal's body (the server closes after it).
    size_t cl = head.find("Content-Length: ");
    size_t want = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
    while (buffer_.size() < want && Fill(deadline)) {
    }
    body_ = buffer_.substr(0, want);
    closed_ = true;
  }
}

WsClient::~WsClient() {
  if (fd_ >= 0) close(fd_);
}

bool WsClient::SendRaw(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool WsClient::SendFrame(int opcode, std::string_view payload, bool fin, bool mask) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0f));
  size_t n = payload.size();
  char mask_bit = mask ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f += static_cast<char>(mask_bit | static_cast<char>(n));
  } else if (n < 65536) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff);
  }
  if (mask) {
    unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(reinterpret_cast<char*>(key), 4);
    for (size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  } else {
    f.append(payload);
  }
  return SendRaw(f);
}

bool WsClient::SendText(std::string_view text) { return SendFrame(1, text); }

bool WsClient::Fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0) return false;
  auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return false;
  int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
  pollfd p{fd_, POLLIN, 0};
  int r = poll(&p, 1, std::max(1, ms));
  if (r <= 0) return false;
  char buf[65536];
  ssize_t n = recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  buffer_.append(buf, static_cast<size_t>(n));
  return true;
}

WsMessage WsClient::Receive(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    // Parse one frame if complete.
    if (buffer_.size() >= 2) {
      auto b = [&](size_t i) { return static_cast<unsigned char>(buffer_[i]); };
      int opcode = b(0) & 0x0f;
      uint64_t len = b(1) & 0x7f;
      size_t hdr = 2;
      bool masked = b(1) & 0x80;
      bool have = true;
      if (len == 126) {
        if (buffer_.size() < 4) have = false;
        else len = (b(2) << 8) | b(3), hdr = 4;
      } else if (len == 127) {
        if (buffer_.size() < 10) have = false;
        else {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
          hdr = 10;
        }
      }
      if (masked) hdr += 4;
      if (have && buffer_.size() >= hdr + len) {
        std::string payload = buffer_.substr(hdr, len);
        buffer_.erase(0, hdr + len);
        if (opcode == 9) {
          SendFrame(10, payload);
          continue;
        }
        if (opcode == 10) continue;
        WsMessage m;
        if (opcode == 8) {
          m.kind = WsMessage::kClose;
          if (payload.size() >= 2) {
            m.close_code = (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
            m.data = payload.substr(2);
          }
          close_code_ = m.close_code;
          closed_ = true;
          return m;
        }
        m.kind = opcode == 2 ? WsMessage::kBinary : WsMessage::kText;
        m.data = std::move(payload);
        return m;
      }
    }
    if (!Fill(deadline)) {
      WsMessage m;
      m.kind = closed_ ? WsMessage::kClose : WsMessage::kTimeout;
      return m;
    }
  }
}

std::optional<nlohmann::json> WsClient::ReceiveJson(int timeout_ms) {
  WsMessage m = Receive(timeout_ms);
  if (m.kind != WsMessage::kText) return std::nullopt;
  return nlohmann::json::parse(m.data);
}

std::optional<nlohmann::json> WsClient::WaitFor(const std::function<bool(const nlohmann::json&)>& pred,
                                                int timeout_ms, std::vector<nlohmann::json>* skipped) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto j = ReceiveJson(static_cast<int>(left.count()));
    if (!j) return std::nullopt;
    if (pred(*j)) return j;
    if (skipped) skipped->push_back(*j);
  }
}

std::vector<nlohmann::json> WsClient::Drain(int quiet_ms) {
  std::vector<nlohmann::json> out;
  while (auto j = ReceiveJson(quiet_ms)) out.push_back(*j);
  return out;
}

void WsClient::Close(int code) {
  if (!open()) return;
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xff);
  SendFrame(8, payload);
  for (int i = 0; i < 10 && !closed_; ++i) Receive(100);
}

}  // namespace gc::test
