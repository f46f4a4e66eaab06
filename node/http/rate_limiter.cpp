#include "node/http/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

namespace gc {

RateLimiter::RateLimiter(double rate, double burst, size_t max_keys)
    : rate_(rate), burst_(std::max(1.0, burst)), max_per_shard_(std::max<size_t>(16, max_keys / 16)) {}

bool RateLimiter::Allow(std::string_view key, double now_s, int* retry_after_s) {
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) Sweep(shard, now_s);
    it = shard.buckets.emplace(std::string(key), Bucket{burst_, now_s}).first;
  }
  Bucket& b = it->second;
  double elapsed = std::max(0.0, now_s - b.updated_s);
  b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  b.updated_s = now_s;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after_s) {
    double wait = rate_ > 0 ? (1.0 - b.tokens) / rate_ : 3600.0;
    *retry_after_s = std::max(1, static_cast<int>(std::ceil(wait)));
  }
  return false;
}

void RateLimiter::Sweep(Shard& shard, double now_s) {
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    double tokens = it->second.tokens + (now_s - it->second.updated_s) * rate_;
    if (tokens >= burst_) {
      it = shard.buckets.erase(it);
    } else {
      ++it;
    }
  }
  // Still full: every key is active. Forget the oldest half rather than grow
  // without bound (a forgotten key starts again with a full bucket).
  if (shard.buckets.size() >= max_per_shard_) {
    std::vector<double> ages;
    ages.reserve(shard.buckets.size());
    for (auto& [k, b] : shard.buckets) ages.push_back(b.updated_s);
    std::nth_element(ages.begin(), ages.begin() + ages.size() / 2, ages.end());
    double median = ages[ages.size() / 2];
    for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
      it = it->second.updated_s <= median ? shard.buckets.erase(it) : std::next(it);
    }
  }
}

size_t RateLimiter::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

double MonotonicSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace gc
