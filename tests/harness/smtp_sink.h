// SmtpSink: a real SMTP server for the email tests, in its own process.
//
// It runs tests/harness/smtp_sink.py on Debian's python3-aiosmtpd (installed
// by `make deps`), an implementation independent of the node's libcurl
// client. Every accepted message lands as one JSON file in the sink's
// directory (envelope, raw header lines, decoded headers and text), which
// Messages() reads. Stop() kills the server (the "SMTP server down" case);
// Start(port()) brings it back on the same port.
//
// The child dies with the test process (PR_SET_PDEATHSIG). Not thread-safe;
// use from the test's main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/harness/temp_dir.h"

namespace gc::test {

class SmtpSink {
 public:
  // Starts on a free port. Throws std::runtime_error (saying why) if no
  // python3 with aiosmtpd is found or the server does not come up.
  SmtpSink();
  ~SmtpSink();  // Stop()
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  // Starts the server on `port` (0: a free one). Messages already received stay.
  void Start(int port = 0);
  // SIGKILL and reap; connections are refused until Start.
  void Stop();

  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

  // Every message received so far, in arrival order.
  std::vector<nlohmann::json> Messages() const;
  // Waits until at least `n` messages arrived or `timeout` passed; returns
  // what arrived.
  std::vector<nlohmann::json> WaitFor(size_t n, std::chrono::milliseconds timeout) const;

 private:
  TempDir dir_;
  std::string inbox_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The value of the first header `name` (case-insensitive) of a message, or "".
std::string MailHeader(const nlohmann::json& message, const std::string& name);

}  // namespace gc::test
