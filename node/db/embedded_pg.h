// EmbeddedPostgres: a private PostgreSQL cluster owned by one process.
//
// The node (and the test harness) run PostgreSQL as a child process on a unix
// socket inside the cluster directory, with no TCP listener. The first start
// runs initdb; later starts reuse the cluster. initdb and postgres refuse to
// run as root, so when the caller is root the cluster belongs to the Debian
// `postgres` user and the child drops privileges to it. If that user cannot
// reach the requested directory (a clone under a 0700 home folder), the cluster
// is created under /var/lib/groupchat/clusters/<hash> instead and `dir` becomes
// a symlink to it; the log says where.
//
// The child gets PR_SET_PDEATHSIG(SIGQUIT): if the owning process dies, even by
// SIGKILL, PostgreSQL shuts down at once (committed data is safe in the WAL;
// the next start recovers). So no postgres process outlives its owner.
//
// Not thread-safe: start and stop it from the thread that owns the process
// lifetime (the main thread: PDEATHSIG fires when the *thread* that forked exits).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "node/common/result.h"

namespace gc {

class EmbeddedPostgres {
 public:
  struct Options {
    std::string dir;         // cluster directory, created if missing
    std::string bin_dir;     // PostgreSQL binaries; empty: newest /usr/lib/postgresql/*/bin
    int start_timeout_s = 60;
    // Test harnesses: a new cluster is a copy of this directory, a cluster
    // made once by the same initdb (made here when missing), instead of an
    // initdb of its own (about a CPU second each). It must be a path the
    // postgres user can reach. Empty (the node): initdb.
    std::string initdb_template;
    // More server settings, "name=value" each (passed as -c): test harnesses
    // turn off what only guards against a crash of the machine.
    std::vector<std::string> settings;
  };

  // Creates (initdb) when needed and starts the cluster; returns once it
  // accepts connections. Fails with a message naming the step and pointing to
  // the server log (DIR/server.log) when initdb or the server fail.
  static Result<std::unique_ptr<EmbeddedPostgres>> Start(const Options& options);

  ~EmbeddedPostgres();  // Stop()
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // libpq conninfo for a database of this cluster (user postgres, trust auth
  // over the private socket).
  std::string conninfo(const std::string& dbname = "postgres") const;
  const std::string& socket_dir() const { return socket_dir_; }
  const std::string& data_dir() const { return real_dir_; }

  // Fast shutdown (SIGINT), waits up to 30 s, then SIGQUIT. Idempotent.
  void Stop();

  // Creates database `name` if it does not exist.
  Status EnsureDatabase(const std::string& name);

 private:
  EmbeddedPostgres() = default;
  std::string real_dir_;
  std::string socket_dir_;
  pid_t pid_ = -1;
};

}  // namespace gc
