// The binary as an operator meets it: subcommands, exit codes, config errors,
// the embedded PostgreSQL (created, reused, locked, stopped), keys, graceful
// shutdown.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/harness/harness.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

namespace fs = std::filesystem;

// Processes whose command line mentions `needle` (from /proc).
int CountProcesses(const std::string& needle) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // Any process on the machine may exit while it is read (the read then
    // fails with ESRCH, which libstdc++ throws): it no longer counts.
    std::string cmd, stat;
    try {
      std::ifstream in(e.path() / "cmdline");
      cmd.assign(std::istreambuf_iterator<char>(in), {});
      std::ifstream st(e.path() / "stat");
      stat.assign(std::istreambuf_iterator<char>(st), {});
    } catch (const std::exception&) {
      continue;
    }
    for (auto& c : cmd) {
      if (c == '\0') c = ' ';
    }
    bool zombie = stat.find(") Z ") != std::string::npos;
    if (!zombie && cmd.find(needle) != std::string::npos) ++n;
  }
  return n;
}

TEST(Cli, HelpAndVersion) {
  auto h = RunCli({"--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("groupchat serve"), std::string::npos);
  EXPECT_NE(h.out.find("admin create-user"), std::string::npos);
  auto v = RunCli({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("groupchat ", 0), 0u);
  EXPECT_EQ(RunCli({}).exit_code, 64);
  EXPECT_EQ(RunCli({"frobnicate"}).exit_code, 64);
  EXPECT_EQ(RunCli({"serve"}).exit_code, 64);  // no --config
  EXPECT_EQ(RunCli({"serve", "--config"}).exit_code, 64);
  EXPECT_EQ(RunCli({"admin", "create-user", "--config", "x.yaml"}).exit_code, 64);
}

TEST(Cli, BadConfigExitsTwoWithPosition) {
  TempDir dir;
  std::string path = dir.path() + "/bad.yaml";
  std::ofstream(path) << "node:\n  name: acme.test\n  data_dir: ./var\nhttp:\n  threads: lots\n";
  auto r = RunCli({"serve", "--config", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path + ":5:12: http.threads"), std::string::npos) << r.err;

  std::ofstream(path) << "node:\n  name: acme.test\n  data_dir: ./var\nhttp:\n  listn: 1.2.3.4:5\n";
  r = RunCli({"migrate", "--config", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path + ":5:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("listn"), std::string::npos) << r.err;

  auto missing = RunCli({"serve", "--config", dir.path() + "/nope.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.yaml"), std::string::npos);

  // An environment override is validated like the file.
  std::ofstream(path) << "node:\n  name: acme.test\n  data_dir: ./var\n";
  auto env = RunCli({"migrate", "--config", path}, {}, std::chrono::seconds(30), {{"GROUPCHAT_HTTP_THREADS", "0"}});
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_NE(env.err.find("GROUPCHAT_HTTP_THREADS"), std::string::npos) << env.err;
}

TEST(Cli, KeygenCreatesPrivateKeysOnce) {
  NodeProcess node;  // only for its config and data dir
  node.WriteConfig();
  auto first = node.Cli({"keygen"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("created"), std::string::npos);
  struct stat st;
  ASSERT_EQ(stat((node.data_dir() + "/keys/identity.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((node.data_dir() + "/keys/transport.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = node.Cli({"keygen"});
  ASSERT_EQ(second.exit_code, 0);
  EXPECT_NE(second.out.find("kept existing"), std::string::npos);
  // Same public key both times.
  auto line = [](const std::string& out) { return out.substr(out.find("identity key")); };
  EXPECT_EQ(line(first.out).substr(0, 80), line(second.out).substr(0, 80));
  // A key readable by others is refused rather than used.
  chmod((node.data_dir() + "/keys/identity.key").c_str(), 0644);
  auto loose = node.Cli({"keygen"});
  EXPECT_NE(loose.exit_code, 0);
  EXPECT_NE(loose.err.find("chmod 600"), std::string::npos) << loose.err;
}

TEST(Cli, MigrateAppliesOnceAndRecords) {
  NodeOptions fresh;
  fresh.empty_database = true;
  NodeProcess node(fresh);
  node.WriteConfig();
  auto first = node.Cli({"migrate"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.find("applied 0"), std::string::npos) << first.out;
  auto second = node.Cli({"migrate"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("applied 0 migration"), std::string::npos) << second.out;
}

// The full embedded path: initdb on first start, reuse on the next, refusal
// of a second node on the same data dir, and nothing left running after.
TEST(EmbeddedDatabase, CreatedReusedLockedAndStopped) {
  NodeOptions o;
  o.embedded_db = true;
  o.extra_yaml = kNoRateLimits;
  NodeProcess node(o);
  node.Start();
  std::string pgdir = node.data_dir() + "/pg";
  EXPECT_TRUE(fs::exists(pgdir + "/data/PG_VERSION") || fs::is_symlink(pgdir));
  HttpClient c = node.Client();
  ASSERT_FALSE(RegisterAs(c, "erin").token.empty());
  EXPECT_GE(CountProcesses(node.dir().path()), 2);  // the node and its postgres

  // A second node on the same data dir is refused, and the first keeps going.
  auto second = RunCli({"serve", "--config", node.config_path()}, {}, std::chrono::seconds(30));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("already running"), std::string::npos) << second.err;
  EXPECT_EQ(node.Client().Get("/healthz").status, 200);

  // An admin command works next to the running node (through its socket).
  auto cli = node.Cli({"admin", "create-user", "--username", "ops", "--password-file", "-"}, "opspassword\n");
  EXPECT_EQ(cli.exit_code, 0) << cli.err;

  EXPECT_EQ(node.Stop(), 0);
  EXPECT_EQ(CountProcesses(node.dir().path()), 0) << "postgres outlived the node";

  // The cluster is reused: the user is still there.
  node.Start();
  c = node.Client();
  EXPECT_FALSE(LogIn(c, "erin").empty());
  EXPECT_FALSE(LogIn(c, "ops", "opspassword").empty());
  EXPECT_EQ(node.LogText().find("creating embedded PostgreSQL cluster", node.LogText().find("creating embedded PostgreSQL cluster") + 1),
            std::string::npos);

  // SIGKILL: PostgreSQL must not outlive the node, and the next start recovers.
  node.Kill();
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = CountProcesses(node.dir().path()) == 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "postgres outlived a killed node";
  node.Start();
  c = node.Client();
  EXPECT_FALSE(LogIn(c, "erin").empty());
  EXPECT_EQ(node.Stop(), 0);
}

TEST(Shutdown, SigtermFinishesInFlightRequestsAndExitsZero) {
  // Logins at the real cost (argon2id, 64 MiB) on one hashing thread: four of
  // them keep the node busy for a quarter of a second or more.
  auto started = StartNodeWith(std::string(kNoRateLimits) +
                               "sessions:\n  password_hash_memory_mib: 64\n  password_hash_threads: 1\n");
  NodeProcess& node = *started;
  HttpClient setup = node.Client();
  ASSERT_FALSE(RegisterAs(setup, "sam").token.empty());
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        HttpClient c = node.Client();
        auto r = c.Post("/api/v1/auth/login", {{"username", "sam"}, {"password", kTestPassword}});
        if (r.status == 200) ++answered;
      } catch (const std::exception&) {
      }
    });
  }
  // SIGTERM once the node holds the four logins' connections (its gauge
  // also counts the connection asking): polled, as the node offers no
  // event for it; 10 s bound for a loaded machine.
  auto connections = [&] {
    auto v = MetricValue(setup, "groupchat_http_connections");
    return v ? static_cast<int>(*v) : -1;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (connections() < 5 && std::chrono::steady_clock::now() < deadline) {
  }
  int status = node.Stop();
  for (auto& t : threads) t.join();
  EXPECT_EQ(status, 0);
  EXPECT_NE(node.LogText().find("\"msg\":\"stopped\""), std::string::npos);
  // Requests that reached the node before the signal were answered.
  EXPECT_GE(answered.load(), 1);
}

TEST(Config, EnvironmentOverridesTheFile) {
  NodeOptions o;
  o.env = {{"GROUPCHAT_REGISTRATION_MODE", "closed"}};
  NodeProcess node(o);
  node.Start();
  auto r = node.Client().Post("/api/v1/auth/register", {{"username", "x"}, {"password", kTestPassword}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(node.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
