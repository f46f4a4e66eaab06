#include "node/common/address.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

TEST(Address, ParsesUserAndGroupIds) {
  auto u = ParseUserId("@alice:acme.test");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->local, "alice");
  EXPECT_EQ(u->server, "acme.test");
  EXPECT_EQ(u->str(), "@alice:acme.test");
  auto g = ParseGroupId("#eng.team-1_x:beta.test:8448");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->local, "eng.team-1_x");
  EXPECT_EQ(g->server, "beta.test:8448");
}

TEST(Address, RejectsWrongSigil) {
  EXPECT_FALSE(ParseUserId("#eng:acme.test"));
  EXPECT_FALSE(ParseGroupId("@alice:acme.test"));
  EXPECT_FALSE(ParseAddress("alice:acme.test"));
}

TEST(Address, RejectsMalformedLocalParts) {
  for (const char* bad : {"@:acme.test", "@Alice:acme.test", "@al ice:acme.test", "@al/ice:acme.test",
                          "@al%40:acme.test", "@\xc3\xa9:acme.test", "@alice"}) {
    EXPECT_FALSE(ParseAddress(bad)) << bad;
  }
  std::string long_local = "@" + std::string(65, 'a') + ":acme.test";
  EXPECT_FALSE(ParseAddress(long_local));
  std::string max_local = "@" + std::string(64, 'a') + ":acme.test";
  EXPECT_TRUE(ParseAddress(max_local));
}

TEST(Address, RejectsMalformedServerNames) {
  for (const char* bad : {"@a:", "@a:ACME.test", "@a:-acme.test", "@a:acme-.test", "@a:acme..test", "@a:acme.test:0",
                          "@a:acme.test:65536", "@a:acme.test:080", "@a:acme.test:", "@a:acme_test", "@a:a b"}) {
    EXPECT_FALSE(ParseAddress(bad)) << bad;
  }
  EXPECT_TRUE(ParseAddress("@a:localhost"));
  EXPECT_TRUE(ParseAddress("@a:127.0.0.1:8080"));
  EXPECT_TRUE(ParseAddress("@a:acme.test:65535"));
}

TEST(Address, ServerNameLengthLimits) {
  std::string label63(63, 'a');
  EXPECT_TRUE(IsValidServerName(label63 + ".test"));
  EXPECT_FALSE(IsValidServerName(std::string(64, 'a') + ".test"));
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  long_name += "x";
  EXPECT_FALSE(IsValidServerName(long_name));
}

}  // namespace
}  // namespace gc
