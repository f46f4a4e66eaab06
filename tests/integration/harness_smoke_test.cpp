// The harness itself: a node starts from a generated config, serves
// /healthz, and shuts down cleanly on SIGTERM.
#include <gtest/gtest.h>

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
