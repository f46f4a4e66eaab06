// The harness itself: a node starts from a generated config, serves
// /healthz, and shuts down cleanly on SIGTERM.
#include <gtest/gtest.h>

#include "node/db/pg.h"
#include "tests/harness/harness.h"

namespace gc::test {
namespace {

TEST(HarnessSmokeTest, NodeStartsServesHealthzAndStopsCleanly) {
  NodeProcess node;
  node.Start();
  ASSERT_GT(node.http_port(), 0);

  HttpClient client(node.http_port());
  HttpResponse health = client.Get("/healthz");
  EXPECT_EQ(health.status, 200) << health.body;

  EXPECT_EQ(node.Stop(), 0) << node.LogText();
  EXPECT_FALSE(node.Running());
}

TEST(HarnessSmokeTest, BadConfigExitsWithStatusTwo) {
  TempDir dir;
  std::string config = dir.WriteFile("bad.yaml", "node: [unclosed\n");
  CliResult result = RunCli({"migrate", "--config", config});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find(config + ":"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace gc::test

namespace gc {
namespace {
GC_SQL(kSmokeOne, "SELECT 1");
}  // namespace
namespace other {
GC_SQL(kSmokeOne, "SELECT 2");  // the same name for another query, as two files might declare
}  // namespace other
}  // namespace gc

// Two different queries declared under one GC_SQL name would run each
// other's SQL on a connection that prepared the other first: the second is
// refused instead, on any connection.
TEST(HarnessSmokeTest, TwoQueriesUnderOneStatementNameAreRefused) {
  std::string conninfo = gc::test::TestPostgres::Shared().CreateDatabase();
  gc::PgConn a(conninfo), b(conninfo);
  auto one = a.Exec(gc::kSmokeOne);
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->text(0, 0), "1");
  auto other = b.Exec(gc::other::kSmokeOne);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("kSmokeOne"), std::string::npos) << other.error().message;
  auto again = b.Exec(gc::kSmokeOne);  // the owner of the name still runs
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->text(0, 0), "1");
}
