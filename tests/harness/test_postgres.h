// TestPostgres: one private PostgreSQL cluster per test process.
//
// Store tests and node tests need a real PostgreSQL but nothing may be running
// on the machine, so the first caller of Shared() starts an EmbeddedPostgres in
// a TempDir; every test then takes a fresh database from it, which keeps tests
// independent without paying for a cluster each.
//
// The cluster stops when the tests finish: from a gtest Environment's TearDown
// (after the last test, whether tests passed or failed) and, as a fallback for
// programs that do not use RUN_ALL_TESTS, from an atexit handler. Hooks added
// with BeforeShutdown run first, so nodes using the cluster stop before it. If
// the test process dies abruptly, PostgreSQL gets PR_SET_PDEATHSIG and shuts
// down by itself (see node/db/embedded_pg.h).
//
// Call Shared() from the main thread: PDEATHSIG is tied to the thread that
// forked the server.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "tests/harness/temp_dir.h"

namespace gc {
class EmbeddedPostgres;
}

namespace gc::test {

class TestPostgres {
 public:
  // The process-wide cluster, started on first use (takes a few seconds the
  // first time: initdb). Throws std::runtime_error with EmbeddedPostgres's
  // message if it cannot start. Thread-safe.
  static TestPostgres& Shared();

  // Creates an empty database with a name unique in this process (gc_1,
  // gc_2, ...) and returns its libpq conninfo string. Throws
  // std::runtime_error if the server refuses. Thread-safe.
  std::string CreateDatabase();

  // The same, but a copy of a database that has every migration applied
  // (made once per process, with the migrations compiled into this test
  // binary, which are the node's): a node started on it finds its schema up
  // to date instead of creating it, which costs PostgreSQL about half a CPU
  // second per node. Thread-safe; throws like CreateDatabase.
  std::string CreateMigratedDatabase();

  // conninfo of any database in the cluster ("postgres" is the maintenance one).
  std::string conninfo(const std::string& dbname = "postgres") const;

  // Registers `hook` to run at every Shutdown(), before the cluster stops
  // (also when none was started). Hooks must be idempotent. Used by
  // NodeProcess to stop every live node, the cluster's clients, first.
  // Thread-safe.
  static void BeforeShutdown(std::function<void()> hook);

  // Runs the hooks and stops the cluster, removing its files unless
  // GC_KEEP_TEMP=1. Idempotent; a later Shared() starts a new cluster (this
  // is what happens between --gtest_repeat iterations). Called automatically.
  static void Shutdown();

  ~TestPostgres();
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

 private:
  TestPostgres() = default;

  TempDir dir_;
  std::unique_ptr<EmbeddedPostgres> server_;
  std::mutex mu_;
  int next_db_ = 1;  // guarded by mu_
  std::mutex template_mu_;
  bool template_made_ = false;  // guarded by template_mu_

  // A database name not used yet in this process (gc_N).
  std::string NewName();
  void Create(const std::string& name, const std::string& template_name);
};

}  // namespace gc::test
