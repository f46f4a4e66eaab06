#include "tests/harness/node_script.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace gc::test {

NodeScript::NodeScript(const std::string& script, const std::vector<std::string>& args, const std::string& needs,
                       const std::string& hint, std::chrono::seconds timeout) {
  if (!needs.empty() && !std::filesystem::exists(needs)) throw std::runtime_error(needs + " is missing: " + hint);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    throw std::runtime_error("pipe");
  }
  std::vector<std::string> argv = {"node", script};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execvp("node", cargv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  stdin_ = in[1];
  // The first line; the deadline covers node's start-up.
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  while (std::chrono::steady_clock::now() < deadline) {
    char c;
    ssize_t n = read(out[0], &c, 1);
    if (n == 1) {
      if (c == '\n') break;
      line += c;
    } else if (n == 0) {
      break;
    } else {
      fd_set set;
      FD_ZERO(&set);
      FD_SET(out[0], &set);
      timeval tv{0, 100000};
      select(out[0] + 1, &set, nullptr, nullptr, &tv);
    }
  }
  close(out[0]);
  try {
    ready_ = nlohmann::json::parse(line);
  } catch (const std::exception&) {
    Stop();
    throw std::runtime_error("node " + script + " did not start (first line: '" + line + "')");
  }
}

NodeScript::~NodeScript() { Stop(); }

void NodeScript::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (stdin_ >= 0) close(stdin_);
  stdin_ = -1;
}

}  // namespace gc::test
