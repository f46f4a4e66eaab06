#include "tests/harness/test_postgres.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "node/db/embedded_pg.h"
#include "node/db/migrations.h"
#include "node/db/pg.h"

namespace gc::test {
namespace {

namespace fs = std::filesystem;

// Process-wide state. Deliberately leaked (never destroyed): the atexit
// handler and gtest's TearDown may run after other statics are gone.
struct SharedState {
  std::mutex mu;
  std::unique_ptr<TestPostgres> instance;  // guarded by mu
  std::vector<std::function<void()>> hooks;  // guarded by mu
  bool atexit_registered = false;            // guarded by mu
};

SharedState& State() {
  static auto* state = new SharedState;
  return *state;
}

// Stops the cluster after the last test even when tests failed; static
// destruction order would be too late (nodes held in statics) or too early.
class ShutdownEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { TestPostgres::Shutdown(); }
};

[[maybe_unused]] ::testing::Environment* const kShutdownEnvironment =
    ::testing::AddGlobalTestEnvironment(new ShutdownEnvironment);

void ShutdownAtExit() { TestPostgres::Shutdown(); }

}  // namespace

TestPostgres& TestPostgres::Shared() {
  SharedState& state = State();
  std::lock_guard lock(state.mu);
  if (state.instance) return *state.instance;
  if (!state.atexit_registered) {
    std::atexit(ShutdownAtExit);
    state.atexit_registered = true;
  }
  std::unique_ptr<TestPostgres> pg(new TestPostgres);
  EmbeddedPostgres::Options options;
  // Set by ctest (tests/CMakeLists.txt, fixture pg_template): the test
  // processes of one run copy one initdb instead of each running its own.
  if (const char* t = std::getenv("GC_TEST_PG_TEMPLATE"); t && *t) options.initdb_template = t;
  options.dir = (fs::path(pg->dir_.path()) / "pg").string();
  // A test cluster lives as long as its test process; what these settings
  // guard against (a crash of the machine, not of a process) cannot happen
  // to it, and syncing only slows the suite down.
  options.settings = {"fsync=off", "full_page_writes=off"};
  auto started = EmbeddedPostgres::Start(options);
  if (!started.ok()) {
    throw std::runtime_error("TestPostgres: cannot start PostgreSQL in " + options.dir + ": " +
                             started.error().message);
  }
  pg->server_ = std::move(started).value();
  state.instance = std::move(pg);
  return *state.instance;
}

std::string TestPostgres::conninfo(const std::string& dbname) const {
  return server_->conninfo(dbname);
}

void TestPostgres::Create(const std::string& name, const std::string& template_name) {
  PGconn* conn = PQconnectdb(conninfo("postgres").c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    // CREATE DATABASE takes no parameters; the names are made in this file
    // from [a-z0-9_] only, never from input.
    std::string sql = "CREATE DATABASE " + name;
    if (!template_name.empty()) sql += " TEMPLATE " + template_name;
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) error = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  if (!error.empty()) {
    throw std::runtime_error("TestPostgres: CREATE DATABASE " + name + " failed: " + error);
  }
}

std::string TestPostgres::NewName() {
  std::lock_guard lock(mu_);
  return "gc_" + std::to_string(next_db_++);
}

std::string TestPostgres::CreateDatabase() {
  std::string name = NewName();
  Create(name, "");
  return conninfo(name);
}

std::string TestPostgres::CreateMigratedDatabase() {
  const std::string kTemplate = "gc_migrated";
  {
    std::lock_guard lock(template_mu_);
    if (!template_made_) {
      Create(kTemplate, "");
      {
        auto pool = PgPool::Create(conninfo(kTemplate), 1, 30);
        if (!pool.ok()) throw std::runtime_error("TestPostgres: " + pool.error().message);
        auto applied = ApplyMigrations(**pool);
        if (!applied.ok()) throw std::runtime_error("TestPostgres: migrating the template: " + applied.error().message);
      }  // its connection closes: a template must have no session when copied
      template_made_ = true;
    }
  }
  std::string name = NewName();
  // (CREATE DATABASE waits a few seconds for the template's last session,
  // just closed above, to end; copies made at once share the source.)
  Create(name, kTemplate);
  return conninfo(name);
}

void TestPostgres::BeforeShutdown(std::function<void()> hook) {
  SharedState& state = State();
  std::lock_guard lock(state.mu);
  state.hooks.push_back(std::move(hook));
}

void TestPostgres::Shutdown() {
  SharedState& state = State();
  std::vector<std::function<void()>> hooks;
  std::unique_ptr<TestPostgres> instance;
  {
    std::lock_guard lock(state.mu);
    hooks = state.hooks;  // kept: a later cluster (--gtest_repeat) needs them too
    instance = std::move(state.instance);
  }
  // Hooks run outside the lock: they stop nodes, which takes time, and they
  // must run even when no cluster was started (nodes on embedded databases).
  for (auto& hook : hooks) hook();
  instance.reset();
}

TestPostgres::~TestPostgres() {
  if (!server_) return;
  std::string real_dir = server_->data_dir();
  server_->Stop();
  server_.reset();
  if (KeepTempFiles()) return;
  // EmbeddedPostgres may have placed the cluster outside our TempDir (see
  // embedded_pg.h: when the postgres user cannot reach it) behind a symlink;
  // TempDir's removal would only delete the link. Remove only what is
  // recognizably a cluster.
  std::error_code ec;
  fs::path real = fs::weakly_canonical(real_dir, ec);
  fs::path ours = fs::weakly_canonical(dir_.path(), ec);
  bool inside_ours =
      std::mismatch(ours.begin(), ours.end(), real.begin(), real.end()).first == ours.end();
  if (!real_dir.empty() && !inside_ours && fs::exists(real / "PG_VERSION", ec)) {
    fs::remove_all(real, ec);
  }
}

}  // namespace gc::test
