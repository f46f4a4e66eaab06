// MediaUrlSigner (services/media/media_url.h): a link verifies for exactly
// the media_id, user and expiry it was signed for, within its lifetime,
// under the key it was signed with; the node's key is derived the same way
// every time from the node's identity key.
#include "services/media/media_url.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

const std::string kId = "acme.test/Zk3aaaaaaaaaaaaaaaaaaaaaa";
const std::string kUser = "@alice:acme.test";
constexpr int64_t kNow = 1800000000;

TEST(MediaUrlSigner, VerifiesOnlyWhatWasSigned) {
  MediaUrlSigner s(std::string(32, 'k'));
  int64_t exp = kNow + 60;
  std::string sig = s.Sign(kId, kUser, exp);
  EXPECT_TRUE(s.Verify(kId, kUser, exp, sig, kNow));
  EXPECT_TRUE(s.Verify(kId, kUser, exp, sig, exp));  // the last second
  EXPECT_FALSE(s.Verify(kId, kUser, exp, sig, exp + 1));  // expired
  EXPECT_FALSE(s.Verify("acme.test/Zk3aaaaaaaaaaaaaaaaaaaaab", kUser, exp, sig, kNow));
  EXPECT_FALSE(s.Verify(kId, "@bob:acme.test", exp, sig, kNow));
  EXPECT_FALSE(s.Verify(kId, kUser, exp + 1, sig, kNow));
  EXPECT_FALSE(s.Verify(kId, kUser, exp, "", kNow));
  EXPECT_FALSE(s.Verify(kId, kUser, exp, "not base64url!", kNow));
  EXPECT_FALSE(s.Verify(kId, kUser, exp, sig.substr(0, sig.size() - 2), kNow));
  EXPECT_FALSE(MediaUrlSigner(std::string(32, 'j')).Verify(kId, kUser, exp, sig, kNow));
  // Fields cannot be shifted into one another.
  EXPECT_FALSE(s.Verify(kId + "\n" + kUser, "", exp, s.Sign(kId + "\n" + kUser, "", exp), kNow));
}

TEST(MediaUrlSigner, AnExpiryFurtherAheadThanALinkLivesIsRefused) {
  MediaUrlSigner s(std::string(32, 'k'));
  int64_t far = kNow + MediaUrlSigner::kLifetimeS + 1;
  EXPECT_FALSE(s.Verify(kId, kUser, far, s.Sign(kId, kUser, far), kNow));
  int64_t edge = kNow + MediaUrlSigner::kLifetimeS;
  EXPECT_TRUE(s.Verify(kId, kUser, edge, s.Sign(kId, kUser, edge), kNow));
}

TEST(MediaUrlSigner, PathNamesTheItemAndEncodesTheUser) {
  MediaUrlSigner s(std::string(32, 'k'));
  EXPECT_EQ(s.Path(kId, kUser, kNow), "/api/v1/media/" + kId + "/signed?u=%40alice%3Aacme.test&exp=" +
                                          std::to_string(kNow) + "&sig=" + s.Sign(kId, kUser, kNow));
}

TEST(MediaUrlSigner, TheNodeKeyIsDerivedTheSameWayEveryTime) {
  std::string identity(64, 'i');
  auto a = MediaUrlSigner::FromNodeKey(identity), b = MediaUrlSigner::FromNodeKey(identity);
  auto other = MediaUrlSigner::FromNodeKey(std::string(64, 'o'));
  std::string sig = a.Sign(kId, kUser, kNow);
  EXPECT_TRUE(b.Verify(kId, kUser, kNow, sig, kNow));
  EXPECT_FALSE(other.Verify(kId, kUser, kNow, sig, kNow));
  EXPECT_NE(sig, MediaUrlSigner(identity.substr(0, 32)).Sign(kId, kUser, kNow));
}

}  // namespace
}  // namespace gc
