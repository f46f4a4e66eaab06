#include "tests/harness/smtp_sink.h"

#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace gc::test {

namespace {

// A python3 that can import aiosmtpd: $GC_PYTHON3, the one on PATH, or
// Debian's (a python3 earlier on PATH, such as pyenv's, lacks Debian's
// packages).
std::string FindPython() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("GC_PYTHON3")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& p : candidates) {
    std::string cmd = p + " -c 'import aiosmtpd' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return p;
  }
  throw std::runtime_error("no python3 with aiosmtpd (apt-get install python3-aiosmtpd, or run make deps)");
}

}  // namespace

SmtpSink::SmtpSink() : inbox_(dir_.Sub("inbox")) { Start(0); }

SmtpSink::~SmtpSink() { Stop(); }

void SmtpSink::Start(int port) {
  if (pid_ > 0) throw std::logic_error("SmtpSink already running");
  static const std::string python = FindPython();
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::string script = std::string(GC_SOURCE_DIR) + "/tests/harness/smtp_sink.py";
  std::string port_text = std::to_string(port);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out[1], 1);
    ::close_range(3, ~0U, 0);
    const char* argv[] = {python.c_str(), script.c_str(), inbox_.c_str(), port_text.c_str(), nullptr};
    ::execvp(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(out[1]);
  pid_ = pid;
  // The first line is "listening PORT"; EOF means the server failed.
  std::string line;
  char c;
  while (line.size() < 200 && ::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(out[0]);
  if (line.rfind("listening ", 0) != 0) {
    Stop();
    throw std::runtime_error("smtp_sink.py did not start (port " + port_text + "): '" + line + "'");
  }
  port_ = std::stoi(line.substr(10));
}

void SmtpSink::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::vector<nlohmann::json> SmtpSink::Messages() const {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(inbox_)) {
    std::string n = e.path().filename().string();
    if (!n.empty() && n[0] != '.') names.push_back(e.path().string());
  }
  // pid-NNNNNN.json: the server's counter orders one run; runs are ordered
  // by the file times.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    auto ta = std::filesystem::last_write_time(a), tb = std::filesystem::last_write_time(b);
    return ta != tb ? ta < tb : a < b;
  });
  std::vector<nlohmann::json> out;
  for (const auto& n : names) {
    std::ifstream f(n);
    out.push_back(nlohmann::json::parse(f));
  }
  return out;
}

std::vector<nlohmann::json> SmtpSink::WaitFor(size_t n, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto got = Messages();
    // Polled: the messages arrive in another process's files.
    if (got.size() >= n || std::chrono::steady_clock::now() >= deadline) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string MailHeader(const nlohmann::json& message, const std::string& name) {
  for (const auto& h : message.value("headers", nlohmann::json::array())) {
    if (h.size() == 2 && strcasecmp(h[0].get<std::string>().c_str(), name.c_str()) == 0) return h[1];
  }
  return "";
}

}  // namespace gc::test
