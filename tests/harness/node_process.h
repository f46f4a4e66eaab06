// NodeProcess: the real `groupchat` binary, started as a black box.
//
// Node tests drive the node the way admins and clients do: a YAML config, a
// process, HTTP on a port the node picked itself (listen on port 0, read the
// port back from its "listening" log line). Each NodeProcess owns a TempDir
// holding node.yaml, node.log (the node's stdout and stderr, appended across
// restarts) and the data directory.
//
// No node outlives the test process: the child is in its own process group
// with PR_SET_PDEATHSIG(SIGKILL), the destructor stops it, and every live node
// is stopped after the last test (TestPostgres::BeforeShutdown) before the
// shared PostgreSQL goes away. Children are always reaped.
//
// Not thread-safe; create, start and stop nodes from the main thread
// (PDEATHSIG follows the thread that forked).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/harness/http_client.h"
#include "tests/harness/temp_dir.h"

namespace gc::test {

struct NodeOptions {
  std::string name = "acme.test";
  // YAML merged over the harness's defaults, key by key: a key given here
  // wins, a default the text does not mention stays. E.g.
  // "registration:\n  mode: invite\n" or "rate_limits:\n  enabled: false\n".
  // The defaults are node.name, node.data_dir (TEMPDIR/data), http.listen
  // 127.0.0.1:0, federation.listen tcp://127.0.0.1:0, database.url and
  // rate_limits.enabled: true. Must parse as a YAML map (or be empty).
  std::string extra_yaml;
  // false: database.url is a fresh database of TestPostgres::Shared() (unless
  // extra_yaml sets database.url). true: database.url is "", the node runs
  // its own embedded cluster under its data dir.
  bool embedded_db = false;
  // Without embedded_db: the node's database starts empty (the node creates
  // its schema) instead of as a copy of one with every migration applied
  // (TestPostgres::CreateMigratedDatabase, the default: cheaper).
  bool empty_database = false;
  // Extra environment for the node. Inherited GROUPCHAT_* variables are
  // dropped so a developer's shell cannot change test configs.
  std::map<std::string, std::string> env;
  // Restart() binds the ports of the previous run again, so peers configured
  // with this node's URL still reach it.
  bool same_ports_on_restart = true;
  std::chrono::seconds start_timeout{60};
};

// Outcome of one run of the binary. exit_code is the exit status, or 128+N
// when killed by signal N (so a timeout gives 137).
struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  bool timed_out = false;
};

// Runs `GC_BINARY args...` with `stdin_text` on its stdin (then EOF) and
// collects its output; kills it (SIGKILL, whole process group) after
// `timeout`. Runs in GC_SOURCE_DIR, like `make run`. Throws
// std::runtime_error only if the process cannot be started.
CliResult RunCli(const std::vector<std::string>& args, std::string_view stdin_text = {},
                 std::chrono::milliseconds timeout = std::chrono::seconds(60),
                 const std::map<std::string, std::string>& env = {});

class NodeProcess {
 public:
  // Prepares the TempDir; does not start the node.
  explicit NodeProcess(NodeOptions options = {});
  // Stop(); never throws.
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Writes node.yaml, spawns `GC_BINARY serve --config node.yaml` (cwd
  // GC_SOURCE_DIR) and returns once the node logged {"msg":"listening",
  // "http":"127.0.0.1:PORT",...} and GET /healthz answered 200. Throws
  // std::runtime_error with the tail of this run's log if the node exits or is
  // not healthy within options.start_timeout (the node is killed then), and
  // std::logic_error if it is already running. The first start of a node
  // without embedded_db creates its database; restarts reuse it.
  void Start();
  // SIGTERM, then waits up to 30 s for the exit before SIGKILL. Returns the
  // exit status (see CliResult::exit_code); 0 is a clean shutdown. If the node
  // is not running, returns the status of its last exit (-1: never ran).
  int Stop();
  // SIGKILL to the node's process group, then reaps it. Returns the status.
  int Kill();
  // Stop() if running, then Start() with the same data dir, database and
  // options (on the same ports unless options.same_ports_on_restart is false).
  void Restart();
  // Reaps the node if it has exited.
  bool Running();
  // SIGSTOP, and returns once the kernel reports the node stopped (every
  // thread: kill() alone returns as soon as the signal is queued).
  void Freeze();

  int http_port() const { return http_port_; }
  std::string base_url() const;  // http://127.0.0.1:PORT
  // The "federation" field of the listening line, e.g. tcp://127.0.0.1:7001.
  const std::string& federation_endpoint() const { return federation_endpoint_; }
  const std::string& name() const { return options_.name; }
  pid_t pid() const { return pid_; }
  // A client for this node's HTTP port (valid until the next restart).
  HttpClient Client() const { return HttpClient(http_port_); }

  // The whole node.log, all runs.
  std::string LogText() const;
  std::string data_dir() const;
  std::string config_path() const;
  // database.url as written to node.yaml ("" for embedded_db).
  const std::string& database_url() const { return database_url_; }
  const TempDir& dir() const { return dir_; }
  // Changes take effect at the next Start()/Restart().
  NodeOptions& options() { return options_; }

  // RunCli(args + {"--config", config_path()}): for migrate, keygen, admin
  // create-user against this node's config. With embedded_db, stop the node
  // first: the CLI would start the same cluster.
  CliResult Cli(std::vector<std::string> args, std::string_view stdin_text = {},
                std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // Writes node.yaml (creating the node's database on first use) without
  // starting the node: for CLI tests on a node that never ran. Start() calls it.
  void WriteConfig();

 private:
  // The last `lines` lines this run wrote to node.log.
  std::string LogTail(size_t lines) const;
  // Records the exit and removes whatever is left of the process group.
  void Reaped(int wait_status);

  NodeOptions options_;
  TempDir dir_;
  std::string database_url_;
  bool database_created_ = false;
  std::string http_listen_ = "127.0.0.1:0";
  std::string federation_listen_ = "tcp://127.0.0.1:0";
  pid_t pid_ = -1;
  int last_status_ = -1;
  size_t run_log_offset_ = 0;  // where this run's output starts in node.log
  int http_port_ = 0;
  std::string federation_endpoint_;
};

}  // namespace gc::test
