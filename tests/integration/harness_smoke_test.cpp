// The harness itself: a node starts from a generated config, serves
// /healthz, and shuts down cleanly on SIGTERM.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "node/db/pg.h"
#include "node/db/pg_array.h"
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
GC_SQL(kSmokeTextArray, "SELECT v, v IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(v, i) ORDER BY i");
GC_SQL(kSmokeBigintArray, "SELECT coalesce(sum(v), 0), count(*) FROM unnest($1::bigint[]) AS t(v)");
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

// PgArray's literal is parsed by PostgreSQL back into exactly the values put
// in: quotes, backslashes, commas, braces, spaces, "NULL" as text, the empty
// string, non-ASCII, and a real NULL.
TEST(HarnessSmokeTest, ArrayLiteralsRoundTripThroughPostgres) {
  gc::PgConn c(gc::test::TestPostgres::Shared().CreateDatabase());
  std::vector<std::optional<std::string>> in = {
      "plain", "a\"quote", "back\\slash", "com,ma", "{braces}", " spaced ", "NULL", "", "\u00e9t\u00e9",
      std::nullopt, "\\\"\\", "$A-b_c"};
  gc::PgArray a;
  for (const auto& v : in) a.Add(v);
  auto r = c.Exec(gc::kSmokeTextArray, {a.str()});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->rows(), static_cast<int>(in.size()));
  for (int i = 0; i < r->rows(); ++i) {
    EXPECT_EQ(r->opt_text(i, 0), in[static_cast<size_t>(i)]) << "element " << i;
    EXPECT_EQ(r->text(i, 1), in[static_cast<size_t>(i)] ? "f" : "t") << "element " << i;
  }
  std::vector<int64_t> nums = {1, -2, 9007199254740993, 0};
  auto b = c.Exec(gc::kSmokeBigintArray, {gc::PgArray::Of(nums)});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->text(0, 0), "9007199254740992");
  EXPECT_EQ(b->text(0, 1), "4");
  auto none = c.Exec(gc::kSmokeBigintArray, {gc::PgArray::Of(std::vector<int64_t>{})});
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->text(0, 1), "0");
}
