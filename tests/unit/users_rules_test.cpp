// Username, password, display-name and token rules of the user service.
#include <gtest/gtest.h>

#include <set>

#include "node/common/text.h"
#include "services/users/user_service.h"

namespace gc {
namespace {

TEST(UserRules, UsernamesAreLowercasedAndChecked) {
  auto n = NormalizeUsername("Alice.B-2_x");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "alice.b-2_x");
  EXPECT_FALSE(NormalizeUsername("").ok());
  EXPECT_FALSE(NormalizeUsername("al ice").ok());
  EXPECT_FALSE(NormalizeUsername("alice:acme").ok());
  EXPECT_FALSE(NormalizeUsername("ali\xc3\xa7" "e").ok());
  EXPECT_FALSE(NormalizeUsername("'; DROP TABLE users; --").ok());
  EXPECT_FALSE(NormalizeUsername(std::string(65, 'a')).ok());
  EXPECT_TRUE(NormalizeUsername(std::string(64, 'a')).ok());
}

TEST(UserRules, LoginUsernameNamesOneAccountWhateverTheSpelling) {
  for (const char* n : {"alice", "ALICE", "@alice:acme.test", "@ALIce:acme.test", "@alice:ACME.Test"}) {
    auto r = LoginUsername(n, "acme.test");
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(*r, "alice") << n;
  }
  EXPECT_FALSE(LoginUsername("@alice:beta.test", "acme.test").ok());
  EXPECT_FALSE(LoginUsername("@alice", "acme.test").ok());
  EXPECT_FALSE(LoginUsername("@:acme.test", "acme.test").ok());
  EXPECT_FALSE(LoginUsername("al ice", "acme.test").ok());
}

TEST(UserRules, PasswordLengthCountsCharactersNotBytes) {
  EXPECT_FALSE(ValidatePassword("1234567").ok());
  EXPECT_TRUE(ValidatePassword("12345678").ok());
  // Four 4-byte characters are 16 bytes but only 4 characters.
  EXPECT_FALSE(ValidatePassword("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80").ok());
  std::string eight_emoji;
  for (int i = 0; i < 8; ++i) eight_emoji += "\xf0\x9f\x98\x80";
  EXPECT_TRUE(ValidatePassword(eight_emoji).ok());
  EXPECT_TRUE(ValidatePassword(std::string(1024, 'x')).ok());
  EXPECT_FALSE(ValidatePassword(std::string(1025, 'x')).ok());
  EXPECT_FALSE(ValidatePassword("abcdefg\xff").ok());  // invalid UTF-8
}

TEST(UserRules, DisplayNames) {
  EXPECT_TRUE(ValidateDisplayName("").ok());
  EXPECT_TRUE(ValidateDisplayName("Zoë 🚀 Ωmega").ok());
  std::string max;
  for (int i = 0; i < 256; ++i) max += "\xc3\xa9";  // 256 characters, 512 bytes
  EXPECT_TRUE(ValidateDisplayName(max).ok());
  EXPECT_FALSE(ValidateDisplayName(max + "x").ok());
  EXPECT_FALSE(ValidateDisplayName("a\nb").ok());
  EXPECT_FALSE(ValidateDisplayName(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ValidateDisplayName("a\xc2\x85" "b").ok());  // U+0085, a C1 control
  EXPECT_FALSE(ValidateDisplayName("\xed\xa0\x80").ok());    // a UTF-16 surrogate
  EXPECT_FALSE(ValidateDisplayName("\xc0\xaf").ok());        // overlong '/'
}

TEST(Utf8, LengthsAndRejections) {
  EXPECT_EQ(Utf8Length("").value(), 0u);
  EXPECT_EQ(Utf8Length("abc").value(), 3u);
  EXPECT_EQ(Utf8Length("\xe2\x82\xac").value(), 1u);
  EXPECT_EQ(Utf8Length("\xf4\x8f\xbf\xbf").value(), 1u);  // U+10FFFF
  EXPECT_FALSE(Utf8Length("\xf4\x90\x80\x80"));           // past U+10FFFF
  EXPECT_FALSE(Utf8Length("\xe2\x82"));                   // truncated
  EXPECT_FALSE(Utf8Length("\x80"));                       // lone continuation
  EXPECT_FALSE(Utf8Length("\xe0\x80\xaf"));               // overlong
}

TEST(Tokens, HashIsStableAndDistinct) {
  EXPECT_EQ(HashToken("gct_abc"), HashToken("gct_abc"));
  EXPECT_NE(HashToken("gct_abc"), HashToken("gct_abd"));
  EXPECT_EQ(HashToken("x").size(), 32u);
  // BLAKE2b-256 of the empty string, a published test value.
  std::string h = HashToken("");
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : h) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  EXPECT_EQ(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

}  // namespace
}  // namespace gc
