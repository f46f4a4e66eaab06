// rate_limits.*: the token buckets of the HTTP API.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

#define GC_BUCKET(name, what)                                                                 \
  Key{#name ".rate", DoubleField{GC_CONFIG_REF(rate_limits.name.rate), 0, true},              \
      "Tokens per second for " what "."},                                                     \
  Key{#name ".burst", DoubleField{GC_CONFIG_REF(rate_limits.name.burst), 1, false},           \
      "Bucket size for " what "."}

const Key kRateLimitsKeys[] = {
    {"enabled", BoolField{GC_CONFIG_REF(rate_limits.enabled)}, "false turns every rate limit off (benchmarks)."},
    GC_BUCKET(per_ip, "every API request, by client IP"),
    GC_BUCKET(per_user, "every authenticated request, by user"),
    GC_BUCKET(login_per_ip, "login attempts, by client IP"),
    GC_BUCKET(login_per_username, "login attempts, by the account the name denotes"),
    GC_BUCKET(register_per_ip, "registrations, by client IP"),
};

#undef GC_BUCKET

}  // namespace

Section RateLimitsConfigSection() {
  return {"rate_limits", "Token buckets: each request takes a token, an empty bucket answers 429.", kRateLimitsKeys};
}

}  // namespace gc::config
