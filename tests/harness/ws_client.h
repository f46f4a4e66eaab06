// A small blocking WebSocket client over POSIX sockets (RFC 6455, client
// side), for stream tests. It can also send what a real client never would:
// raw bytes, unmasked, oversized or binary frames.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/harness/http_client.h"

namespace gc::test {

struct WsMessage {
  enum Kind { kText, kBinary, kClose, kTimeout, kError } kind = kError;
  std::string data;     // payload (text/binary) or close reason
  int close_code = 0;   // for kClose
};

class WsClient {
 public:
  // Connects to 127.0.0.1:port and sends the upgrade request for `target`
  // (path and query). status() is 101 when the stream is open, else the HTTP
  // status of the refusal, with body().
  WsClient(int port, const std::string& target, const HttpHeaders& headers = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  int status() const { return status_; }
  const std::string& body() const { return body_; }
  bool open() const { return fd_ >= 0 && status_ == 101 && !closed_; }

  bool SendText(std::string_view text);
  // opcode: 1 text, 2 binary, 8 close, 9 ping, 10 pong.
  bool SendFrame(int opcode, std::string_view payload, bool fin = true, bool mask = true);
  bool SendRaw(std::string_view bytes);

  // Next text/binary/close frame (pings are answered, pongs skipped).
  WsMessage Receive(int timeout_ms);
  // Next text frame as JSON; nullopt on timeout or close.
  std::optional<nlohmann::json> ReceiveJson(int timeout_ms);
  // Reads frames until one satisfies `pred` (others go to *skipped if given);
  // nullopt if none does within the time.
  std::optional<nlohmann::json> WaitFor(const std::function<bool(const nlohmann::json&)>& pred, int timeout_ms,
                                        std::vector<nlohmann::json>* skipped = nullptr);
  // Every frame that arrives within `timeout_ms` of quiet.
  std::vector<nlohmann::json> Drain(int quiet_ms);

  // Sends a close frame and waits briefly for the answer.
  void Close(int code = 1000);
  // Stops reading entirely (a stuck client): the kernel buffers fill up.
  int fd() const { return fd_; }
  int close_code() const { return close_code_; }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);
  std::string buffer_;
  int fd_ = -1;
  int status_ = 0;
  std::string body_;
  bool closed_ = false;
  int close_code_ = 0;
};

// Convenience: the stream URL target for a token and optional since.
std::string StreamTarget(const std::string& token, std::optional<int64_t> since = std::nullopt);

}  // namespace gc::test
