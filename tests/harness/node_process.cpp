#include "tests/harness/node_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/harness/test_postgres.h"

extern char** environ;

namespace gc::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPollStep{20};
constexpr std::chrono::seconds kStopTimeout{30};
constexpr std::chrono::seconds kGroupExitTimeout{5};

// ---- child processes ----

int ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// The test's environment minus GROUPCHAT_* (they override config keys),
// plus `extra`.
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string key(entry.substr(0, entry.find('=')));
    if (key.rfind("GROUPCHAT_", 0) == 0 || extra.count(key) > 0) continue;
    env.emplace_back(entry);
  }
  for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// fork+exec of GC_BINARY in a new process group, with the given fds as its
// stdin/stdout/stderr and no other fds. Everything the child needs is built
// before fork: between fork and exec only async-signal-safe calls are allowed.
// GC_NODE_BINARY (environment) runs another copy of the node binary: a long
// soak run keeps its own while the build directory is rebuilt.
const std::string& NodeBinary() {
  static const std::string path = [] {
    const char* e = std::getenv("GC_NODE_BINARY");
    return std::string(e && *e ? e : GC_BINARY);
  }();
  return path;
}

pid_t Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            int in_fd, int out_fd, int err_fd) {
  std::vector<std::string> argv_strings{NodeBinary()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = ChildEnvironment(env);
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);
  const char* binary = NodeBinary().c_str();
  const char* workdir = GC_SOURCE_DIR;
  static constexpr char kExecFailed[] = "harness: exec of the groupchat binary failed\n";
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    // Dies with the test process, even when the test crashes; the getppid
    // check closes the race where the parent died before prctl.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    // Inherited fds (test sockets, other children's pipes) would keep pipes
    // open and connections alive behind the test's back.
    ::close_range(3, ~0U, 0);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::chdir(workdir) != 0) ::_exit(127);
    ::execve(binary, argv.data(), envp.data());
    ssize_t ignored = ::write(2, kExecFailed, sizeof kExecFailed - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from here, so the group exists before we signal it
  return pid;
}

// True if a process of group `pgid` is still running. Zombies do not count:
// orphans are reaped by init, which in a container may never happen, and
// kill(-pgid, 0) would report them forever.
bool GroupHasLiveMembers(pid_t pgid) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat_file(entry.path() / "stat");
    std::string stat;
    if (!std::getline(stat_file, stat)) continue;  // exited meanwhile
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parens.
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (fields >> state >> ppid >> pgrp && pgrp == pgid && state != 'Z' && state != 'X') {
      return true;
    }
  }
  return false;
}

// After the group leader is reaped, children it left behind (an embedded
// PostgreSQL shutting down after its PDEATHSIG) get a moment to finish, then
// are killed: no process may outlive the test.
void RemoveProcessGroup(pid_t pgid) {
  auto deadline = Clock::now() + kGroupExitTimeout;
  while (::kill(-pgid, 0) == 0 && GroupHasLiveMembers(pgid)) {
    if (Clock::now() >= deadline) {
      ::kill(-pgid, SIGKILL);
      return;
    }
    std::this_thread::sleep_for(kPollStep);
  }
}

int OpenOrThrow(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  return fd;
}

// ---- live nodes, stopped before the shared PostgreSQL ----

struct LiveNodes {
  std::mutex mu;
  std::set<NodeProcess*> nodes;  // guarded by mu
};

LiveNodes& Live() {
  static auto* live = new LiveNodes;  // leaked: used from atexit
  return *live;
}

void StopLiveNodes() {
  std::vector<NodeProcess*> nodes;
  {
    std::lock_guard lock(Live().mu);
    nodes.assign(Live().nodes.begin(), Live().nodes.end());
  }
  for (NodeProcess* node : nodes) node->Stop();
}

// ---- config ----

// Copies `from` over `into`, recursing into maps present in both.
void MergeYaml(YAML::Node into, const YAML::Node& from) {
  for (const auto& entry : from) {
    std::string key = entry.first.as<std::string>();
    YAML::Node existing = into[key];
    if (entry.second.IsMap() && existing.IsMap()) {
      MergeYaml(existing, entry.second);
    } else {
      into[key] = YAML::Clone(entry.second);
    }
  }
}

YAML::Node ParseExtraYaml(const std::string& text) {
  if (text.empty()) return YAML::Node(YAML::NodeType::Map);
  YAML::Node extra = YAML::Load(text);
  if (extra.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!extra.IsMap()) throw std::invalid_argument("NodeOptions.extra_yaml is not a YAML map");
  return extra;
}

// Port of "127.0.0.1:41234" (or "http://127.0.0.1:41234"); 0 if none.
int PortOf(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return 0;
  std::string digits = address.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  return std::stoi(digits);
}

std::string ReadFileFrom(const std::string& path, size_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CliResult RunCli(const std::vector<std::string>& args, std::string_view stdin_text,
                 milliseconds timeout, const std::map<std::string, std::string>& env) {
  // stdin is a socketpair, not a pipe: send(MSG_NOSIGNAL) lets us feed a
  // child that exits early without SIGPIPE killing the test process.
  int in[2], out[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(in[0]), ::close(in[1]);
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(e));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(e));
  }
  pid_t pid;
  try {
    pid = Spawn(args, env, in[1], out[1], err[1]);
  } catch (...) {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    throw;
  }
  ::close(in[1]), ::close(out[1]), ::close(err[1]);
  int in_fd = in[0], out_fd = out[0], err_fd = err[0];
  for (int fd : {in_fd, out_fd, err_fd}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  CliResult result;
  std::string_view to_send = stdin_text;
  if (to_send.empty()) ::close(in_fd), in_fd = -1;
  auto deadline = Clock::now() + timeout;
  bool reaped = false;
  int status = 0;
  std::optional<Clock::time_point> drain_deadline;  // set once the child exited
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0 || !reaped) {
    if (!reaped && ::waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      // Output still held open by a leftover grandchild must not block us.
      drain_deadline = Clock::now() + std::chrono::seconds(2);
      if (in_fd >= 0) ::close(in_fd), in_fd = -1;
    }
    auto now = Clock::now();
    if (!reaped && now >= deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      reaped = true;
      result.timed_out = true;
      break;
    }
    if (drain_deadline && now >= *drain_deadline) break;
    pollfd fds[3];
    int nfds = 0;
    if (in_fd >= 0) fds[nfds++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[nfds++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[nfds++] = {err_fd, POLLIN, 0};
    // Short waits: the child's exit is noticed by waitpid, not by poll.
    if (::poll(fds, nfds, static_cast<int>(kPollStep.count())) <= 0) continue;
    for (int i = 0; i < nfds; ++i) {
      if (fds[i].revents == 0) continue;
      int fd = fds[i].fd;
      if (fd == in_fd) {
        ssize_t n = ::send(in_fd, to_send.data(), to_send.size(), MSG_NOSIGNAL);
        if (n > 0) to_send.remove_prefix(static_cast<size_t>(n));
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || to_send.empty()) {
          ::close(in_fd), in_fd = -1;  // all sent, or the child stopped reading
        }
        continue;
      }
      std::string& sink = fd == out_fd ? result.out : result.err;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        sink.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(fd);
        (fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) ::close(fd);
  }
  RemoveProcessGroup(pid);
  result.exit_code = ExitCode(status);
  return result;
}

NodeProcess::NodeProcess(NodeOptions options) : options_(std::move(options)) {
  static std::once_flag hook_registered;
  std::call_once(hook_registered, [] { TestPostgres::BeforeShutdown(StopLiveNodes); });
  std::lock_guard lock(Live().mu);
  Live().nodes.insert(this);
}

NodeProcess::~NodeProcess() {
  try {
    Stop();
  } catch (...) {
    // A destructor must not throw; Stop() only throws on broken invariants.
  }
  std::lock_guard lock(Live().mu);
  Live().nodes.erase(this);
}

std::string NodeProcess::data_dir() const { return dir_.path() + "/data"; }
std::string NodeProcess::config_path() const { return dir_.path() + "/node.yaml"; }
std::string NodeProcess::base_url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }

std::string NodeProcess::LogText() const { return ReadFileFrom(dir_.path() + "/node.log", 0); }

std::string NodeProcess::LogTail(size_t lines) const {
  std::string text = ReadFileFrom(dir_.path() + "/node.log", run_log_offset_);
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (size_t seen = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++seen == lines) break;
  }
  return text.substr(pos);
}

void NodeProcess::WriteConfig() {
  YAML::Node extra = ParseExtraYaml(options_.extra_yaml);
  const YAML::Node& extra_view = extra;  // const access does not insert keys
  bool extra_sets_url = extra_view["database"] && extra_view["database"]["url"];
  if (!database_created_) {
    if (!options_.embedded_db && !extra_sets_url) {
      database_url_ = options_.empty_database ? TestPostgres::Shared().CreateDatabase()
                                              : TestPostgres::Shared().CreateMigratedDatabase();
    }
    database_created_ = true;
  }
  if (extra_sets_url) database_url_ = extra_view["database"]["url"].as<std::string>();

  YAML::Node config(YAML::NodeType::Map);
  config["node"]["name"] = options_.name;
  config["node"]["data_dir"] = data_dir();
  config["http"]["listen"] = http_listen_;
  config["federation"]["listen"] = federation_listen_;
  config["database"]["url"] = database_url_;  // "" selects the embedded cluster
  config["rate_limits"]["enabled"] = true;
  // Password hashes at 1 MiB instead of 64: registrations and logins are a
  // large share of the suite's CPU at the real cost; login_burst_test sets
  // the real one back.
  config["sessions"]["password_hash_memory_mib"] = 1;
  MergeYaml(config, extra);

  YAML::Emitter emitter;
  emitter << config;
  std::ofstream file(config_path(), std::ios::trunc);
  file << "# Written by the test harness (tests/harness/node_process.cpp).\n"
       << emitter.c_str() << "\n";
  file.close();
  if (!file) throw std::runtime_error("cannot write " + config_path());
}

void NodeProcess::Start() {
  if (Running()) throw std::logic_error("NodeProcess::Start: " + options_.name + " is running");
  dir_.Sub("data");
  WriteConfig();

  const std::string log_path = dir_.path() + "/node.log";
  int log_fd = OpenOrThrow(log_path, O_WRONLY | O_CREAT | O_APPEND);
  struct stat st{};
  ::fstat(log_fd, &st);
  run_log_offset_ = static_cast<size_t>(st.st_size);
  int null_fd;
  try {
    null_fd = OpenOrThrow("/dev/null", O_RDONLY);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  try {
    pid_ = Spawn({"serve", "--config", config_path()}, options_.env, null_fd, log_fd, log_fd);
  } catch (...) {
    ::close(log_fd);
    ::close(null_fd);
    throw;
  }
  ::close(log_fd);
  ::close(null_fd);
  http_port_ = 0;
  federation_endpoint_.clear();

  auto fail = [&](const std::string& why) {
    if (pid_ > 0) Kill();
    throw std::runtime_error("node " + options_.name + " did not start: " + why + "\nlog (" +
                             log_path + "), last lines:\n" + LogTail(40));
  };
  auto deadline = Clock::now() + options_.start_timeout;
  size_t scanned = run_log_offset_;  // node.log is read up to here
  for (;;) {
    if (http_port_ == 0) {
      std::string fresh = ReadFileFrom(log_path, scanned);
      size_t line_start = 0;
      for (size_t eol; (eol = fresh.find('\n', line_start)) != std::string::npos;
           line_start = eol + 1) {
        auto line = nlohmann::json::parse(fresh.begin() + static_cast<std::ptrdiff_t>(line_start),
                                          fresh.begin() + static_cast<std::ptrdiff_t>(eol),
                                          nullptr, /*allow_exceptions=*/false);
        if (!line.is_object() || line.value("msg", "") != "listening") continue;
        http_port_ = PortOf(line.value("http", ""));
        federation_endpoint_ = line.value("federation", "");
        if (http_port_ != 0) break;
      }
      scanned += line_start;  // a partial last line is read again next time
    }
    if (http_port_ != 0) {
      try {
        HttpClient client(http_port_);
        client.set_timeout(std::chrono::seconds(2));
        if (client.Get("/healthz").status == 200) break;
      } catch (const std::runtime_error&) {
        // Not serving yet; poll again until the deadline.
      }
    }
    if (!Running()) fail("it exited with status " + std::to_string(last_status_));
    if (Clock::now() >= deadline) {
      fail(http_port_ == 0 ? "no \"listening\" log line within the start timeout"
                           : "GET /healthz did not answer 200 within the start timeout");
    }
    std::this_thread::sleep_for(kPollStep);
  }
  if (options_.same_ports_on_restart) {
    http_listen_ = "127.0.0.1:" + std::to_string(http_port_);
    if (PortOf(federation_endpoint_) != 0) federation_listen_ = federation_endpoint_;
  }
}

void NodeProcess::Reaped(int wait_status) {
  pid_t pgid = pid_;
  pid_ = -1;
  last_status_ = ExitCode(wait_status);
  RemoveProcessGroup(pgid);
}

bool NodeProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    Reaped(status);
  } else {
    pid_ = -1;  // not our child any more (cannot happen unless someone reaped it)
  }
  return false;
}

void NodeProcess::Freeze() {
  if (pid_ <= 0) throw std::runtime_error("Freeze: the node is not running");
  if (::kill(pid_, SIGSTOP) != 0) throw std::runtime_error(std::string("Freeze: kill: ") + std::strerror(errno));
  while (true) {  // ends: a stopped or dead child is reported, EINTR retried
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WUNTRACED);
    if (r == pid_ && WIFSTOPPED(status)) return;
    if (r == pid_) {
      Reaped(status);
      throw std::runtime_error("Freeze: the node exited");
    }
    if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("Freeze: waitpid: ") + std::strerror(errno));
  }
}

int NodeProcess::Stop() {
  if (!Running()) return last_status_;
  ::kill(pid_, SIGTERM);  // the node only: it shuts down its own children in order
  auto deadline = Clock::now() + kStopTimeout;
  while (Clock::now() < deadline) {
    if (!Running()) return last_status_;
    std::this_thread::sleep_for(kPollStep);
  }
  return Kill();  // status 137 tells the test the node hung on SIGTERM
}

int NodeProcess::Kill() {
  if (pid_ <= 0) return last_status_;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    Reaped(status);
  } else {
    pid_ = -1;
  }
  return last_status_;
}

void NodeProcess::Restart() {
  Stop();
  Start();
}

CliResult NodeProcess::Cli(std::vector<std::string> args, std::string_view stdin_text,
                           milliseconds timeout) const {
  args.push_back("--config");
  args.push_back(config_path());
  return RunCli(args, stdin_text, timeout, options_.env);
}

}  // namespace gc::test
