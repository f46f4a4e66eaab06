// NodeScript: a Node.js program a test runs beside the node, as an
// independent peer (tests/s3/s3_peer.js, tests/push/push_receiver.js).
//
// The script is started as `node SCRIPT ARGS...` (cwd unchanged), must print
// one JSON object as its first stdout line once it is ready (its ports), and
// should exit when its stdin closes: the test holds the other end, so a
// crashed test process takes the script with it (PR_SET_PDEATHSIG as well).
// The destructor kills and reaps it.
//
// Not thread-safe; start and stop scripts from the main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gc::test {

class NodeScript {
 public:
  // Starts the script and waits up to `timeout` for its first line. Throws
  // std::runtime_error if `needs` (a path, e.g. the package's node_modules
  // folder) is missing (with `hint`), or if the script exits or says nothing
  // in time.
  NodeScript(const std::string& script, const std::vector<std::string>& args, const std::string& needs,
             const std::string& hint, std::chrono::seconds timeout = std::chrono::seconds(30));
  ~NodeScript();  // Stop()
  NodeScript(const NodeScript&) = delete;
  NodeScript& operator=(const NodeScript&) = delete;

  // SIGKILL and reap; idempotent.
  void Stop();
  // The script's first stdout line, parsed.
  const nlohmann::json& ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  nlohmann::json ready_;
};

}  // namespace gc::test
