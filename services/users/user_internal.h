// Helpers shared by the user service's source files (user_service.cpp,
// sessions.cpp); not part of its interface.
#pragma once

#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace gc::users_internal {

// How long a cached token is trusted before it is checked against the
// database again (bounds staleness across processes sharing a database).
inline constexpr int64_t kTokenCacheTtlS = 300;
inline constexpr size_t kMaxCachedTokens = 200000;
inline constexpr const char* kTokenPrefix = "gct_";


inline int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(strlen(out.c_str()));
  sodium_memzero(raw.data(), raw.size());
  return out;
}

}  // namespace gc::users_internal
