#include "node/http/rate_limiter.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

TEST(RateLimiter, AllowsBurstThenRefuses) {
  RateLimiter l(1.0, 3.0);
  int retry = 0;
  EXPECT_TRUE(l.Allow("ip", 100.0, &retry));
  EXPECT_TRUE(l.Allow("ip", 100.0, &retry));
  EXPECT_TRUE(l.Allow("ip", 100.0, &retry));
  EXPECT_FALSE(l.Allow("ip", 100.0, &retry));
  EXPECT_EQ(retry, 1);
}

TEST(RateLimiter, RefillsAtRate) {
  RateLimiter l(2.0, 1.0);
  int retry = 0;
  EXPECT_TRUE(l.Allow("k", 10.0, &retry));
  EXPECT_FALSE(l.Allow("k", 10.2, &retry));  // 0.4 tokens
  EXPECT_TRUE(l.Allow("k", 10.5, &retry));   // 1.0 token after 0.5 s
  EXPECT_FALSE(l.Allow("k", 10.5, &retry));
}

TEST(RateLimiter, RetryAfterReflectsSlowRate) {
  RateLimiter l(0.1, 1.0);  // one token every 10 s
  int retry = 0;
  EXPECT_TRUE(l.Allow("u", 0.0, &retry));
  EXPECT_FALSE(l.Allow("u", 1.0, &retry));
  EXPECT_EQ(retry, 9);  // 0.9 token missing at 0.1/s
}

TEST(RateLimiter, KeysAreIndependent) {
  RateLimiter l(1.0, 1.0);
  int retry = 0;
  EXPECT_TRUE(l.Allow("a", 0.0, &retry));
  EXPECT_FALSE(l.Allow("a", 0.0, &retry));
  EXPECT_TRUE(l.Allow("b", 0.0, &retry));
}

TEST(RateLimiter, TokensNeverExceedBurst) {
  RateLimiter l(100.0, 2.0);
  int retry = 0;
  EXPECT_TRUE(l.Allow("k", 0.0, &retry));
  // A long pause refills to the burst only, not beyond.
  EXPECT_TRUE(l.Allow("k", 1000.0, &retry));
  EXPECT_TRUE(l.Allow("k", 1000.0, &retry));
  EXPECT_FALSE(l.Allow("k", 1000.0, &retry));
}

TEST(RateLimiter, MemoryStaysBoundedUnderDistinctKeys) {
  RateLimiter l(1.0, 5.0, /*max_keys=*/1600);
  int retry = 0;
  for (int i = 0; i < 50000; ++i) {
    // Every key is active (bucket not full), which forces the oldest-half eviction.
    ASSERT_TRUE(l.Allow("key" + std::to_string(i), i * 0.0001, &retry));
  }
  EXPECT_LE(l.size(), 1600u + 16u);
}

TEST(RateLimiter, ClockGoingBackwardsDoesNotMintTokens) {
  RateLimiter l(1.0, 1.0);
  int retry = 0;
  EXPECT_TRUE(l.Allow("k", 50.0, &retry));
  EXPECT_FALSE(l.Allow("k", 10.0, &retry));
}

}  // namespace
}  // namespace gc
