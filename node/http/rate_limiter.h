// Token-bucket rate limiting keyed by a string (an IP, a user id, a username).
//
// Each key has a bucket of `burst` tokens refilled at `rate` per second; a
// request takes one token or is refused with the seconds until one is back.
// Buckets live in 16 independently locked shards; a shard that grows past its
// share of `max_keys` drops the buckets that are full again (idle keys), so
// memory stays bounded under a flood of distinct keys.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gc {

class RateLimiter {
 public:
  RateLimiter(double rate, double burst, size_t max_keys = 100000);

  // Takes a token for `key` at time `now_s` (seconds, monotonic). Returns
  // true if allowed; otherwise false and *retry_after_s (>= 1) is set.
  bool Allow(std::string_view key, double now_s, int* retry_after_s);

  size_t size() const;  // keys tracked (for tests and metrics)

 private:
  struct Bucket {
    double tokens;
    double updated_s;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // GUARDED_BY(mu)
  };
  void Sweep(Shard& shard, double now_s);  // REQUIRES(shard.mu)

  double rate_;
  double burst_;
  size_t max_per_shard_;
  std::array<Shard, 16> shards_;
};

// Seconds on the monotonic clock, for RateLimiter::Allow.
double MonotonicSeconds();

}  // namespace gc
